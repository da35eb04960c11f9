-- The stock ledger refuses UPDATE and DELETE in the database: a movement is corrected by
-- another movement, never by rewriting history (21 CFR 1304.21 for controlled substances).
-- Fired by the trigger inventory_stock_movement_append_only (inventory migration 0003)
-- BEFORE UPDATE OR DELETE ON inventory_stockmovement, FOR EACH ROW.
-- Installed by inventory migration 0008 (lib.migrations.RunSQLFile); a change is a new
-- migration that installs this file again.
CREATE OR REPLACE FUNCTION inventory_stock_movement_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the stock ledger is append-only: % on inventory_stockmovement is not allowed',
        TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
