"""Browser pages of the inventory app, one module per area.

``catalogue``: the catalogue search and a product's page.
``stock``: the stock home page, lots (quarantine, recall, release) and the expiry report.
``reorder``: reorder rules and reorder alerts.
``receiving``: the receiving station and a receipt's page.
``purchase_orders``: purchase orders and their receiving discrepancies.
``suppliers``: the supplier list and the forms to add or change a supplier.
``adjustments``: adjusting one lot by hand.
``counts``: blind cycle counts.
``controlled``: the controlled-substance perpetual and biennial inventories.
``_common``: helpers several of them share.

Every view is importable from here, as ``inventory/urls.py`` uses them.
"""

from inventory.views.adjustments import adjust
from inventory.views.catalogue import (
    catalogue_search,
    product_detail,
    product_storage,
    product_unit_description,
)
from inventory.views.controlled import controlled_biennial, controlled_inventory
from inventory.views.counts import (
    count_approve,
    count_cancel,
    count_detail,
    count_list,
    count_record,
    count_scan,
    count_submit,
)
from inventory.views.purchase_orders import (
    discrepancy_resolve,
    purchase_order_close,
    purchase_order_create,
    purchase_order_detail,
    purchase_order_list,
)
from inventory.views.receiving import receipt_detail, receiving, receiving_order, receiving_scan
from inventory.views.reorder import (
    reorder_alert_count,
    reorder_alert_move,
    reorder_alert_rows,
    reorder_alerts,
    reorder_rules,
)
from inventory.views.stock import expiry_report, lot_detail, lots, stock_home
from inventory.views.suppliers import supplier_create, supplier_edit, supplier_list

__all__ = [
    "adjust",
    "catalogue_search",
    "controlled_biennial",
    "controlled_inventory",
    "count_approve",
    "count_cancel",
    "count_detail",
    "count_list",
    "count_record",
    "count_scan",
    "count_submit",
    "discrepancy_resolve",
    "expiry_report",
    "lot_detail",
    "lots",
    "product_detail",
    "product_storage",
    "product_unit_description",
    "purchase_order_close",
    "purchase_order_create",
    "purchase_order_detail",
    "purchase_order_list",
    "receipt_detail",
    "receiving",
    "receiving_order",
    "receiving_scan",
    "reorder_alert_count",
    "reorder_alert_move",
    "reorder_alert_rows",
    "reorder_alerts",
    "reorder_rules",
    "stock_home",
    "supplier_create",
    "supplier_edit",
    "supplier_list",
]
