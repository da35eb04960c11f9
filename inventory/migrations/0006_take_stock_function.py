"""``inventory_take_stock``: the dispensing write of inventory.services.stock in one call.

Dispensing is the pharmacy's hottest write. As a function its statements are planned once
per connection (PL/pgSQL caches their plans), where sent as SQL they were planned on every
fill, which cost more than running them. It does what the Python caller decided, nothing
more: the caller has locked the lots (primary-key order) and chosen the quantities.

1. Decrement each lot and append its ledger row (one statement).
2. Lock the products' reorder rules, after the lots, in product order.
3. Count each rule's product's available units in a statement of its own: in a VOLATILE
   function every statement takes a new snapshot, so under READ COMMITTED the count sees
   what the transaction that held a rule lock before us committed (the same count as
   ``inventory.services.reorder`` made then; migration 0007 replaces this function).

Rows returned: ('movement', ledger row id, lot id, -, -) per lot, then
('rule', rule id, -, reorder point, available units) per rule of these products.
"""

from django.db import migrations

TAKE_STOCK = """
CREATE FUNCTION inventory_take_stock(
    lot_ids bigint[], quantities numeric[], product_ids bigint[], movement_kind text,
    movement_reason text, movement_reference text, actor bigint, taken_at timestamptz,
    available_status text, today date
) RETURNS TABLE (kind text, row_id bigint, lot bigint, reorder_point numeric, units numeric)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN QUERY
    WITH taking AS (
        SELECT * FROM unnest(lot_ids, quantities) AS t(lot_id, quantity)
    ), taken AS (
        UPDATE inventory_stocklot stock
        SET quantity_on_hand = stock.quantity_on_hand - taking.quantity
        FROM taking WHERE stock.id = taking.lot_id
        RETURNING stock.id AS lot_id, taking.quantity
    ), moved AS (
        INSERT INTO inventory_stockmovement
            (lot_id, kind, quantity_change, reason, reference, serial_numbers, actor_id,
             occurred_at)
        SELECT taken.lot_id, movement_kind, -taken.quantity, movement_reason,
               movement_reference, '{}', actor, taken_at
        FROM taken
        RETURNING inventory_stockmovement.id AS movement_id,
                  inventory_stockmovement.lot_id AS lot_id
    )
    SELECT 'movement'::text, moved.movement_id::bigint, moved.lot_id::bigint, NULL::numeric,
           NULL::numeric
    FROM moved;

    PERFORM 1 FROM inventory_reorderrule rule
    WHERE rule.product_id = ANY(product_ids) ORDER BY rule.product_id FOR UPDATE;

    RETURN QUERY
    SELECT 'rule'::text, rule.id::bigint, NULL::bigint, rule.reorder_point, (
        SELECT COALESCE(SUM(stock.quantity_on_hand), 0)
        FROM inventory_stocklot stock
        JOIN inventory_package package ON package.id = stock.package_id
        WHERE package.product_id = rule.product_id
          AND stock.status = available_status AND stock.expiry > today
    )
    FROM inventory_reorderrule rule WHERE rule.product_id = ANY(product_ids);
END
$$;
"""

DROP_TAKE_STOCK = """
DROP FUNCTION inventory_take_stock(
    bigint[], numeric[], bigint[], text, text, text, bigint, timestamptz, text, date
);
"""


class Migration(migrations.Migration):
    dependencies = [("inventory", "0005_reorder_alerts")]

    operations = [migrations.RunSQL(TAKE_STOCK, DROP_TAKE_STOCK)]
