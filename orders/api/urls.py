"""API endpoints of the orders app (DESIGN.md section 6).

``orders/<id>/`` and ``inventory/recalls/trace/`` are served by the shipping app
(``shipping/api/urls.py``), with the shipments this app cannot read."""

from django.urls import path

from orders.api import views
from orders.api.labels import FillLabelView
from orders.api.pdmp import FillPdmpCheckView
from orders.api.refills import RefillRequestView

urlpatterns = [
    path("erx/ncpdp/", views.NcpdpScriptView.as_view(), name="api_erx_ncpdp"),
    path("erx/fhir/", views.FhirMedicationRequestView.as_view(), name="api_erx_fhir"),
    path("prescriptions/", views.PrescriptionListView.as_view(), name="api_prescription_list"),
    path(
        "prescriptions/<int:pk>/",
        views.PrescriptionDetailView.as_view(),
        name="api_prescription_detail",
    ),
    path("refill-requests/", RefillRequestView.as_view(), name="api_refill_request"),
    path("fills/", views.FillListView.as_view(), name="api_fill_list"),
    path("fills/<int:pk>/", views.FillDetailView.as_view(), name="api_fill_detail"),
    path("fills/<int:pk>/pv1/", views.FillPV1View.as_view(), name="api_fill_pv1"),
    path("fills/<int:pk>/pdmp-check/", FillPdmpCheckView.as_view(), name="api_fill_pdmp_check"),
    path("fills/<int:pk>/fill/", views.FillFillView.as_view(), name="api_fill_fill"),
    path("fills/<int:pk>/pv2/", views.FillPV2View.as_view(), name="api_fill_pv2"),
    path("fills/<int:pk>/hold/", views.FillHoldView.as_view(), name="api_fill_hold"),
    path("fills/<int:pk>/release/", views.FillReleaseView.as_view(), name="api_fill_release"),
    path("fills/<int:pk>/claim/", views.FillClaimView.as_view(), name="api_fill_claim"),
    path("fills/<int:pk>/unclaim/", views.FillUnclaimView.as_view(), name="api_fill_unclaim"),
    path("fills/<int:pk>/label.pdf", FillLabelView.as_view(), name="api_fill_label"),
]
