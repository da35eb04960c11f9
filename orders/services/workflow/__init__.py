"""The fill workflow: PV1, the scan-verified fill, PV2, holds, claims and discrepancies.

Every public function is one business step (DESIGN.md section 2). Each takes the fill as
an object, locks its row (SELECT ... FOR UPDATE) and re-reads its status inside its own
transaction, then checks the move against ``FILL_MOVES`` and the actor's role; so of two
people racing on one fill the second is refused with the reason (``WorkflowError``)
instead of doing the work twice. Each status move writes a ``FillEvent`` in the same
transaction and clears the fill's claim; its side effects (the Rx label, the order's
shipment) are recorded in the outbox in the same transaction.

- ``helpers``: the state machine's constants, its errors, the checks of a move, and
  ``move_locked_fill``, the one writer of a status move (and the order-ready hand-off to
  shipping).
- ``moves``: ``transition_fill``, ``cancel_locked_fill``, what keeps a fill in intake.
- ``claims``: ``claim_fill``, ``unclaim_fill``.
- ``pv1``: ``approve_pv1``, ``reject_pv1``, ``record_pdmp_check``.
- ``filling``: ``fill_with_scan`` and what the fill station reads (``suggest_lot``).
- ``pv2``: ``approve_pv2``, ``reject_pv2``.
- ``holds``: ``hold_fill``, ``release_fill``.
- ``discrepancies``: ``record_discrepancy``, ``resolve_discrepancy``.
"""

from orders.services.workflow.claims import claim_fill, unclaim_fill
from orders.services.workflow.discrepancies import record_discrepancy, resolve_discrepancy
from orders.services.workflow.filling import (
    fill_with_scan,
    fillable_packages,
    suggest_lot,
    usable_until,
)
from orders.services.workflow.helpers import (
    DISPENSED_FIELDS,
    NEXT_STEP,
    ORDER_READY_EFFECT,
    STEP_SERVICES,
    ScanRefused,
    WorkflowError,
    move_locked_fill,
    orders_ready_to_pack,
)
from orders.services.workflow.holds import (
    PHARMACIST_RELEASED_HOLDS,
    Correction,
    hold_fill,
    release_fill,
)
from orders.services.workflow.moves import (
    NON_BLOCKING_ISSUES,
    blocking_intake_issues,
    cancel_locked_fill,
    transition_fill,
)
from orders.services.workflow.pv1 import Override, approve_pv1, record_pdmp_check, reject_pv1
from orders.services.workflow.pv2 import approve_pv2, check_scan_entry, reject_pv2

__all__ = [
    "DISPENSED_FIELDS",
    "PHARMACIST_RELEASED_HOLDS",
    "NEXT_STEP",
    "NON_BLOCKING_ISSUES",
    "ORDER_READY_EFFECT",
    "STEP_SERVICES",
    "Override",
    "Correction",
    "ScanRefused",
    "WorkflowError",
    "approve_pv1",
    "approve_pv2",
    "blocking_intake_issues",
    "cancel_locked_fill",
    "check_scan_entry",
    "claim_fill",
    "fill_with_scan",
    "fillable_packages",
    "hold_fill",
    "move_locked_fill",
    "orders_ready_to_pack",
    "record_discrepancy",
    "record_pdmp_check",
    "reject_pv1",
    "reject_pv2",
    "release_fill",
    "resolve_discrepancy",
    "suggest_lot",
    "transition_fill",
    "unclaim_fill",
    "usable_until",
]
