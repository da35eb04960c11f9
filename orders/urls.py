"""Browser pages of the orders app."""

from django.urls import path

from orders import views

urlpatterns = [
    # A patient page's merge: here, not in pharmacy, because a merge moves orders' rows.
    path("patients/merge/", views.patient_merge_start, name="patient_merge_start"),
    path("patients/<int:pk>/merge/", views.patient_merge, name="patient_merge"),
    path("intake/", views.intake_queue, name="intake_queue"),
    path("intake/rows/", views.intake_queue_rows, name="intake_queue_rows"),
    path("intake/new/", views.manual_entry, name="manual_entry"),
    path("intake/sig-preview/", views.sig_preview, name="sig_preview"),
    path("intake/patient-panel/", views.patient_panel, name="intake_patient_panel"),
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
    path(
        "scheduled-refills/<int:pk>/cancel/",
        views.scheduled_refill_cancel,
        name="scheduled_refill_cancel",
    ),
    path("labels/warnings/", views.warning_rules, name="warning_rules"),
    path("labels/warnings/<int:pk>/", views.warning_rule_edit, name="warning_rule_edit"),
    # Fill workflow (issue 5): the queues and the PV1, fill and PV2 work pages.
    path("queues/limits/", views.queue_limits, name="queue_limits"),
    path("fills/queue/<slug:status>/", views.fill_queue, name="fill_queue"),
    path("fills/queue/<slug:status>/rows/", views.fill_queue_rows, name="fill_queue_rows"),
    path("fills/queue/<slug:status>/open/", views.fill_queue_open, name="fill_queue_open"),
    path("fills/<int:pk>/", views.fill_detail, name="fill_detail"),
    path("fills/<int:pk>/claim/", views.fill_claim, name="fill_claim"),
    path("fills/<int:pk>/unclaim/", views.fill_unclaim, name="fill_unclaim"),
    path("fills/<int:pk>/pv1/", views.fill_pv1, name="fill_pv1"),
    path("fills/<int:pk>/pv1/reject/", views.fill_pv1_reject, name="fill_pv1_reject"),
    path("fills/<int:pk>/pv1/pdmp/", views.fill_pv1_pdmp, name="fill_pv1_pdmp"),
    path("fills/<int:pk>/fill/", views.fill_station, name="fill_station"),
    path("fills/<int:pk>/pv2/", views.fill_pv2, name="fill_pv2"),
    path("fills/<int:pk>/pv2/reject/", views.fill_pv2_reject, name="fill_pv2_reject"),
    path("fills/<int:pk>/hold/", views.fill_hold, name="fill_hold"),
    path("fills/<int:pk>/release/", views.fill_release, name="fill_release"),
]
