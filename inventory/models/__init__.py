"""The inventory app's models, one module per subject. Every model, QuerySet, status move
table and choice is importable from here (where Django and every caller look for them).

``catalogue``: products and packages by NDC, ingredients, pharmacologic classes, DEA
schedules, storage.
``stock``: suppliers, purchase orders, stock lots (their statuses and status changes)
and the movement ledger.
``receiving``: purchase-order events, receipts and receiving discrepancies.
``counts``: adjustment reasons and blind cycle counts.
``reorder``: reorder rules and reorder alerts.
"""

from inventory.models.catalogue import (
    DEASchedule,
    Ingredient,
    Package,
    PackageQuerySet,
    PharmacologicClass,
    Product,
    ProductIngredient,
    ProductQuerySet,
    Storage,
    format_strength,
    strength_pairs_of,
)
from inventory.models.counts import (
    ADJUSTMENT_MOVEMENT_KINDS,
    CYCLE_COUNT_MOVES,
    AdjustmentReason,
    CycleCount,
    CycleCountLine,
    CycleCountQuerySet,
)
from inventory.models.receiving import (
    PurchaseOrderEvent,
    Receipt,
    ReceiptLine,
    ReceivingDiscrepancy,
    ReceivingDiscrepancyQuerySet,
)
from inventory.models.reorder import (
    REORDER_ALERT_MOVES,
    ReorderAlert,
    ReorderAlertQuerySet,
    ReorderRule,
)
from inventory.models.stock import (
    PURCHASE_ORDER_MOVES,
    STOCK_LOT_MOVES,
    PurchaseOrder,
    PurchaseOrderLine,
    StockLot,
    StockLotQuerySet,
    StockLotStatusChange,
    StockMovement,
    Supplier,
)

__all__ = [
    "ADJUSTMENT_MOVEMENT_KINDS",
    "CYCLE_COUNT_MOVES",
    "PURCHASE_ORDER_MOVES",
    "REORDER_ALERT_MOVES",
    "STOCK_LOT_MOVES",
    "AdjustmentReason",
    "CycleCount",
    "CycleCountLine",
    "CycleCountQuerySet",
    "DEASchedule",
    "Ingredient",
    "Package",
    "PackageQuerySet",
    "PharmacologicClass",
    "Product",
    "ProductIngredient",
    "ProductQuerySet",
    "PurchaseOrder",
    "PurchaseOrderEvent",
    "PurchaseOrderLine",
    "Receipt",
    "ReceiptLine",
    "ReceivingDiscrepancy",
    "ReceivingDiscrepancyQuerySet",
    "ReorderAlert",
    "ReorderAlertQuerySet",
    "ReorderRule",
    "StockLot",
    "StockLotQuerySet",
    "StockLotStatusChange",
    "StockMovement",
    "Storage",
    "Supplier",
    "format_strength",
    "strength_pairs_of",
]
