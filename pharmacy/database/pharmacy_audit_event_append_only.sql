-- The audit trail refuses UPDATE and DELETE in the database itself, for every client of
-- the database, not only this application's Python code (HIPAA 45 CFR 164.312(b): audit
-- controls). Fired by the trigger pharmacy_audit_event_append_only (pharmacy migration
-- 0002) BEFORE UPDATE OR DELETE ON pharmacy_auditevent, FOR EACH ROW.
-- Installed by pharmacy migration 0009 (lib.migrations.RunSQLFile); a change is a new
-- migration that installs this file again.
CREATE OR REPLACE FUNCTION pharmacy_audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on pharmacy_auditevent is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
