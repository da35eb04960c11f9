"""The stock ledger refuses UPDATE and DELETE in the database: a movement is corrected by
another movement, never by rewriting history (21 CFR 1304.21 for controlled substances)."""

from django.db import migrations

APPEND_ONLY = """
CREATE FUNCTION inventory_stock_movement_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the stock ledger is append-only: % on inventory_stockmovement is not allowed',
        TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER inventory_stock_movement_append_only
    BEFORE UPDATE OR DELETE ON inventory_stockmovement
    FOR EACH ROW EXECUTE FUNCTION inventory_stock_movement_append_only();
"""

DROP_APPEND_ONLY = """
DROP TRIGGER inventory_stock_movement_append_only ON inventory_stockmovement;
DROP FUNCTION inventory_stock_movement_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("inventory", "0002_stock")]

    operations = [migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY)]
