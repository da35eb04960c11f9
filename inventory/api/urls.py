"""API endpoints of the inventory app."""

from django.urls import path

from inventory.api import views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="api_product_list"),
    path(
        "products/<str:product_ndc>/",
        views.ProductDetailView.as_view(),
        name="api_product_detail",
    ),
    path("packages/", views.PackageListView.as_view(), name="api_package_list"),
    path("inventory/receipts/", views.ReceiptListView.as_view(), name="api_receipt_list"),
    path(
        "inventory/receipts/<int:pk>/",
        views.ReceiptDetailView.as_view(),
        name="api_receipt_detail",
    ),
    path("inventory/lots/", views.StockLotListView.as_view(), name="api_stock_lot_list"),
    path("inventory/suppliers/", views.SupplierListView.as_view(), name="api_supplier_list"),
    path(
        "inventory/suppliers/<int:pk>/",
        views.SupplierDetailView.as_view(),
        name="api_supplier_detail",
    ),
    path(
        "inventory/reorder-rules/",
        views.ReorderRuleListView.as_view(),
        name="api_reorder_rule_list",
    ),
    path(
        "inventory/reorder-alerts/",
        views.ReorderAlertListView.as_view(),
        name="api_reorder_alert_list",
    ),
    path(
        "inventory/reorder-alerts/<int:pk>/",
        views.ReorderAlertDetailView.as_view(),
        name="api_reorder_alert_detail",
    ),
    path(
        "inventory/reorder-alerts/<int:pk>/acknowledge/",
        views.ReorderAlertAcknowledgeView.as_view(),
        name="api_reorder_alert_acknowledge",
    ),
    path(
        "inventory/reorder-alerts/<int:pk>/close/",
        views.ReorderAlertCloseView.as_view(),
        name="api_reorder_alert_close",
    ),
    path("inventory/recalls/", views.RecallView.as_view(), name="api_recall"),
    # inventory/recalls/trace/ is routed by orders.api.urls: its rows name fills and patients.
]
