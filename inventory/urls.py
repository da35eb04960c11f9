"""Browser pages of the inventory app: the catalogue, and the stock pages under stock/."""

from django.urls import path

from inventory import views

urlpatterns = [
    path("", views.catalogue_search, name="catalogue_search"),
    path("stock/", views.stock_home, name="stock_home"),
    path("<str:product_ndc>/", views.product_detail, name="product_detail"),
    path("<str:product_ndc>/storage/", views.product_storage, name="product_storage"),
    path(
        "<str:product_ndc>/unit-description/",
        views.product_unit_description,
        name="product_unit_description",
    ),
    # Stock: reorder rules and alerts, expiry, lots (quarantine, recall). Two segments, so
    # none of them is mistaken for a product NDC above.
    path("stock/reorder-rules/", views.reorder_rules, name="reorder_rules"),
    path("stock/reorder-alerts/", views.reorder_alerts, name="reorder_alerts"),
    path("stock/reorder-alerts/rows/", views.reorder_alert_rows, name="reorder_alert_rows"),
    path("stock/reorder-alerts/count/", views.reorder_alert_count, name="reorder_alert_count"),
    path(
        "stock/reorder-alerts/<int:pk>/acknowledge/",
        views.reorder_alert_move,
        {"move": "acknowledge"},
        name="reorder_alert_acknowledge",
    ),
    path(
        "stock/reorder-alerts/<int:pk>/close/",
        views.reorder_alert_move,
        {"move": "close"},
        name="reorder_alert_close",
    ),
    path("stock/expiry/", views.expiry_report, name="expiry_report"),
    path("stock/lots/", views.lots, name="lots"),
    path("stock/lots/<int:pk>/", views.lot_detail, name="lot_detail"),
    # Receiving, purchase orders, adjustments, cycle counts, controlled substances.
    path("stock/receiving/", views.receiving, name="receiving"),
    path("stock/receiving/scan/", views.receiving_scan, name="receiving_scan"),
    path("stock/receiving/order/", views.receiving_order, name="receiving_order"),
    path("stock/receipts/<int:pk>/", views.receipt_detail, name="receipt_detail"),
    path("stock/purchase-orders/", views.purchase_order_list, name="purchase_order_list"),
    path("stock/purchase-orders/new/", views.purchase_order_create, name="purchase_order_create"),
    path(
        "stock/purchase-orders/<int:pk>/",
        views.purchase_order_detail,
        name="purchase_order_detail",
    ),
    path(
        "stock/purchase-orders/<int:pk>/close/",
        views.purchase_order_close,
        name="purchase_order_close",
    ),
    path(
        "stock/discrepancies/<int:pk>/resolve/",
        views.discrepancy_resolve,
        name="discrepancy_resolve",
    ),
    path("stock/suppliers/", views.supplier_list, name="supplier_list"),
    path("stock/suppliers/new/", views.supplier_create, name="supplier_create"),
    path("stock/suppliers/<int:pk>/", views.supplier_edit, name="supplier_edit"),
    path("stock/adjustments/", views.adjust, name="adjust"),
    path("stock/counts/", views.count_list, name="count_list"),
    path("stock/counts/<int:pk>/", views.count_detail, name="count_detail"),
    path("stock/counts/<int:pk>/scan/", views.count_scan, name="count_scan"),
    path(
        "stock/counts/<int:pk>/lines/<int:line_pk>/",
        views.count_record,
        name="count_record",
    ),
    path("stock/counts/<int:pk>/submit/", views.count_submit, name="count_submit"),
    path("stock/counts/<int:pk>/approve/", views.count_approve, name="count_approve"),
    path("stock/counts/<int:pk>/cancel/", views.count_cancel, name="count_cancel"),
    path("stock/controlled/", views.controlled_inventory, name="controlled_inventory"),
    path("stock/controlled/biennial/", views.controlled_biennial, name="controlled_biennial"),
]
