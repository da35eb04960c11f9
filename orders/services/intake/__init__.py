"""Intake: prescriptions received, refill requests, prescribers' cancellations, and the
intake queue.

- ``receiving``: ``receive_prescription`` and the rules every channel's prescription
  meets (``check_schedule_rules``).
- ``refills``: ``request_refill``.
- ``scheduled_refills``: ``schedule_refill`` (a refill asked for too soon, made on its
  date) and ``queue_scheduled_refill`` (the beat task's step).
- ``cancel_rx``: ``cancel_prescription_for_prescriber`` (NCPDP CancelRx).
- ``verbal_orders``: ``VerbalOrder``, the caller of a phone order and the pharmacist who
  took it, checked by ``receive_prescription``.
- ``queue``: ``resolve_intake``, the technician's resolution of what holds a prescription.

Intake builds on three services that the workflow uses too, so they sit beside both and
are re-exported here for callers: ``orders.services.fills`` (``create_fill``,
``next_fill_number``), ``orders.services.drug_checks`` (``run_drug_checks``) and the
workflow's ``blocking_intake_issues``. Intake imports the workflow, never the reverse.
"""

from orders.services.drug_checks import run_drug_checks
from orders.services.fills import create_fill, next_fill_number
from orders.services.intake.cancel_rx import CancelOutcome, cancel_prescription_for_prescriber
from orders.services.intake.queue import IntakeResolutionError, resolve_intake
from orders.services.intake.receiving import (
    MAX_DAYS_SUPPLY,
    MAX_QUANTITY,
    MAX_REFILLS,
    MAX_REFILLS_NON_CONTROLLED,
    IntakeResult,
    check_schedule_rules,
    receive_prescription,
)
from orders.services.intake.refills import RefillRefused, request_refill
from orders.services.intake.scheduled_refills import queue_scheduled_refill, schedule_refill
from orders.services.intake.verbal_orders import VerbalOrder, pharmacist_required_for
from orders.services.workflow import NON_BLOCKING_ISSUES, blocking_intake_issues

__all__ = [
    "MAX_DAYS_SUPPLY",
    "MAX_QUANTITY",
    "MAX_REFILLS",
    "MAX_REFILLS_NON_CONTROLLED",
    "NON_BLOCKING_ISSUES",
    "CancelOutcome",
    "IntakeResolutionError",
    "IntakeResult",
    "RefillRefused",
    "VerbalOrder",
    "blocking_intake_issues",
    "cancel_prescription_for_prescriber",
    "check_schedule_rules",
    "create_fill",
    "next_fill_number",
    "pharmacist_required_for",
    "receive_prescription",
    "queue_scheduled_refill",
    "request_refill",
    "resolve_intake",
    "run_drug_checks",
    "schedule_refill",
]
