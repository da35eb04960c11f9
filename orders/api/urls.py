"""API endpoints of the orders app (DESIGN.md section 6)."""

from django.urls import path

from orders.api import views

urlpatterns = [
    path("erx/ncpdp/", views.NcpdpScriptView.as_view(), name="api_erx_ncpdp"),
    path("erx/fhir/", views.FhirMedicationRequestView.as_view(), name="api_erx_fhir"),
    path("prescriptions/", views.PrescriptionListView.as_view(), name="api_prescription_list"),
    path(
        "prescriptions/<int:pk>/",
        views.PrescriptionDetailView.as_view(),
        name="api_prescription_detail",
    ),
    path("refill-requests/", views.RefillRequestView.as_view(), name="api_refill_request"),
]
