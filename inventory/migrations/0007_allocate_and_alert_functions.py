"""Stock functions that make an allocation one statement, reorder alert included.

``inventory_raise_reorder_alerts``: the reorder check of ``inventory.services.reorder``
(which calls it) in the database. It locks the products' ReorderRule rows in product
order, counts each product's available units in a statement of its own (in a VOLATILE
function every statement takes a new snapshot, so under READ COMMITTED the count sees
what the transaction that held a rule lock before us committed), and inserts an alert,
with its suggested purchase order, for each product below its point that has no current
(open or acknowledged) alert. Returns the new alerts' ids.

``inventory_take_stock`` (migration 0006) is made again to end with that function, so a
dispensing writes its alert in the same transaction as its stock change.

``inventory_allocate``: allocation for dispensing (``inventory.services.stock``) in one
call. It used to be three round trips inside its transaction: lock the candidate lots,
let Python choose first-expiring-first, then ``inventory_take_stock``. The choice is
arithmetic over the rows just locked, so the database makes it too, and a call outside
any transaction is a single statement, committed on its own:

1. Lock every dispensable lot of these packages (available, units on hand, expiring
   after ``usable_until``) in primary-key order, the order every stock writer locks in.
2. Take from them in (expiry, id) order until ``wanted`` is reached (the rows the lock
   returns are as the last holder of their locks left them).
3. Too few usable units: one row ('short', -, -, -, usable units) and nothing written.
   Else ``inventory_take_stock`` with the chosen lots and quantities.

All three run with ``plan_cache_mode = force_generic_plan``: PL/pgSQL keeps each
statement's plan, but PostgreSQL would still plan these again on every call for the
values given (a custom plan), and planning them costs more than running them: half of
an allocation's time. Their parameters are ids and today's date, for which one plan
(index scans on the ids) is always right.

Rows of the last two: ('movement', ledger row id, lot id, quantity taken, units left) per
lot, in the order of ``lot_ids``, then ('alert', reorder alert id, -, -, -) per new alert.
"""

from django.db import migrations

RAISE_REORDER_ALERTS = """
CREATE FUNCTION inventory_raise_reorder_alerts(
    product_ids bigint[], available_status text, today date, raised_at timestamptz
) RETURNS TABLE (alert_id bigint)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    below_ids bigint[];
BEGIN
    PERFORM 1 FROM inventory_reorderrule rule
    WHERE rule.product_id = ANY(product_ids) ORDER BY rule.product_id FOR UPDATE;

    -- Nearly always none: this short statement is all a dispensing then runs (planning
    -- the insert below costs more than running it, on every call).
    SELECT array_agg(rule.product_id) INTO below_ids
    FROM inventory_reorderrule rule
    WHERE rule.product_id = ANY(product_ids)
      AND (
          SELECT COALESCE(SUM(stock.quantity_on_hand), 0)
          FROM inventory_stocklot stock
          JOIN inventory_package package ON package.id = stock.package_id
          WHERE package.product_id = rule.product_id
            AND stock.status = available_status AND stock.expiry > today
      ) < rule.reorder_point
      AND NOT EXISTS (
          SELECT 1 FROM inventory_reorderalert current_alert
          WHERE current_alert.product_id = rule.product_id
            AND current_alert.status IN ('open', 'acknowledged')
      );
    IF below_ids IS NULL THEN
        RETURN;
    END IF;

    RETURN QUERY
    WITH counted AS (
        SELECT rule.*, (
            SELECT COALESCE(SUM(stock.quantity_on_hand), 0)
            FROM inventory_stocklot stock
            JOIN inventory_package package ON package.id = stock.package_id
            WHERE package.product_id = rule.product_id
              AND stock.status = available_status AND stock.expiry > today
        ) AS available
        FROM inventory_reorderrule rule WHERE rule.product_id = ANY(below_ids)
    ), below AS (
        -- Up to the par level when there is one, else the reorder quantity; in the
        -- rule's package, else the product's largest package that is not a sample.
        SELECT counted.*,
               COALESCE(counted.par_level - counted.available, counted.reorder_quantity)
                   AS units,
               COALESCE(counted.order_package_id, (
                   SELECT package.id FROM inventory_package package
                   WHERE package.product_id = counted.product_id
                     AND NOT package.is_sample AND package.quantity > 0
                   ORDER BY package.quantity DESC, package.package_ndc LIMIT 1
               )) AS package_id
        FROM counted
        WHERE counted.available < counted.reorder_point
          AND NOT EXISTS (
              SELECT 1 FROM inventory_reorderalert current_alert
              WHERE current_alert.product_id = counted.product_id
                AND current_alert.status IN ('open', 'acknowledged')
          )
    ), raised AS (
        INSERT INTO inventory_reorderalert
            (product_id, rule_id, status, reorder_point, available_at_crossing,
             suggested_quantity, suggested_package_id, suggested_packages,
             suggested_supplier_id, lead_time_days, raised_at, email_recipients, close_note)
        SELECT below.product_id, below.id, 'open', below.reorder_point, below.available,
               below.units, below.package_id,
               CASE WHEN package.quantity <> 0
                    THEN GREATEST(1, CEIL(below.units / package.quantity))::integer END,
               below.preferred_supplier_id,
               COALESCE(below.lead_time_days, supplier.lead_time_days), raised_at, '', ''
        FROM below
        LEFT JOIN inventory_package package ON package.id = below.package_id
        LEFT JOIN inventory_supplier supplier ON supplier.id = below.preferred_supplier_id
        ORDER BY below.product_id
        -- The partial unique constraint (one current alert a product) backs the rule lock.
        ON CONFLICT DO NOTHING
        RETURNING inventory_reorderalert.id
    )
    SELECT raised.id FROM raised;
END
$$;
"""

DROP_RAISE_REORDER_ALERTS = """
DROP FUNCTION inventory_raise_reorder_alerts(bigint[], text, date, timestamptz);
"""

ALLOCATE = """
CREATE FUNCTION inventory_allocate(
    package_ids bigint[], wanted numeric, usable_until date, product_ids bigint[],
    movement_kind text, movement_reason text, movement_reference text, actor bigint,
    taken_at timestamptz, available_status text, today date
) RETURNS TABLE (kind text, row_id bigint, lot bigint, quantity numeric, units numeric)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    lot_ids bigint[];
    on_hand numeric[];
    usable numeric := 0;
    remaining numeric := wanted;
    take_ids bigint[] := '{}';
    take_quantities numeric[] := '{}';
    taking numeric;
BEGIN
    -- Locked in primary-key order; the rows FOR UPDATE returns are their latest versions
    -- (as the last holder of their locks left them), listed first-expiring-first.
    SELECT array_agg(locked.id ORDER BY locked.expiry, locked.id),
           array_agg(locked.quantity_on_hand ORDER BY locked.expiry, locked.id)
    INTO lot_ids, on_hand
    FROM (
        SELECT stock.id, stock.expiry, stock.quantity_on_hand
        FROM inventory_stocklot stock
        WHERE stock.package_id = ANY(package_ids) AND stock.status = available_status
          AND stock.quantity_on_hand > 0 AND stock.expiry > usable_until
        ORDER BY stock.id
        FOR UPDATE
    ) locked;

    FOR position IN 1 .. COALESCE(array_length(lot_ids, 1), 0) LOOP
        usable := usable + on_hand[position];
        IF remaining > 0 THEN
            taking := LEAST(on_hand[position], remaining);
            take_ids := take_ids || lot_ids[position];
            take_quantities := take_quantities || taking;
            remaining := remaining - taking;
        END IF;
    END LOOP;

    IF usable < wanted THEN
        RETURN QUERY SELECT 'short'::text, NULL::bigint, NULL::bigint, NULL::numeric, usable;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM inventory_take_stock(
        take_ids, take_quantities, product_ids, movement_kind, movement_reason,
        movement_reference, actor, taken_at, available_status, today
    );
END
$$;
"""

DROP_ALLOCATE = """
DROP FUNCTION inventory_allocate(
    bigint[], numeric, date, bigint[], text, text, text, bigint, timestamptz, text, date
);
"""

# Migration 0006's function, its 'movement' rows now carrying the quantity and units left,
# and the reorder alerts raised by the function above.
TAKE_STOCK_WITH_ALERTS = """
DROP FUNCTION inventory_take_stock(
    bigint[], numeric[], bigint[], text, text, text, bigint, timestamptz, text, date
);
CREATE FUNCTION inventory_take_stock(
    lot_ids bigint[], quantities numeric[], product_ids bigint[], movement_kind text,
    movement_reason text, movement_reference text, actor bigint, taken_at timestamptz,
    available_status text, today date
) RETURNS TABLE (kind text, row_id bigint, lot bigint, quantity numeric, units numeric)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN QUERY
    WITH taking AS (
        SELECT * FROM unnest(lot_ids, quantities) AS t(lot_id, quantity)
    ), taken AS (
        UPDATE inventory_stocklot stock
        SET quantity_on_hand = stock.quantity_on_hand - taking.quantity
        FROM taking WHERE stock.id = taking.lot_id
        RETURNING stock.id AS lot_id, taking.quantity, stock.quantity_on_hand AS units_left
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
    SELECT 'movement'::text, moved.movement_id::bigint, moved.lot_id::bigint, taken.quantity,
           taken.units_left
    FROM moved JOIN taken ON taken.lot_id = moved.lot_id
    ORDER BY array_position(lot_ids, moved.lot_id);  -- the caller's order

    RETURN QUERY
    SELECT 'alert'::text, alert.alert_id, NULL::bigint, NULL::numeric, NULL::numeric
    FROM inventory_raise_reorder_alerts(product_ids, available_status, today, taken_at) alert;
END
$$;
"""


def _take_stock_of_0006() -> str:
    """Back to migration 0006's function."""
    from importlib import import_module  # noqa: PLC0415 (a module name starting with a digit)

    migration = import_module("inventory.migrations.0006_take_stock_function")
    return migration.DROP_TAKE_STOCK + migration.TAKE_STOCK


class Migration(migrations.Migration):
    dependencies = [("inventory", "0006_take_stock_function")]

    operations = [
        migrations.RunSQL(RAISE_REORDER_ALERTS, DROP_RAISE_REORDER_ALERTS),
        migrations.RunSQL(TAKE_STOCK_WITH_ALERTS, _take_stock_of_0006()),
        migrations.RunSQL(ALLOCATE, DROP_ALLOCATE),
    ]
