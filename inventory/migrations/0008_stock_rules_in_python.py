"""Dispensing and the reorder check in the ORM only; the ledger's trigger function from its file.

1. Drop the database functions of migrations 0006 and 0007, ``inventory_allocate``,
   ``inventory_take_stock`` and ``inventory_raise_reorder_alerts``: each restated in SQL
   a rule the ORM states too (which lots may be dispensed, first-expiring-first, a
   product's available units, the suggested purchase order). Those rules now live once,
   in ``inventory.models.StockLotQuerySet`` and ``inventory.services.reorder``, and
   dispensing is ``inventory.services.stock.dispense_from_lot`` in the ORM. Reversed,
   the functions come back as migrations 0006 and 0007 made them.
2. Install ``inventory_stock_movement_append_only``, the stock ledger's trigger function,
   from ``inventory/database/inventory_stock_movement_append_only.sql`` (the text of
   migration 0003, unchanged): from now on the file is its source, and a change to it is
   a new migration that installs the file again.

Migration 0007 was rewritten after it had landed; migrations are never edited again
(README, "Contributor notes").
"""

from importlib import import_module

from django.db import migrations

from lib.migrations import RunSQLFile

# Module names starting with a digit: imported by name.
take_stock_0006 = import_module("inventory.migrations.0006_take_stock_function")
functions_0007 = import_module("inventory.migrations.0007_allocate_and_alert_functions")


class Migration(migrations.Migration):
    dependencies = [("inventory", "0007_allocate_and_alert_functions")]

    operations = [
        migrations.RunSQL(functions_0007.DROP_ALLOCATE, functions_0007.ALLOCATE),
        migrations.RunSQL(
            take_stock_0006.DROP_TAKE_STOCK,
            # 0006's function, then 0007's replacement of it.
            take_stock_0006.TAKE_STOCK + functions_0007.TAKE_STOCK_WITH_ALERTS,
        ),
        migrations.RunSQL(
            functions_0007.DROP_RAISE_REORDER_ALERTS, functions_0007.RAISE_REORDER_ALERTS
        ),
        RunSQLFile(
            "inventory/database/inventory_stock_movement_append_only.sql",
            # Migration 0003 installed the same text.
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
