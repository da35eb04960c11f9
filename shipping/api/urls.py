"""API endpoints of the shipping app (DESIGN.md section 6), and the orders app's order
and recall trace paths, served here with the shipments the orders app cannot read."""

from django.urls import path

from shipping.api import views

urlpatterns = [
    path("shipments/", views.ShipmentListView.as_view(), name="api_shipment_list"),
    path("shipments/blocked/", views.BlockedOrderListView.as_view(), name="api_shipment_blocked"),
    path("shipments/hand-over/", views.HandOverView.as_view(), name="api_shipment_hand_over"),
    path("shipments/<int:pk>/", views.ShipmentDetailView.as_view(), name="api_shipment_detail"),
    path("shipments/<int:pk>/pack/", views.ShipmentPackView.as_view(), name="api_shipment_pack"),
    path(
        "shipments/<int:pk>/label/", views.ShipmentBuyLabelView.as_view(), name="api_shipment_buy"
    ),
    path(
        "shipments/<int:pk>/label.pdf", views.ShipmentLabelView.as_view(), name="api_shipment_label"
    ),
    path(
        "shipments/<int:pk>/unpack/", views.ShipmentUnpackView.as_view(), name="api_shipment_unpack"
    ),
    path(
        "shipments/<int:pk>/exceptions/",
        views.ShipmentExceptionView.as_view(),
        name="api_shipment_exception",
    ),
    path(
        "delivery-exceptions/",
        views.DeliveryExceptionListView.as_view(),
        name="api_delivery_exception_list",
    ),
    path(
        "delivery-exceptions/<int:pk>/resolve/",
        views.DeliveryExceptionResolveView.as_view(),
        name="api_delivery_exception_resolve",
    ),
    path(
        "shipping/events/<str:carrier>/",
        views.CarrierEventView.as_view(),
        name="api_carrier_event",
    ),
    path("orders/<int:pk>/", views.OrderWithShipmentsView.as_view(), name="api_order_detail"),
    path(
        "inventory/recalls/trace/",
        views.RecallTraceWithShipmentsView.as_view(),
        name="api_recall_trace",
    ),
]
