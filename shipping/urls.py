"""Browser pages of the shipping app (under /shipping/)."""

from django.urls import path

from shipping import views

urlpatterns = [
    path("", views.shipping_home, name="shipping_home"),
    path("list/<slug:status>/", views.shipment_list, name="shipment_list"),
    path("list/<slug:status>/rows/", views.shipment_list_rows, name="shipment_list_rows"),
    path("cannot-ship/", views.cannot_ship, name="cannot_ship"),
    path("<int:pk>/", views.shipment_detail, name="shipment_detail"),
    path(
        "<int:pk>/exceptions/new/",
        views.shipment_report_exception,
        name="shipment_report_exception",
    ),
    path("exceptions/<int:pk>/resolve/", views.exception_resolve, name="exception_resolve"),
    path(
        "<int:pk>/documents/<int:document_id>.pdf",
        views.shipment_document,
        name="shipment_document",
    ),
    path("<int:pk>/packing-slip.pdf", views.shipment_packing_slip, name="shipment_packing_slip"),
    path("<int:pk>/label-status/", views.shipment_label_status, name="shipment_label_status"),
    path("<int:pk>/hand-over/", views.shipment_hand_over, name="shipment_hand_over"),
    path("hand-over/", views.hand_over_scan, name="hand_over_scan"),
    path("pack/", views.packing_start, name="packing_start"),
    path("<int:pk>/pack/", views.packing_station, name="packing_station"),
    path("labels/", views.label_batches, name="label_batches"),
    path("labels/<int:pk>/", views.label_batch, name="label_batch"),
    path("labels/<int:pk>/progress/", views.label_batch_poll, name="label_batch_progress"),
    path("labels/<int:pk>/labels.pdf", views.label_batch_pdf, name="label_batch_pdf"),
    path("manifests/", views.manifests, name="manifests"),
    path("manifests/<int:pk>/manifest.pdf", views.manifest_pdf, name="manifest_pdf"),
    path("manifests/<int:pk>/manifest.csv", views.manifest_csv, name="manifest_csv"),
    path("rules/", views.shipping_rules, name="shipping_rules"),
    path("rules/services/<int:pk>/", views.carrier_service_edit, name="carrier_service_edit"),
    path("rules/holidays/", views.carrier_holiday_add, name="carrier_holiday_add"),
    path(
        "rules/holidays/<int:pk>/remove/",
        views.carrier_holiday_remove,
        name="carrier_holiday_remove",
    ),
]
