"""Browser pages of the orders app, one module per area:

``intake``: the intake queue and the page that resolves a received prescription.
``entry``: manual entry of phone and fax prescriptions, with the patient panel and the
  sig preview.
``pickers``: the search-as-you-type pickers of patients, prescribers and drugs.
``prescriptions``: the prescription page and its original document.
``refills``: refills requested by phone.
``queues``: the fill queues, and what other pages need to know of them.
``claims``: claiming a fill from its queue, putting it back, the next one after a step.
``work``: the work pages of the fill workflow (PV1, the fill station, PV2).
``holds``: holds, releases and a fill's summary page.
``patient_merge``: merging two records of one patient.
``warning_rules``: the auxiliary warning rules of the Rx label.
``queue_limits``: the managers' wait limits of the queues.
``_common``: the permissions and the quantity wording they share.

Every page that shows a patient's data writes one audit row. The names below are the
pages ``orders.urls`` routes to and what other apps use; the page sizes and the count
cap stay in their modules (patch them there).
"""

from orders.views._common import TECHNICIAN_WORK, VERIFY_WORK
from orders.views.claims import fill_claim, fill_queue_open, fill_unclaim
from orders.views.entry import manual_entry, patient_panel, sig_preview
from orders.views.holds import fill_detail, fill_hold, fill_release
from orders.views.intake import intake_detail, intake_queue, intake_queue_rows
from orders.views.patient_merge import patient_merge, patient_merge_start
from orders.views.pickers import search_drugs, search_patients, search_prescribers
from orders.views.prescriptions import prescription_detail, prescription_original
from orders.views.queue_limits import queue_limits
from orders.views.queues import (
    FILL_QUEUES,
    WORK_PAGE_LABELS,
    WORK_PAGES,
    FillQueue,
    age_words,
    claimed_by_someone_else,
    fill_queue,
    fill_queue_rows,
    fill_work_url,
    step_words,
)
from orders.views.refills import refill_request, scheduled_refill_cancel
from orders.views.warning_rules import warning_rule_edit, warning_rules
from orders.views.work import (
    fill_pv1,
    fill_pv1_pdmp,
    fill_pv1_reject,
    fill_pv2,
    fill_pv2_reject,
    fill_station,
    readable_raw_message,
)

__all__ = [
    "FILL_QUEUES",
    "TECHNICIAN_WORK",
    "VERIFY_WORK",
    "WORK_PAGES",
    "WORK_PAGE_LABELS",
    "FillQueue",
    "age_words",
    "claimed_by_someone_else",
    "fill_claim",
    "fill_detail",
    "fill_hold",
    "fill_pv1",
    "fill_pv1_pdmp",
    "fill_pv1_reject",
    "fill_pv2",
    "fill_pv2_reject",
    "fill_queue",
    "fill_queue_open",
    "fill_queue_rows",
    "fill_release",
    "fill_station",
    "fill_unclaim",
    "fill_work_url",
    "intake_detail",
    "intake_queue",
    "intake_queue_rows",
    "patient_merge",
    "patient_merge_start",
    "manual_entry",
    "patient_panel",
    "prescription_detail",
    "prescription_original",
    "queue_limits",
    "readable_raw_message",
    "refill_request",
    "search_drugs",
    "search_patients",
    "scheduled_refill_cancel",
    "search_prescribers",
    "sig_preview",
    "warning_rule_edit",
    "warning_rules",
    "step_words",
]
