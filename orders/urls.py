"""Browser pages of the orders app."""

from django.urls import path

from orders import views

urlpatterns = [
    path("intake/", views.intake_queue, name="intake_queue"),
    path("intake/rows/", views.intake_queue_rows, name="intake_queue_rows"),
    path("intake/new/", views.manual_entry, name="manual_entry"),
    path("intake/sig-preview/", views.sig_preview, name="sig_preview"),
    path("intake/search/patients/", views.search_patients, name="intake_search_patients"),
    path("intake/search/prescribers/", views.search_prescribers, name="intake_search_prescribers"),
    path("intake/search/drugs/", views.search_drugs, name="intake_search_drugs"),
    path("intake/<int:pk>/", views.intake_detail, name="intake_detail"),
    path("prescriptions/<int:pk>/", views.prescription_detail, name="prescription_detail"),
    path(
        "prescriptions/<int:pk>/original/",
        views.prescription_original,
        name="prescription_original",
    ),
    path("refills/", views.refill_request, name="refill_request"),
]
