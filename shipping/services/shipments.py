"""Shipments: made when an order is ready, packed by scan, labelled by a carrier, handed
over, tracked by the carrier's webhooks, and reshipped after a delivery exception.

Every function here is one business step. Each locks the shipment row (SELECT ... FOR
UPDATE) and re-reads its status in its own transaction, checks the move against
``SHIPMENT_MOVES`` and the actor's role, writes a ``ShipmentEvent`` for every status
change in the same transaction, and schedules side effects (documents, the patient's
e-mail) only after commit. Fills move through ``orders.services.workflow.transition_fill``
(ready to pack -> packed at packing, packed -> shipped at hand-over).

Choices where the issue is silent:

* **Shipments are made when an order becomes ready, never by a read.** The fill workflow
  queues ``create_shipment_for_order_task`` (by name: ``orders`` cannot import us) after
  the commit of the move that leaves an order ready to pack: PV2 approval of its last
  fill, a release from hold back to ready to pack, the cancellation of the last fill
  that was not ready. ``create_shipment_for_order`` then makes that order's shipment.
  ``ensure_shipments_for_ready_orders`` is kept only as the catch-up Celery beat runs
  every 30 s, for the shipments whose task never came: the broker down at the commit, two
  pharmacists approving an order's last two fills at the same instant (each sees the
  other's fill still at PV2), fills cancelled outside the workflow (a prescriber's
  CancelRx), and orders blocked by an address that was corrected since (the patient's
  record is in ``pharmacy``, which cannot call us). One query finds orders whose every
  active fill is ready to pack and that have no shipment; when there are none (the usual
  case) that is all it costs. Each new shipment is inserted on its own, guarded by the
  unique constraint ``one_shipment_per_order``, because the address check and the
  packaging rules run in Python: the task and the catch-up racing make it once.
* **Addresses that cannot be shipped to block the order, not the data.** The patient's
  default shipping address is checked (``validate_ship_to_address``: street, city, a US
  state or territory code, a 5 or 5+4 digit ZIP code). When it fails no shipment is
  made; ``blocked_orders`` lists the order "cannot ship" with the reason, until a
  technician corrects the patient's address and the catch-up makes the shipment.
* **Packing.** Every vial's label code must be scanned; a duplicate scan (a scanner's
  double read) is ignored; a vial of another order, another package's packing slip or
  an unknown code stops the packing with a sentence naming it; nothing is recorded until
  every vial is there. The weight is required, 0 < weight <= 1200 oz (75 lb). Packing
  then buys the label from the carrier outside the transaction: when the carrier fails
  the package stays packed (the error says so) and ``purchase_label`` tries again.
* **Refrigerated packages are packed on their ship day**: packing one earlier is refused
  (the cold packs would warm over the weekend); other packages may be packed any day.
* **Hand-over** marks the fills shipped, which only technicians and pharmacists may do
  (FILL_MOVES), so a manager cannot hand packages over.
* **Carrier events** are kept once per (carrier, event id): a replay changes nothing. An
  event never moves a shipment backwards: one whose status is behind the shipment's, or
  older than the last applied event without being further along, is kept with the
  outcome ``stale``. Events for a package not yet handed over are kept as
  ``not_handed_over``; ``out_for_delivery`` keeps a shipment in transit.
* **Delivery exceptions and reships.** A pharmacist or manager resolves an exception;
  a reship is a new shipment (``reship_of``) to the patient's current default address.
  Product that must be replaced (every fill of a lost package, every refrigerated fill
  after a temperature excursion, the fills a pharmacist names after damage) gets
  replacement fills (``replacement_of``, same fill number, so no refill is used) in a
  new order of the patient, and the reship belongs to that order. A replacement starts
  at the fill step, its PV1 standing, when the prescription is still active and not
  expired (stock is taken at the fill step as usual, and PV2 follows); otherwise the
  replacement is refused: a new prescription is needed. Only a pharmacist replaces
  product. Fills not replaced (product that came back) ride along in the reship.
* **The patient's e-mail** goes when the package is handed over: tracking number, no
  drug names anywhere, once (a conditional UPDATE claims ``patient_notified_at``; a
  failed send releases the claim for the retry).
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Prefetch
from django.utils import timezone

from orders.models import FILL_MOVES, Fill, FillEvent, Order, Prescription
from orders.services.labels import queue_rx_label
from orders.services.workflow import WorkflowError, orders_ready_to_pack, transition_fill
from pharmacy.models import Patient, Role, User
from shipping.carriers import (
    INFO,
    CarrierError,
    EventRejected,
    carrier_for,
    configured_carriers,
)
from shipping.models import (
    SHIPMENT_MOVES,
    CarrierEvent,
    DeliveryException,
    Shipment,
    ShipmentEvent,
    ShippingDocument,
)
from shipping.services.rules import PackagingPlan, is_cold_chain_fill, packaging_plan

logger = logging.getLogger(__name__)

S = Shipment.Status
F = Fill.Status

MAX_WEIGHT_OZ = Decimal(1200)
BEFORE_HANDOVER = (S.AWAITING_PACKING, S.PACKED, S.LABELLED)

# The moves with checks of their own: only their service makes them.
STEP_SERVICES = {
    (S.AWAITING_PACKING, S.PACKED): "pack_shipment",
    (S.PACKED, S.LABELLED): "purchase_label",
    (S.LABELLED, S.HANDED_TO_CARRIER): "hand_over_to_carrier",
}

# How far along a status is, for telling a late carrier event from a new one.
PROGRESS = {
    S.AWAITING_PACKING: 0,
    S.PACKED: 0,
    S.LABELLED: 0,
    S.HANDED_TO_CARRIER: 1,
    S.IN_TRANSIT: 2,
    S.EXCEPTION: 2,
    S.DELIVERED: 3,
    S.RETURNED: 3,
}
# A carrier event's status -> the shipment status it moves to.
CARRIER_EVENT_SHIPMENT_STATUS = {
    "in_transit": S.IN_TRANSIT,
    "out_for_delivery": S.IN_TRANSIT,
    "delivered": S.DELIVERED,
    "exception": S.EXCEPTION,
    "returned": S.RETURNED,
}

# US states, DC, the territories (PR, GU, VI, AS, MP) and the armed forces' "states".
US_STATE_CODES = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP AA AE "
    "AP".split()
)
ZIP_CODE = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")


class ShippingError(Exception):
    """A shipping step refused; nothing was changed.

    ``code`` is stable for programs, ``detail`` a sentence for people, ``status`` the HTTP
    status the API answers with (409 a conflict with the shipment's state, 400 bad input,
    403 a role that may not, 401/404/422 for webhooks, 502 a carrier that failed);
    ``extra`` goes into the API's body.
    """

    def __init__(self, code: str, detail: str, status: int = 409, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status
        self.extra = extra


# --------------------------------------------------------------------------- helpers


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _label(status: str) -> str:
    text = S(status).label
    return text[0].lower() + text[1:]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _lock(shipment: Shipment) -> Shipment:
    """The shipment's row, locked until the end of the transaction, read afresh."""
    return (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("order__patient", "service", "reship_of")
        .get(pk=shipment.pk)
    )


def _fill_name(fill: Fill) -> str:
    return f"fill {fill.pk} (Rx {fill.prescription.rx_number})"


def _check_move(shipment: Shipment, *, to: str, by: User | None) -> None:
    """Refuse a move SHIPMENT_MOVES does not list, or a role that may not make it. A
    move by nobody (``by`` None) is a carrier's tracking event."""
    moves = SHIPMENT_MOVES.get(shipment.status, {})
    if to not in moves:
        raise ShippingError(
            "move_not_allowed",
            f"Package {shipment.package_code} is {_label(shipment.status)}; it cannot move "
            f"to {_label(to)}.",
        )
    if by is None:
        return
    if not moves[to]:
        raise ShippingError(
            "carrier_only",
            f"Only the carrier's tracking events move a package to {_label(to)}.",
        )
    if by.role not in moves[to]:
        raise ShippingError(
            "role_not_allowed",
            f"A {(by.role_label or 'user without a role').lower()} cannot move a package "
            f"from {_label(shipment.status)} to {_label(to)}.",
            status=403,
        )


def _move(
    shipment: Shipment,
    *,
    to: str,
    by: User | None,
    detail: str = "",
    occurred_at: datetime | None = None,
    carrier_event: CarrierEvent | None = None,
    update_fields: list[str] | tuple = (),
) -> Shipment:
    """Move the locked shipment and write its event."""
    now = timezone.now()
    ShipmentEvent.objects.create(
        shipment=shipment,
        from_status=shipment.status,
        to_status=to,
        detail=detail[:255],
        actor=by,
        carrier_event=carrier_event,
        occurred_at=occurred_at or now,
    )
    shipment.status = to
    shipment.status_changed_at = now
    fields = ["status", "status_changed_at", *update_fields]
    if to == S.DELIVERED and shipment.delivered_at is None:
        shipment.delivered_at = occurred_at or now
        fields.append("delivered_at")
    shipment.save(update_fields=fields)
    return shipment


def _move_fill(fill: Fill, *, to: str, by: User, reason: str) -> None:
    try:
        transition_fill(fill, to=to, by=by, reason=reason)
    except WorkflowError as refused:
        raise ShippingError(refused.code, refused.detail, refused.status) from None


def _queue(task_name: str, *args) -> None:
    """After commit, queue a shipping task; a broker failure is logged, never raised
    (the same fail-fast send as ``orders.services.labels``)."""

    def send():
        from shipping import tasks  # noqa: PLC0415 (tasks import us)

        task = getattr(tasks, task_name)
        try:
            with task.app.producer_pool.acquire(block=True, timeout=2) as producer:
                producer.connection.ensure_connection(
                    max_retries=1, interval_start=0, interval_step=0, timeout=2
                )
                task.apply_async(args, producer=producer, retry=False, ignore_result=True)
        except Exception:
            logger.warning("Could not queue %s%s (is the broker down?)", task_name, args)

    transaction.on_commit(send)


def _queue_documents(shipment: Shipment) -> None:
    """The label and packing slip PDFs (the documents module queues them on commit)."""
    try:
        from shipping.services import documents  # noqa: PLC0415 (documents import us)
    except ImportError:  # pragma: no cover - the documents module arrives beside this one
        logger.warning("No shipping documents module: no label PDF for %s", shipment.pk)
        return
    documents.queue_shipping_documents(shipment)


# --------------------------------------------------------------------------- addresses


def validate_ship_to_address(patient: Patient) -> dict:
    """The shipment's address snapshot from the patient's default shipping address.

    Raises ShippingError ``no_shipping_address`` or ``address_invalid`` (with the
    ``problems``, each a sentence) for an address a carrier cannot take: a missing
    street, city, state or ZIP code, a state that is not a US state or territory code,
    a ZIP code that is not 5 digits or 5+4 (12345-6789).
    """
    address = patient.default_shipping_address
    if address is None:
        raise ShippingError(
            "no_shipping_address",
            f"{patient.full_name} has no default shipping address: add one to the patient.",
            problems=["No default shipping address."],
        )
    problems = []
    line1, city = address.line1.strip(), address.city.strip()
    state, postal_code = address.state.strip().upper(), address.postal_code.strip()
    if not patient.full_name.strip():
        problems.append("The patient has no name to put on the label.")
    if not line1:
        problems.append("The street line is missing.")
    if not city:
        problems.append("The city is missing.")
    if not state:
        problems.append("The state is missing.")
    elif state not in US_STATE_CODES:
        problems.append(f"{state!r} is not a US state or territory code.")
    if not postal_code:
        problems.append("The ZIP code is missing.")
    elif not ZIP_CODE.match(postal_code):
        problems.append(f"{postal_code!r} is not a ZIP code (5 digits, or 5+4 as 12345-6789).")
    if problems:
        raise ShippingError(
            "address_invalid",
            f"The shipping address of {patient.full_name} cannot be shipped to: "
            + " ".join(problems)
            + " Correct it on the patient's record.",
            problems=problems,
        )
    return {
        "ship_to_name": patient.full_name.strip()[:200],
        "ship_to_line1": line1,
        "ship_to_line2": address.line2.strip(),
        "ship_to_city": city,
        "ship_to_state": state,
        "ship_to_postal_code": postal_code,
        "ship_to_phone": patient.phone.strip(),
    }


# --------------------------------------------------------------------------- contents


def shipment_fills(shipment: Shipment) -> list[Fill]:
    """The fills whose vials go in this package, oldest first: the order's active fills;
    for a reship, its own order's fills (replacements) and the first package's fills
    that were not replaced (product that came back)."""
    fills = list(
        Fill.objects.filter(order_id=shipment.order_id)
        .exclude(status=F.CANCELLED)
        .select_related("prescription__product")
        .order_by("pk")
    )
    if shipment.reship_of_id is None:
        return fills
    original = shipment.reship_of
    own = fills if shipment.order_id != original.order_id else []
    replaced = {fill.replacement_of_id for fill in own}
    kept = [fill for fill in shipment_fills(original) if fill.pk not in replaced]
    return sorted(own + kept, key=lambda fill: fill.pk)


def _plan(fills: list[Fill], *, today: date) -> PackagingPlan:
    return packaging_plan(
        fills, today=today, carriers=[carrier.code for carrier in configured_carriers()]
    )


def _apply_plan(shipment: Shipment, plan: PackagingPlan) -> list[str]:
    shipment.is_cold_chain = plan.is_cold_chain
    shipment.is_controlled = plan.is_controlled
    shipment.packaging = plan.packaging
    shipment.cold_packs = plan.cold_packs
    shipment.signature_required = plan.signature_required
    shipment.instructions = plan.instructions
    shipment.service = plan.service
    shipment.carrier = plan.service.carrier if plan.service else ""
    shipment.ship_on = plan.ship_on
    return [
        "is_cold_chain",
        "is_controlled",
        "packaging",
        "cold_packs",
        "signature_required",
        "instructions",
        "service",
        "carrier",
        "ship_on",
    ]


# --------------------------------------------------------------------------- making shipments


def ready_orders_without_shipment():
    """Orders with at least one fill, every active one ready to pack, and no shipment
    yet (a reship's order has one from the start)."""
    shipped = Shipment.objects.filter(order=OuterRef("pk"))
    return orders_ready_to_pack().exclude(Exists(shipped)).order_by("pk")


@dataclass(frozen=True)
class BlockedOrder:
    """An order ready to ship whose shipment cannot be made, and why."""

    order: Order
    code: str
    detail: str
    problems: list[str] = field(default_factory=list)


def _ready_orders_with_addresses():
    return (
        ready_orders_without_shipment()
        .select_related("patient")
        .prefetch_related(Prefetch("patient__addresses"))
    )


def _make_shipment(order: Order, *, today: date) -> Shipment | None:
    """The ready order's shipment, made now; None when its address cannot be shipped to
    or another process made it meanwhile."""
    try:
        snapshot = validate_ship_to_address(order.patient)
    except ShippingError:
        return None  # listed by blocked_orders until the address is corrected
    return _create_shipment(order, snapshot, today=today)


def create_shipment_for_order(order: Order) -> Shipment | None:
    """Make the order's shipment, awaiting packing, with the patient's address as it is
    now: what the fill workflow queues once the order's last fill passed PV2. Returns it,
    or None when there is nothing to make: the order is not (or no longer) ready to
    pack, already has its shipment, or its address cannot be shipped to (then
    ``blocked_orders`` lists it until the address is corrected, and the catch-up makes
    it). Idempotent: the unique constraint ``one_shipment_per_order`` makes a shipment
    made twice at once one. Raises nothing of its own."""
    ready = _ready_orders_with_addresses().filter(pk=order.pk).first()
    if ready is None:
        return None
    return _make_shipment(ready, today=timezone.localdate())


def ensure_shipments_for_ready_orders() -> int:
    """The catch-up (Celery beat): make the shipment (awaiting packing) of every order
    whose last fill passed PV2 and has none, and returns how many were made. Reaching
    ready to pack queues each order's own ``create_shipment_for_order``; this makes the
    ones whose task never came and those of orders whose address was corrected since
    they were blocked. Cheap and idempotent: one query when there is nothing new; each
    shipment is guarded by the unique constraint, so a process racing us makes it once.
    An order whose address cannot be shipped to gets none (``blocked_orders``).
    """
    today = timezone.localdate()
    return sum(
        _make_shipment(order, today=today) is not None for order in _ready_orders_with_addresses()
    )


def blocked_orders() -> list[BlockedOrder]:
    """Orders ready to ship that cannot be: the patient's address cannot be shipped to.
    Shown as "cannot ship" with the reason until the address is corrected."""
    blocked = []
    for order in _ready_orders_with_addresses():
        try:
            validate_ship_to_address(order.patient)
        except ShippingError as error:
            blocked.append(
                BlockedOrder(order, error.code, error.detail, error.extra.get("problems", []))
            )
    return blocked


def _create_shipment(
    order: Order,
    snapshot: dict,
    *,
    today: date,
    reship_of: Shipment | None = None,
    detail: str = "",
    by: User | None = None,
) -> Shipment | None:
    shipment = Shipment(order=order, reship_of=reship_of, **snapshot)
    fills = (
        shipment_fills(shipment)
        if reship_of
        else list(order.fills.exclude(status=F.CANCELLED).select_related("prescription__product"))
    )
    _apply_plan(shipment, _plan(fills, today=today))
    try:
        with transaction.atomic():
            shipment.save()
            ShipmentEvent.objects.create(
                shipment=shipment,
                from_status="",
                to_status=S.AWAITING_PACKING,
                detail=detail or "Every fill of the order passed PV2.",
                actor=by,
                occurred_at=timezone.now(),
            )
    except IntegrityError:
        if reship_of is not None:
            raise
        return None  # made by another process meanwhile (one_shipment_per_order)
    _queue_documents(shipment)  # the packing slip, printed before packing
    return shipment


# --------------------------------------------------------------------------- moves


def transition_shipment(
    shipment: Shipment,
    *,
    to: str,
    by: User | None = None,
    detail: str = "",
    occurred_at: datetime | None = None,
    carrier_event: CarrierEvent | None = None,
) -> Shipment:
    """Move a shipment along SHIPMENT_MOVES; returns it.

    ``by`` a person (their role must be allowed), or None for a carrier's tracking event
    (``carrier_event``). Moves with checks of their own are refused here (packing,
    the label, the hand-over: their services; a person reporting a problem:
    ``report_delivery_exception``). Sending a packed or labelled package back to packing
    (a pharmacist, with a reason) voids its label. Raises ShippingError.
    """
    if to not in S.values:
        raise ShippingError("unknown_status", f"{to!r} is not a shipment status.", 400)
    with transaction.atomic():
        shipment = _lock(shipment)
        _check_move(shipment, to=to, by=by)
        service = STEP_SERVICES.get((shipment.status, to))
        if service is None and by is not None and to in (S.EXCEPTION, S.RETURNED):
            service = "report_delivery_exception"
        if service is not None:
            raise ShippingError(
                "step_required",
                f"Moving a package from {_label(shipment.status)} to {_label(to)} is a step "
                f"with its own checks: use {service}.",
            )
        if by is None and carrier_event is None:
            raise ShippingError("carrier_event_required", "A carrier move needs its event.")
        update_fields: list[str] = []
        if to == S.AWAITING_PACKING:
            detail = detail.strip()
            if not detail:
                raise ShippingError(
                    "reason_required", "Give a reason: it is kept on the record.", 400
                )
            update_fields = _void_label(shipment)
        return _move(
            shipment,
            to=to,
            by=by,
            detail=detail,
            occurred_at=occurred_at,
            carrier_event=carrier_event,
            update_fields=update_fields,
        )


def _void_label(shipment: Shipment) -> list[str]:
    """Back to packing: the label bought is void (a new one is bought at the next
    packing) and its PDF no longer current. The fills stay packed (FILL_MOVES has no
    way back); packing again takes them as they are."""
    if shipment.tracking_number:
        logger.info(
            "Package %s: label %s %s voided; ask the carrier for a refund if it was paid.",
            shipment.package_code,
            shipment.carrier,
            shipment.tracking_number,
        )
    ShippingDocument.objects.filter(
        shipment=shipment, kind=ShippingDocument.Kind.LABEL, is_current=True
    ).update(is_current=False)
    shipment.tracking_number = ""
    shipment.carrier_shipment_id = ""
    shipment.packed_by = None
    shipment.packed_at = None
    shipment.weight_oz = None
    return ["tracking_number", "carrier_shipment_id", "packed_by", "packed_at", "weight_oz"]


# --------------------------------------------------------------------------- packing


def _weight(value) -> Decimal:
    if value is None or value == "":
        raise ShippingError("weight_required", "Weigh the package and enter its weight.", 400)
    try:
        weight = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ShippingError("invalid_weight", f"{value!r} is not a weight.", 400) from None
    if not weight.is_finite() or weight <= 0 or weight > MAX_WEIGHT_OZ:
        raise ShippingError(
            "invalid_weight",
            f"The weight must be more than 0 and at most {MAX_WEIGHT_OZ} oz, not {value}.",
            400,
        )
    if weight.as_tuple().exponent < -1:
        raise ShippingError(
            "invalid_weight", f"{value} has more than one decimal: weigh to 0.1 oz.", 400
        )
    return weight


def _scanned_codes(scans) -> list[str]:
    if not isinstance(scans, list | tuple):
        raise ShippingError("scans_required", "Scan every vial's label.", 400)
    codes = []
    for raw in scans:
        code = str(raw).strip().upper()
        if code and code not in codes:  # a scanner's double read counts once
            codes.append(code)
    if not codes:
        raise ShippingError("scans_required", "Scan every vial's label.", 400)
    return codes


def _check_scans(shipment: Shipment, fills: list[Fill], codes: list[str]) -> None:
    """Every vial of the package scanned, nothing else: raises ShippingError naming the
    first wrong scan, or the vials still missing."""
    expected = {fill.label_code: fill for fill in fills}
    for code in codes:
        if code == shipment.package_code or code in expected:
            continue
        if code.startswith("PKG-"):
            other = Shipment.objects.filter(package_code=code).first()
            if other is not None:
                raise ShippingError(
                    "wrong_packing_slip",
                    f"{code} is the packing slip of another package (order {other.order_id}), "
                    f"not of this one ({shipment.package_code}, order {shipment.order_id}).",
                    scan=code,
                )
        other = Fill.objects.filter(label_code=code).select_related("prescription").first()
        if other is not None:
            raise ShippingError(
                "wrong_vial",
                f"This vial is {_fill_name(other)} of order {other.order_id}, not of this "
                f"package (order {shipment.order_id}): take it out.",
                scan=code,
                fill=other.pk,
            )
        raise ShippingError(
            "unknown_code",
            f"{code!r} is not the label of any vial: scan the barcode on the vial label.",
            400,
            scan=code,
        )
    missing = [fill for code, fill in expected.items() if code not in codes]
    if missing:
        raise ShippingError(
            "vials_missing",
            f"{_plural(len(missing), 'vial')} not scanned yet: "
            + ", ".join(_fill_name(fill) for fill in missing)
            + ". The package cannot be closed until every vial is scanned.",
            missing=[fill.pk for fill in missing],
        )


def pack_shipment(
    shipment: Shipment,
    *,
    by: User,
    scans: list[str],
    weight_oz: Decimal,
    today: date | None = None,
    buy_label: bool = True,
) -> Shipment:
    """A technician or pharmacist closes the package: every vial's label scanned, none
    from elsewhere, and its weight. In one transaction the fills move to packed, the
    packaging rules are evaluated again for today (packaging, cold packs, signature,
    service, ship day) and the shipment is packed. Then the label is bought from the
    carrier (``purchase_label``, outside the transaction): labelled, documents queued.

    Raises ShippingError: bad weight or no scans (400), an unknown code (400), not
    awaiting packing, a role that may not pack (403), fills not ready, a vial of another
    order or another package's slip, vials missing, no service the rules allow, a
    refrigerated package before its ship day; and ``carrier_error`` (502) when the
    carrier did not sell the label: the package stays packed. ``buy_label`` False packs
    only (the label is bought later with ``purchase_label``).
    """
    weight = _weight(weight_oz)
    codes = _scanned_codes(scans)
    today = today or timezone.localdate()
    with transaction.atomic():
        shipment = _lock(shipment)
        if shipment.status != S.AWAITING_PACKING:
            raise ShippingError(
                "wrong_status",
                f"Package {shipment.package_code} is {_label(shipment.status)}, not awaiting "
                "packing.",
            )
        _check_move(shipment, to=S.PACKED, by=by)
        fills = shipment_fills(shipment)
        # Packed: a package sent back to packing. Shipped: product that came back, reshipped.
        packable = {F.READY_TO_PACK, F.PACKED} | ({F.SHIPPED} if shipment.reship_of_id else set())
        waiting = [fill for fill in fills if fill.status not in packable]
        if waiting:
            raise ShippingError(
                "fills_not_ready",
                "Not every fill is ready to pack: "
                + ", ".join(
                    f"{_fill_name(fill)} is {Fill.Status(fill.status).label.lower()}"
                    for fill in waiting
                )
                + ".",
                waiting=[fill.pk for fill in waiting],
            )
        _check_scans(shipment, fills, codes)
        plan = _plan(fills, today=today)
        if plan.refusals:
            raise ShippingError("no_service", " ".join(plan.refusals))
        if plan.is_cold_chain and plan.ship_on > today:
            raise ShippingError(
                "not_ship_day",
                f"This refrigerated package ships on {plan.ship_on:%A} {plan.ship_on}: pack it "
                "that day, so it never sits in transit over a weekend or holiday. Keep the "
                "items refrigerated until then.",
                ship_on=plan.ship_on.isoformat(),
            )
        for fill in fills:
            if fill.status == F.READY_TO_PACK:
                _move_fill(
                    fill, to=F.PACKED, by=by, reason=f"Packed in package {shipment.package_code}"
                )
        update_fields = _apply_plan(shipment, plan)
        shipment.weight_oz = weight
        shipment.packed_by = by
        shipment.packed_at = timezone.now()
        _move(
            shipment,
            to=S.PACKED,
            by=by,
            detail=f"Packed: {_plural(len(fills), 'vial')}, {weight} oz, {plan.packaging}",
            update_fields=[*update_fields, "weight_oz", "packed_by", "packed_at"],
        )
    if not buy_label:
        return shipment
    return purchase_label(shipment, by=by)


def purchase_label(shipment: Shipment, *, by: User) -> Shipment:
    """Buy the packed shipment's label from its carrier (the call is made outside any
    transaction); labelled with its tracking number, and the label and packing slip
    PDFs queued. Run again after a carrier failure. Raises ShippingError: not packed, a
    role that may not, a carrier not configured, ``carrier_error`` (502)."""
    with transaction.atomic():
        shipment = _lock(shipment)
        if shipment.status != S.PACKED:
            raise ShippingError(
                "wrong_status",
                f"Package {shipment.package_code} is {_label(shipment.status)}, not packed.",
            )
        _check_move(shipment, to=S.LABELLED, by=by)
    try:
        carrier = carrier_for(shipment.carrier)
    except KeyError:
        raise ShippingError(
            "no_carrier", f"Package {shipment.package_code} has no carrier service."
        ) from None
    if not carrier.is_configured():
        raise ShippingError(
            "carrier_not_configured", f"{carrier.name} is not configured on this pharmacy."
        )
    try:
        label = carrier.buy_label(shipment)
    except CarrierError as error:
        raise ShippingError(
            "carrier_error",
            f"Package {shipment.package_code} is packed, but {carrier.name} did not sell the "
            f"label: {error.detail} Try the label again.",
            502,
            status_now=shipment.status,
        ) from None
    with transaction.atomic():
        shipment = _lock(shipment)
        if shipment.status != S.PACKED or shipment.tracking_number:
            return shipment  # someone else finished it meanwhile
        shipment.tracking_number = label.tracking_number
        shipment.carrier_shipment_id = label.carrier_shipment_id
        _move(
            shipment,
            to=S.LABELLED,
            by=by,
            detail=f"Label bought from {carrier.name}: tracking {label.tracking_number}",
            update_fields=["tracking_number", "carrier_shipment_id"],
        )
        _queue_documents(shipment)
    return shipment


def hand_over_to_carrier(shipments, *, by: User) -> int:
    """Hand labelled packages to their carrier (the driver's pick-up); returns how many
    were handed over (those not labelled are left as they are). In one transaction, the
    shipments locked in id order: their fills move to shipped and the patient's e-mail
    is queued on commit. Raises ShippingError: a role that may not (a manager: fills are
    shipped by technicians and pharmacists), a fill that cannot move."""
    if by.role not in FILL_MOVES[F.PACKED][F.SHIPPED]:
        raise ShippingError(
            "role_not_allowed",
            f"A {(by.role_label or 'user without a role').lower()} cannot hand packages "
            "over: a technician or pharmacist marks their fills shipped.",
            status=403,
        )
    ids = sorted({shipment.pk for shipment in shipments})
    handed = 0
    with transaction.atomic():
        locked = (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("order__patient", "reship_of", "service")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        for shipment in locked:
            if shipment.status != S.LABELLED:
                continue
            _check_move(shipment, to=S.HANDED_TO_CARRIER, by=by)
            carrier = shipment.get_carrier_display()
            for fill in shipment_fills(shipment):
                if fill.status == F.PACKED:
                    _move_fill(
                        fill,
                        to=F.SHIPPED,
                        by=by,
                        reason=f"Handed to {carrier} in package {shipment.package_code}, "
                        f"tracking {shipment.tracking_number}",
                    )
            shipment.handed_over_at = timezone.now()
            _move(
                shipment,
                to=S.HANDED_TO_CARRIER,
                by=by,
                detail=f"Handed to {carrier}",
                update_fields=["handed_over_at"],
            )
            _queue("send_shipment_email_task", shipment.pk)
            handed += 1
    return handed


# --------------------------------------------------------------------------- the patient's e-mail


def notify_patient_of_shipment(shipment: Shipment) -> bool:
    """E-mail the patient that the package is on its way, with its tracking number (no
    drug name, in the subject or anywhere). Sent once: a conditional UPDATE claims
    ``patient_notified_at``; a failed send releases it and raises (the task retries).
    Returns False when nothing was sent (not handed over, no e-mail address, sent)."""
    shipment = Shipment.objects.select_related("order__patient").get(pk=shipment.pk)
    patient = shipment.order.patient
    if shipment.handed_over_at is None or not patient.email:
        return False
    now = timezone.now()
    claimed = Shipment.objects.filter(pk=shipment.pk, patient_notified_at__isnull=True).update(
        patient_notified_at=now
    )
    if not claimed:
        return False
    lines = [
        f"Hello {patient.first_name},",
        "",
        f"Your package {shipment.package_code} from {settings.PHARMACY_NAME} is on its way "
        f"with {shipment.get_carrier_display()}.",
        f"Tracking number: {shipment.tracking_number}",
    ]
    if shipment.signature_required:
        lines.append("Someone must sign for it on delivery.")
    if shipment.is_cold_chain:
        lines.append("It holds refrigerated items: put them in the refrigerator when it arrives.")
    lines += [
        "",
        f"Questions? Call us at {settings.PHARMACY_PHONE}.",
        "",
        settings.PHARMACY_NAME,
    ]
    try:
        send_mail(
            subject=f"Your order from {settings.PHARMACY_NAME} has shipped",
            message="\n".join(lines),
            from_email=None,
            recipient_list=[patient.email],
        )
    except Exception:
        Shipment.objects.filter(pk=shipment.pk, patient_notified_at=now).update(
            patient_notified_at=None
        )
        raise
    return True


# --------------------------------------------------------------------------- carrier events


def record_carrier_event(carrier: str, *, body: bytes, signature: str) -> CarrierEvent:
    """A carrier's tracking webhook: the raw body and its ``X-Signature``.

    The signature is checked first (constant time); then the body is read, the shipment
    found by tracking number and locked, and the event kept once per (carrier, event
    id). A replay returns the kept event (``is_replay`` True) and changes nothing. A new
    event moves the shipment when it is further along (``applied``; an exception or a
    return opens a DeliveryException), or is kept as ``no_change``, ``stale`` (behind
    the shipment or older than its last event), ``not_handed_over`` or ``info``. An event
    that is not about tracking returns an unsaved CarrierEvent (outcome ``ignored``).

    Raises ShippingError, with nothing written: ``unknown_carrier`` (404),
    ``invalid_signature`` (401, the same whether the header is missing or wrong),
    ``malformed_json``/``malformed_event`` (400), ``invalid_tracking_number`` (422, not
    this carrier's format or check digit), ``unknown_tracking_number`` (404).
    """
    try:
        courier = carrier_for(carrier)
    except KeyError:
        raise ShippingError("unknown_carrier", "No such carrier.", 404) from None
    if not courier.verify_signature(body, signature):
        raise ShippingError(
            "invalid_signature",
            "The X-Signature header is missing or does not match the body.",
            401,
        )
    try:
        update = courier.parse_event(body)
    except EventRejected as rejected:
        raise ShippingError(rejected.code, rejected.detail, rejected.status) from None
    if update is None:
        return CarrierEvent(carrier=carrier, outcome="ignored")
    if not courier.is_tracking_number(update.tracking_number):
        raise ShippingError(
            "invalid_tracking_number",
            f"{update.tracking_number!r} is not a {courier.name} tracking number.",
            422,
        )
    with transaction.atomic():
        shipment = (
            Shipment.objects.select_for_update(of=("self",))
            .filter(carrier=carrier, tracking_number=update.tracking_number)
            .first()
        )
        if shipment is None:
            raise ShippingError(
                "unknown_tracking_number", "No package of ours has this tracking number.", 404
            )
        kept = CarrierEvent.objects.filter(carrier=carrier, event_id=update.event_id).first()
        if kept is not None:
            kept.is_replay = True
            return kept
        target = CARRIER_EVENT_SHIPMENT_STATUS.get(update.status)
        outcome = _outcome(shipment, target, update.occurred_at)
        event = CarrierEvent.objects.create(
            carrier=carrier,
            event_id=update.event_id,
            tracking_number=update.tracking_number,
            status=update.status,
            occurred_at=update.occurred_at,
            detail=update.detail,
            body=body.decode("utf-8", errors="replace"),
            shipment=shipment,
            outcome=outcome,
        )
        if outcome == "applied":
            detail = update.detail or update.status.replace("_", " ").capitalize()
            _move(
                shipment,
                to=target,
                by=None,
                detail=f"{courier.name}: {detail}",
                occurred_at=update.occurred_at,
                carrier_event=event,
            )
            if target in (S.EXCEPTION, S.RETURNED):
                DeliveryException.objects.create(
                    shipment=shipment,
                    kind=DeliveryException.Kind.RETURNED
                    if target == S.RETURNED
                    else DeliveryException.Kind.OTHER,
                    description=f"{courier.name} reported: {detail}",
                    carrier_event=event,
                )
        event.is_replay = False
        return event


def _outcome(shipment: Shipment, target: str | None, occurred_at: datetime) -> str:
    if target is None:
        return INFO
    if shipment.status in BEFORE_HANDOVER:
        return "not_handed_over"
    if target == shipment.status:
        return "no_change"
    latest = CarrierEvent.objects.filter(shipment=shipment, outcome="applied").aggregate(
        latest=Max("occurred_at")
    )["latest"]
    behind = PROGRESS[target] < PROGRESS[shipment.status]
    older = latest is not None and occurred_at < latest
    if behind or (older and PROGRESS[target] <= PROGRESS[shipment.status]):
        return "stale"
    if target not in SHIPMENT_MOVES[shipment.status]:
        return "stale"
    return "applied"


# --------------------------------------------------------------------------- exceptions


def report_delivery_exception(
    shipment: Shipment, *, by: User, kind: str, description: str
) -> DeliveryException:
    """Staff record a problem with a package on its way or delivered (damaged, lost,
    returned, temperature excursion, other). The shipment moves to ``exception`` (or
    ``returned`` for a return) when SHIPMENT_MOVES allows it from where it is; one already
    in exception or returned just gets the record. Raises ShippingError: unknown kind or
    no description (400), not handed over yet, a role that may not (403)."""
    if kind not in DeliveryException.Kind.values:
        raise ShippingError(
            "invalid_kind",
            f"{kind!r} is not a kind of delivery exception; use one of "
            f"{', '.join(DeliveryException.Kind.values)}.",
            400,
        )
    description = (description or "").strip()
    if not description:
        raise ShippingError(
            "description_required", "Describe what happened: it is kept on the record.", 400
        )
    with transaction.atomic():
        shipment = _lock(shipment)
        if shipment.status in BEFORE_HANDOVER:
            raise ShippingError(
                "not_handed_over",
                f"Package {shipment.package_code} is {_label(shipment.status)}: it has not "
                "left the pharmacy. A pharmacist sends it back to packing to fix a problem.",
            )
        moves = SHIPMENT_MOVES[shipment.status]
        if kind == DeliveryException.Kind.RETURNED and S.RETURNED in moves:
            target = S.RETURNED
        elif S.EXCEPTION in moves:
            target = S.EXCEPTION
        else:
            target = None
        if target is not None:
            _check_move(shipment, to=target, by=by)
        elif by.role not in (Role.TECHNICIAN, Role.PHARMACIST, Role.MANAGER):
            raise ShippingError(
                "role_not_allowed", "Your role does not report delivery exceptions.", 403
            )
        label = DeliveryException.Kind(kind).label
        exception = DeliveryException.objects.create(
            shipment=shipment, kind=kind, description=description, reported_by=by
        )
        if target is not None:
            _move(shipment, to=target, by=by, detail=f"{label}: {description}")
    return exception


def resolve_delivery_exception(
    exception: DeliveryException,
    *,
    by: User,
    resolution: str,
    reship: bool = False,
    replace_fills=(),
) -> DeliveryException:
    """A pharmacist or manager writes how a delivery exception was settled, and may
    reship: a new shipment (``reship_of`` the first) to the patient's current default
    address. ``replace_fills`` (fills or ids of the first package) get replacement fills
    in a new order of the patient, starting at the fill step (see the module docstring);
    only a pharmacist replaces product. A lost package needs every fill replaced, a
    temperature excursion every refrigerated one, damage at least one.

    Locks the exception and its shipment. Raises ShippingError: no resolution (400),
    a role that may not (403), already resolved, the package not back or lost (still on
    its way or delivered without an exception), already reshipped, fills that were not in
    the package or must be replaced, a prescription that is no longer valid, an address
    that cannot be shipped to.
    """
    resolution = (resolution or "").strip()
    if not resolution:
        raise ShippingError(
            "resolution_required", "Write the resolution: it is kept on the record.", 400
        )
    replace_ids = {getattr(fill, "pk", fill) for fill in replace_fills}
    if by.role not in (Role.PHARMACIST, Role.MANAGER):
        raise ShippingError(
            "role_not_allowed",
            "A pharmacist or manager resolves delivery exceptions.",
            403,
        )
    if replace_ids and not reship:
        raise ShippingError(
            "reship_required", "Replacement fills go out in a reship: choose reship.", 400
        )
    if replace_ids and by.role != Role.PHARMACIST:
        raise ShippingError(
            "role_not_allowed",
            "Only a pharmacist replaces product: it is dispensed again on the prescription.",
            403,
        )
    today = timezone.localdate()
    with transaction.atomic():
        exception = (
            DeliveryException.objects.select_for_update(of=("self",))
            .select_related("resolved_by")
            .get(pk=exception.pk)
        )
        if not exception.is_open:
            raise ShippingError(
                "already_resolved",
                f"This delivery exception was resolved by {_name(exception.resolved_by)} on "
                f"{timezone.localtime(exception.resolved_at):%Y-%m-%d %H:%M}.",
            )
        shipment = _lock(exception.shipment)
        update_fields = ["resolution", "resolved_by", "resolved_at"]
        if reship:
            exception.reship = _reship(
                shipment, exception=exception, by=by, replace_ids=replace_ids, today=today
            )
            update_fields.append("reship")
        exception.resolution = resolution
        exception.resolved_by = by
        exception.resolved_at = timezone.now()
        exception.save(update_fields=update_fields)
    return exception


def _reship(
    shipment: Shipment,
    *,
    exception: DeliveryException,
    by: User,
    replace_ids: set[int],
    today: date,
) -> Shipment:
    if shipment.status not in (S.EXCEPTION, S.RETURNED):
        raise ShippingError(
            "not_reshippable",
            f"Package {shipment.package_code} is {_label(shipment.status)}: only a package "
            "with a delivery exception or returned is reshipped.",
        )
    if Shipment.objects.filter(reship_of=shipment).exists():
        raise ShippingError(
            "already_reshipped", f"Package {shipment.package_code} was already reshipped."
        )
    contents = {fill.pk: fill for fill in shipment_fills(shipment)}
    unknown = sorted(replace_ids - contents.keys())
    if unknown:
        raise ShippingError(
            "not_in_package",
            f"Fill {', '.join(map(str, unknown))} was not in package {shipment.package_code}.",
            400,
        )
    kind = exception.kind
    must = set()
    if kind == DeliveryException.Kind.LOST:
        must = set(contents)
    elif kind == DeliveryException.Kind.TEMPERATURE:
        must = {pk for pk, fill in contents.items() if is_cold_chain_fill(fill)}
    missing = sorted(must - replace_ids)
    if missing:
        why = (
            "lost"
            if kind == DeliveryException.Kind.LOST
            else "refrigerated after a temperature excursion"
        )
        raise ShippingError(
            "replacement_required",
            f"Fill {', '.join(map(str, missing))} must be replaced: its product was {why}.",
            400,
            missing=missing,
        )
    if kind == DeliveryException.Kind.DAMAGED and not replace_ids:
        raise ShippingError(
            "replacement_required",
            "Name the fills whose product was damaged: they are replaced.",
            400,
        )
    patient = shipment.order.patient
    snapshot = validate_ship_to_address(patient)
    order = shipment.order
    if replace_ids:
        order = Order.objects.create(patient=patient)
        for pk in sorted(replace_ids):
            _replacement_fill(
                contents[pk], order=order, by=by, shipment=shipment, kind=kind, today=today
            )
    return _create_shipment(
        order,
        snapshot,
        today=today,
        reship_of=shipment,
        by=by,
        detail=f"Reship of package {shipment.package_code} "
        f"({DeliveryException.Kind(kind).label.lower()})",
    )


def _replacement_fill(
    original: Fill, *, order: Order, by: User, shipment: Shipment, kind: str, today: date
) -> Fill:
    """A fill replacing one whose product was lost or spoiled in shipping: same
    prescription and fill number (no refill used), at the fill step with the original's
    PV1 standing, urgent, its Rx label queued. Stock is taken at its fill step."""
    prescription = original.prescription
    problem = ""
    if prescription.status not in (Prescription.Status.ACTIVE, Prescription.Status.COMPLETED):
        problem = Prescription.Status(prescription.status).label.lower()
    elif prescription.expires_on < today:
        problem = f"expired since {prescription.expires_on}"
    elif original.pv1_at is None:
        problem = f"without a PV1 on fill {original.pk}"
    if problem:
        raise ShippingError(
            "prescription_not_valid",
            f"Rx {prescription.rx_number} is {problem}: its product cannot be dispensed again "
            "without a new prescription and PV1. Reship without replacing it, or contact the "
            "prescriber.",
        )
    fill = Fill.objects.create(
        prescription=prescription,
        order=order,
        fill_number=original.fill_number,
        replacement_of=original,
        status=F.FILL,
        quantity=original.dispensed_quantity or original.quantity,
        days_supply=original.days_supply,
        requested_via="reship",
        priority=Fill.Priority.URGENT,
        promised_on=today,
        is_cold_chain=original.is_cold_chain,
        pv1_by=original.pv1_by,
        pv1_at=original.pv1_at,
    )
    FillEvent.objects.create(
        fill=fill,
        from_status="",
        to_status=F.FILL,
        reason=f"Replaces fill {original.pk} ({DeliveryException.Kind(kind).label.lower()} in "
        f"package {shipment.package_code}); the PV1 of fill {original.pk} stands",
        actor=by,
    )
    queue_rx_label(fill)
    return fill
