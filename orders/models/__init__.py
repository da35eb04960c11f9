"""Prescriptions from intake to verified product: Prescription, Order, Fill, drug-check alerts
(and, re-exported from ``schedules``, scheduled refills and queue wait limits)."""

import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Func, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Coalesce

from inventory.models import DEASchedule, Product, strength_pairs_of
from orders.intake.messages import Channel  # the one list of channels, model-free
from orders.models.schedules import QueueWaitLimit as QueueWaitLimit
from orders.models.schedules import ScheduledRefill as ScheduledRefill
from pharmacy.dur import Severity
from pharmacy.models import Patient, Prescriber, Role

# Strictest first (21 CFR 1308.11-15).
SCHEDULE_ORDER = [
    DEASchedule.CI,
    DEASchedule.CII,
    DEASchedule.CIII,
    DEASchedule.CIV,
    DEASchedule.CV,
]


class IntakeIssue(models.TextChoices):
    """Why a prescription waits in the intake queue for a technician."""

    PATIENT_UNCERTAIN = "patient_uncertain", "Patient match uncertain"
    PRESCRIBER_UNCERTAIN = "prescriber_uncertain", "Prescriber match uncertain"
    DRUG_NOT_MATCHED = "drug_not_matched", "Drug not matched"
    NEW_PATIENT = "new_patient", "New patient to complete"
    NEW_PRESCRIBER = "new_prescriber", "New prescriber to complete"
    DEA_REGISTRATION_UNVERIFIED = "dea_unverified", "Prescriber's DEA schedules unverified"


class PrescriptionQuerySet(models.QuerySet):
    def in_intake_queue(self) -> "PrescriptionQuerySet":
        return self.filter(status=Prescription.Status.INTAKE).order_by("received_at", "pk")

    def current_medications_of(self, patient_id: int) -> "PrescriptionQuerySet":
        """A patient's active prescriptions, oldest first: the one definition, used by
        ``current_medications_besides`` and the manual entry's patient panel."""
        return self.filter(patient_id=patient_id, status=Prescription.Status.ACTIVE).order_by("pk")

    def current_medications_besides(self, prescription: "Prescription") -> "PrescriptionQuerySet":
        """The patient's other active prescriptions, oldest first: what the drug checks
        compare a prescription against (``orders.services.intake.run_drug_checks``) and
        what the PV1 page lists beside it. None while the patient is not matched."""
        if prescription.patient_id is None:
            return self.none()
        return self.current_medications_of(prescription.patient_id).exclude(pk=prescription.pk)

    def with_refills_used(self, *, through_fill_number=None) -> "PrescriptionQuerySet":
        """Annotated with ``dispensings``: how many times each prescription was dispensed,
        the one definition of refills used (``Prescription.refills_remaining`` turns it
        into refills left). Cancelled fills do not count; a partial fill's remainder and
        a reship's replacement share the fill number of the fill they complete or
        replace: one dispensing, not two. ``through_fill_number`` (a number, or an
        expression such as an ``OuterRef``) counts only the dispensings up to that fill.

        Relied on by the refill request (``orders.services.intake.request_refill``), the
        prescription, PV1 and refill pages, the API's prescriptions, and the Rx label
        (``orders.services.labels``), which counts the dispensings up to its own fill so
        that a later refill does not change a vial already made.
        """
        # A subquery, not a join with GROUP BY: the rows keep their order and may be
        # locked (SELECT ... FOR UPDATE refuses GROUP BY).
        dispensings = Fill.objects.filter(prescription=OuterRef("pk")).exclude(
            status=Fill.Status.CANCELLED
        )
        if through_fill_number is not None:
            dispensings = dispensings.filter(fill_number__lte=through_fill_number)
        dispensings = (
            dispensings.order_by()
            .values("prescription")
            .annotate(count=models.Count("fill_number", distinct=True))
            .values("count")
        )
        return self.annotate(dispensings=Coalesce(Subquery(dispensings), 0))


class Prescription(models.Model):
    """A prescription as the pharmacy holds it, with the original kept verbatim.

    ``raw_message`` is the e-prescription exactly as received (NCPDP XML or FHIR JSON);
    ``original_document`` the image or PDF of a fax or phone note. ``intake_issues`` lists
    what a technician must resolve before the first fill goes to PV1; ``received_data``
    keeps the patient, prescriber and drug as the message named them.
    """

    class Status(models.TextChoices):
        INTAKE = "intake", "Intake (waiting for a technician)"
        ACTIVE = "active", "Active"
        ON_HOLD = "on_hold", "On hold"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        COMPLETED = "completed", "Completed"

    # The next number of the sequence of migration 0002, given by the database on insert:
    # no round trip for it on the intake path.
    rx_number = models.CharField(
        "Rx number",
        max_length=12,
        unique=True,
        db_default=Cast(
            Func(
                Value("orders_rx_number_seq"),
                function="nextval",
                output_field=models.BigIntegerField(),
            ),
            models.CharField(max_length=12),
        ),
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.INTAKE)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    message_id = models.CharField(
        "e-Rx message ID",
        max_length=100,
        null=True,
        blank=True,
        unique=True,
        help_text="NCPDP MessageID or FHIR resource id; one prescription per message.",
    )
    prescriber_order_number = models.CharField(max_length=100, blank=True)
    raw_message = models.TextField(blank=True)
    original_document = models.FileField(upload_to="prescriptions/%Y/%m/", blank=True)
    received_data = models.JSONField(default=dict, blank=True)
    intake_issues = ArrayField(
        models.CharField(max_length=24, choices=IntakeIssue.choices), default=list, blank=True
    )
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="prescriptions"
    )
    prescriber = models.ForeignKey(
        Prescriber, null=True, blank=True, on_delete=models.PROTECT, related_name="prescriptions"
    )
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="prescriptions"
    )
    prescribed_ndc = models.CharField("prescribed NDC", max_length=11, blank=True)
    drug_description = models.CharField(max_length=255)
    dea_schedule = models.CharField(
        "DEA schedule", max_length=4, choices=DEASchedule.choices, blank=True
    )
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    quantity_unit = models.CharField(max_length=40)
    days_supply = models.PositiveIntegerField(null=True, blank=True)
    refills_authorized = models.PositiveSmallIntegerField(default=0)
    sig_text = models.TextField("sig as written")
    directions = models.TextField("directions for the label")
    substitutions_allowed = models.BooleanField(default=True)
    child_resistant_waived = models.BooleanField(
        default=False, help_text="The prescriber asked for non-child-resistant packaging."
    )
    written_date = models.DateField()
    expires_on = models.DateField()
    note = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A phone (verbal) order: who called from the prescriber's office, the number to call
    # back, and the pharmacist who took it where the state requires one (settings).
    caller_office = models.CharField(max_length=120, blank=True)
    caller_name = models.CharField(max_length=120, blank=True)
    callback_phone = models.CharField(max_length=30, blank=True)
    verbal_order_taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = PrescriptionQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "received_at"], name="prescription_status_idx"),
            models.Index(fields=["patient", "-received_at"], name="prescription_patient_idx"),
        ]

    def __str__(self):
        return f"Rx {self.rx_number} {self.drug_description}"

    @property
    def is_controlled(self) -> bool:
        return self.dea_schedule != DEASchedule.NONE

    @property
    def controlled_schedule(self) -> str:
        """The DEA schedule the pharmacy treats this prescription under: the stricter of
        the one received and the matched product's (the catalogue decides when a sender
        stated none); "" when neither is controlled. Read by PV1 (the PDMP check it
        requires, the DEA checks it shows)."""
        named = [
            s for s in (self.dea_schedule, self.product.dea_schedule if self.product else "") if s
        ]
        return min(named, key=SCHEDULE_ORDER.index) if named else DEASchedule.NONE

    def refills_remaining(self, *, dispensings: int | None = None) -> int:
        """Refills left: authorised minus the dispensings beyond the first, counted as
        ``PrescriptionQuerySet.with_refills_used`` counts them: from its ``dispensings``
        annotation when the prescription was read with it, else in one query. Given
        ``dispensings``, the refills left after that many (an Rx label prints them as of
        its own fill)."""
        if dispensings is None:
            dispensings = getattr(self, "dispensings", None)
        if dispensings is None:
            dispensings = (
                Prescription.objects.filter(pk=self.pk)
                .with_refills_used()
                .values_list("dispensings", flat=True)
                .get()
            )
        return max(self.refills_authorized - max(dispensings - 1, 0), 0)


class Order(models.Model):
    """A patient's request that ships as one package: one or more fills.

    Its ``status`` is not stored: it follows from its fills (``order_status``), so it can
    never disagree with them. Read orders with ``prefetch_related("fills")``.
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        ON_HOLD = "on_hold", "On hold"
        READY_TO_PACK = "ready_to_pack", "Ready to pack"
        PACKED = "packed", "Packed"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="orders")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"Order {self.pk}"

    @property
    def status(self) -> str:
        return order_status([fill.status for fill in self.fills.all()])


def order_status(fill_statuses: list[str]) -> str:
    """An order's status from its fills' statuses. Cancelled fills do not count, unless
    every fill is cancelled. The order is shipped, packed or ready to pack only when
    every other fill is at least that far (it ships as one package, after every fill
    passed PV2); otherwise it is on hold if any fill is, else in progress (an order
    without fills yet too)."""
    active = [status for status in fill_statuses if status != Fill.Status.CANCELLED]
    if fill_statuses and not active:
        return Order.Status.CANCELLED
    if not active:
        return Order.Status.IN_PROGRESS
    for order_step, fill_steps in (
        (Order.Status.SHIPPED, {Fill.Status.SHIPPED}),
        (Order.Status.PACKED, {Fill.Status.PACKED, Fill.Status.SHIPPED}),
        (
            Order.Status.READY_TO_PACK,
            {Fill.Status.READY_TO_PACK, Fill.Status.PACKED, Fill.Status.SHIPPED},
        ),
    ):
        if all(status in fill_steps for status in active):
            return order_step
    if Fill.Status.ON_HOLD in active:
        return Order.Status.ON_HOLD
    return Order.Status.IN_PROGRESS


# Crockford's base32 without I, L, O, U: nothing a person could misread off a label.
LABEL_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_label_code() -> str:
    """A random 12-character code (60 bits) for a fill's vial label barcode."""
    return "".join(secrets.choice(LABEL_CODE_ALPHABET) for _ in range(12))


# Stock ledger rows of a fill carry the reference "fill:<id>" (Fill.stock_reference).
FILL_STOCK_REFERENCE_PREFIX = "fill:"


class FillQuerySet(models.QuerySet):
    def open(self) -> "FillQuerySet":
        return self.exclude(status__in=[Fill.Status.SHIPPED, Fill.Status.CANCELLED])

    def in_queue(self, status: str) -> "FillQuerySet":
        """The fills waiting at one step, most urgent first: promised date, cold chain,
        priority, then the oldest (the index ``fill_queue_idx`` serves this order)."""
        return self.filter(status=status).order_by(*QUEUE_ORDER)

    def with_work_details(self) -> "FillQuerySet":
        """With what a queue row or a work page shows of each fill, in the same query: the
        prescription and its drug (``product_strengths``: its strength pairs, for
        ``Product.full_description``), the order and who claimed it."""
        return self.select_related("prescription__product", "order", "claimed_by").annotate(
            product_strengths=strength_pairs_of(models.OuterRef("prescription__product_id"))
        )


class Fill(models.Model):
    """One dispensing of a prescription (fill number 0 is the original, then refills).

    Its status moves only through ``orders.services.workflow.transition_fill``, along
    FILL_MOVES. After the fill step it records what went into the vial: package, lot,
    expiry, serial and quantity, as scanned. ``label_code`` is printed as the vial label's
    barcode, scanned at PV2 and at packing.
    """

    class Status(models.TextChoices):
        INTAKE = "intake", "Intake"
        PV1 = "pv1", "Waiting for PV1"
        FILL = "fill", "Waiting to be filled"
        PV2 = "pv2", "Waiting for PV2"
        READY_TO_PACK = "ready_to_pack", "Ready to pack"
        PACKED = "packed", "Packed"
        SHIPPED = "shipped", "Shipped"
        ON_HOLD = "on_hold", "On hold"
        CANCELLED = "cancelled", "Cancelled"

    class Priority(models.IntegerChoices):
        # Lower sorts first in the queues.
        URGENT = 0, "Urgent"
        NORMAL = 1, "Normal"

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="fills")
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fills",
        help_text="Empty while the patient is not matched yet.",
    )
    fill_number = models.PositiveSmallIntegerField(default=0)
    partial_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="remainders",
        help_text="Set on the remainder of a partial fill; it shares that fill's number.",
    )
    replacement_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replacements",
        help_text="Set on a fill that replaces one lost or damaged in shipping (a reship); "
        "it shares that fill's number.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INTAKE)
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    days_supply = models.PositiveIntegerField(null=True, blank=True)
    requested_via = models.CharField(max_length=20, default="new_prescription")
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)

    # Queue order (issue 5).
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    promised_on = models.DateField(
        null=True, blank=True, help_text="The day the order was promised to ship."
    )
    is_cold_chain = models.BooleanField(
        default=False, help_text="Refrigerated product: ships before room-temperature work."
    )
    label_code = models.CharField(
        max_length=16,
        unique=True,
        default=new_label_code,
        editable=False,
        help_text="Printed as the vial label's barcode; scanned at PV2 and at packing.",
    )

    # Who works on it now: a claim keeps two people off the same fill.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    held_from_status = models.CharField(
        max_length=16, choices=Status.choices, blank=True,
        help_text="While on hold: the step a release returns the fill to.",
    )  # fmt: skip

    # What went into the vial, recorded at the fill step (empty again after a PV2 reject).
    dispensed_package = models.ForeignKey(
        "inventory.Package", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispensed_ndc = models.CharField("dispensed NDC", max_length=12, blank=True)
    dispensed_quantity = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    stock_lot = models.ForeignKey(
        "inventory.StockLot", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lot_number = models.CharField(max_length=40, blank=True)
    expiry = models.DateField(null=True, blank=True)
    serial_number = models.CharField(max_length=40, blank=True)
    lot_entered_by_hand = models.BooleanField(
        default=False,
        help_text="The lot was typed by the technician, not read from the bottle's scan: "
        "PV2 checks it against the bottle.",
    )
    rotation_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why a later-expiring lot was taken while an earlier usable one was in "
        "stock (first expiring, first out); shown at PV2.",
    )

    # The three people the law asks about: who checked the data, who filled, who verified.
    pv1_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pv1_at = models.DateTimeField(null=True, blank=True)
    filled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    filled_at = models.DateTimeField(null=True, blank=True)
    pv2_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pv2_at = models.DateTimeField(null=True, blank=True)

    objects = FillQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["prescription", "fill_number"],
                condition=Q(partial_of__isnull=True, replacement_of__isnull=True),
                name="fill_number_unique",
            ),
            models.CheckConstraint(
                condition=Q(dispensed_quantity__isnull=True) | Q(dispensed_quantity__gt=0),
                name="fill_dispensed_quantity_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="fill_status_idx"),
            # The oldest wait of a queue, shown on its tab.
            models.Index(fields=["status", "status_changed_at"], name="fill_status_wait_idx"),
            models.Index(
                "status",
                "promised_on",
                models.F("is_cold_chain").desc(),
                "priority",
                "created_at",
                "id",
                name="fill_queue_idx",
            ),  # fmt: skip
        ]

    def __str__(self):
        return f"Fill {self.pk} of Rx {self.prescription.rx_number}"

    @property
    def stock_reference(self) -> str:
        """The stock ledger's reference of this fill's dispensing and returns (the recall
        trace, ``orders.services.recalls``, reads it back)."""
        return f"{FILL_STOCK_REFERENCE_PREFIX}{self.pk}"


# The queue order of FillQuerySet.in_queue: promised date (none last), cold chain first,
# urgent first, then oldest first.
QUEUE_ORDER = (
    models.F("promised_on").asc(nulls_last=True),
    "-is_cold_chain",
    "priority",
    "created_at",
    "pk",
)


# Every allowed move of a fill: from status -> {to status: roles that may make it}.
# ``orders.services.workflow.transition_fill`` refuses anything not listed here. A
# rejection is a move back (PV1 -> intake, PV2 -> fill); a hold remembers where the fill
# was (``held_from_status``) and a release returns it there.
_TECH, _PHARM = Role.TECHNICIAN, Role.PHARMACIST
FILL_MOVES: dict[str, dict[str, frozenset[str]]] = {
    Fill.Status.INTAKE: {
        Fill.Status.PV1: frozenset({_TECH, _PHARM}),
        Fill.Status.ON_HOLD: frozenset({_TECH, _PHARM}),
        Fill.Status.CANCELLED: frozenset({_TECH, _PHARM}),
    },
    Fill.Status.PV1: {
        Fill.Status.FILL: frozenset({_PHARM}),  # PV1 approved
        Fill.Status.INTAKE: frozenset({_PHARM}),  # PV1 rejected back to data entry
        Fill.Status.ON_HOLD: frozenset({_TECH, _PHARM}),
        Fill.Status.CANCELLED: frozenset({_PHARM}),
    },
    Fill.Status.FILL: {
        Fill.Status.PV2: frozenset({_TECH, _PHARM}),  # filled with a matching scan
        Fill.Status.ON_HOLD: frozenset({_TECH, _PHARM}),
        Fill.Status.CANCELLED: frozenset({_PHARM}),
    },
    Fill.Status.PV2: {
        Fill.Status.READY_TO_PACK: frozenset({_PHARM}),  # PV2 approved
        Fill.Status.FILL: frozenset({_PHARM}),  # PV2 rejected: stock back, fill again
        Fill.Status.ON_HOLD: frozenset({_PHARM}),
    },
    Fill.Status.READY_TO_PACK: {
        Fill.Status.PACKED: frozenset({_TECH, _PHARM}),
        Fill.Status.ON_HOLD: frozenset({_PHARM}),
    },
    Fill.Status.PACKED: {Fill.Status.SHIPPED: frozenset({_TECH, _PHARM})},
    Fill.Status.ON_HOLD: {
        # Release returns to held_from_status; the service checks it is that one.
        Fill.Status.INTAKE: frozenset({_TECH, _PHARM}),
        Fill.Status.PV1: frozenset({_TECH, _PHARM}),
        Fill.Status.FILL: frozenset({_TECH, _PHARM}),
        Fill.Status.PV2: frozenset({_PHARM}),
        Fill.Status.READY_TO_PACK: frozenset({_PHARM}),
        Fill.Status.CANCELLED: frozenset({_PHARM}),
    },
    Fill.Status.SHIPPED: {},
    Fill.Status.CANCELLED: {},
}


class FillEvent(models.Model):
    """A move of a fill from one status to another: who, when, from, to, why."""

    fill = models.ForeignKey(Fill, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason_code = models.CharField(max_length=32, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]

    def __str__(self):
        return f"{self.fill_id}: {self.from_status or '-'} -> {self.to_status}"

    @property
    def from_label(self) -> str:
        """Where the fill was, in words ("Waiting for PV1"); "" for its first event."""
        return _status_words(self.from_status) if self.from_status else ""

    @property
    def to_label(self) -> str:
        return _status_words(self.to_status)


def _status_words(status: str) -> str:
    """A fill status as people read it; a value no longer in ``Fill.Status`` is named as
    such rather than shown as a code."""
    return dict(Fill.Status.choices).get(status, "A step no longer in use")


class HoldReason(models.TextChoices):
    """Why a fill is on hold (DESIGN.md section 2)."""

    OUT_OF_STOCK = "out_of_stock", "Out of stock"
    DAMAGED_STOCK = "damaged_stock", "Damaged stock"
    DISCREPANCY = "discrepancy", "Discrepancy with the prescription"
    CLARIFICATION = "clarification", "Clarification needed from the prescriber"
    INSURANCE = "insurance", "Insurance"
    PATIENT_REQUEST = "patient_request", "Patient request"


class FillHold(models.Model):
    """A fill put on hold with a coded reason, and its release (the fill returns to
    ``from_status``). At most one open hold per fill."""

    fill = models.ForeignKey(Fill, on_delete=models.CASCADE, related_name="holds")
    reason_code = models.CharField(max_length=20, choices=HoldReason.choices)
    note = models.TextField(blank=True)
    from_status = models.CharField(max_length=16, choices=Fill.Status.choices)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    placed_at = models.DateTimeField(auto_now_add=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["fill"], condition=Q(released_at__isnull=True), name="one_open_hold"
            )
        ]

    def __str__(self):
        return f"Hold on fill {self.fill_id}: {self.get_reason_code_display()}"


class OverrideReason(models.TextChoices):
    """A pharmacist's coded reason for passing a drug-check alert at PV1 (NCPDP DUR
    professional service and result codes, in words)."""

    PRESCRIBER_CONSULTED = "prescriber_consulted", "Prescriber consulted, approved as written"
    PATIENT_CONSULTED = "patient_consulted", "Patient consulted, tolerates the drug"
    PREVIOUSLY_TOLERATED = "previously_tolerated", "Previously tolerated by the patient"
    BENEFIT_OUTWEIGHS_RISK = "benefit_outweighs_risk", "Benefit outweighs the risk"
    DOSE_VERIFIED = "dose_verified", "Dose or quantity verified as intended"
    THERAPY_CHANGE = "therapy_change", "Intended therapy change (old drug stopped)"
    NOT_CLINICALLY_SIGNIFICANT = "not_significant", "Not clinically significant"
    CHECKED_MANUALLY = "checked_manually", "Checked by hand against a reference"


class DurOverride(models.Model):
    """A pharmacist's reasoned pass of one drug-check alert at PV1 of one fill."""

    alert = models.ForeignKey("DurAlert", on_delete=models.CASCADE, related_name="overrides")
    fill = models.ForeignKey(Fill, on_delete=models.CASCADE, related_name="dur_overrides")
    reason_code = models.CharField(max_length=24, choices=OverrideReason.choices)
    note = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "fill"], name="one_override_per_alert")
        ]

    def __str__(self):
        return f"Override of alert {self.alert_id}: {self.reason_code}"


class PdmpCheck(models.Model):
    """A pharmacist's look-up of the patient in the state prescription-monitoring program
    (PDMP) before a controlled-substance fill passes PV1: who looked, when, in which
    state's program, and what it showed. Most states require it before each dispensing
    of a controlled substance, so it belongs to the fill; ``approve_pv1`` refuses a
    controlled fill without one whose result allows dispensing. Written by
    ``orders.services.workflow.record_pdmp_check``; never changed afterwards (a new look
    is a new row)."""

    class Result(models.TextChoices):
        NO_CONCERNS = "no_concerns", "No concerns found"
        CONCERNS_RESOLVED = (
            "concerns_resolved",
            "Concerns found and resolved (prescriber or patient consulted)",
        )
        CONCERNS_UNRESOLVED = "concerns_unresolved", "Concerns found, not resolved: do not fill"

    fill = models.ForeignKey(Fill, on_delete=models.CASCADE, related_name="pdmp_checks")
    state = models.CharField(max_length=2, help_text="The state whose program was checked.")
    result = models.CharField(max_length=20, choices=Result.choices)
    reference = models.CharField(
        max_length=60, blank=True, help_text="The program's report or request number, if any."
    )
    note = models.TextField(blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-checked_at", "-pk"]
        verbose_name = "PDMP check"

    def __str__(self):
        return f"PDMP check of fill {self.fill_id}: {self.get_result_display()}"

    @property
    def allows_dispensing(self) -> bool:
        return self.result != self.Result.CONCERNS_UNRESOLVED


class ScanEntry(models.TextChoices):
    """How a code reached a scan field: read by a scanner (a burst of keys ending in
    Enter) or typed on a keyboard. A browser field says which from its key timing
    (``static/js/scan_entry.js``); anything that does not say is taken as typed."""

    SCANNED = "scanned", "Scanned"
    TYPED = "typed", "Typed by hand"


class FillScan(models.Model):
    """Every scan made at the fill station or at PV2, accepted or refused, so a wrong
    product that was stopped is on record (who scanned what, and why it was refused).
    A vial label code typed by hand at PV2 passes only with the pharmacist's reason
    (``typed_reason``)."""

    class Step(models.TextChoices):
        FILL = "fill", "Fill"
        PV2 = "pv2", "PV2"

    fill = models.ForeignKey(Fill, on_delete=models.CASCADE, related_name="scans")
    step = models.CharField(max_length=4, choices=Step.choices)
    raw = models.CharField(max_length=200)
    is_accepted = models.BooleanField()
    refusal_code = models.CharField(max_length=32, blank=True)
    message = models.CharField(max_length=300, blank=True)
    scanned_ndc = models.CharField(max_length=12, blank=True)
    lot_number = models.CharField(max_length=40, blank=True)
    entry = models.CharField(max_length=8, choices=ScanEntry.choices, default=ScanEntry.SCANNED)
    typed_reason = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        outcome = "accepted" if self.is_accepted else self.refusal_code
        return f"{self.step} scan on fill {self.fill_id}: {outcome}"


class Discrepancy(models.Model):
    """Something found wrong with a fill (a wrong count, a damaged bottle, a mismatch at
    PV2): a record that stays open until someone writes its resolution, linked to the
    stock movement it caused, if any."""

    class Kind(models.TextChoices):
        WRONG_COUNT = "wrong_count", "Wrong count"
        DAMAGED_STOCK = "damaged_stock", "Damaged stock bottle"
        WRONG_PRODUCT = "wrong_product", "Wrong product scanned"
        PV2_MISMATCH = "pv2_mismatch", "Mismatch found at PV2"
        LABEL_ERROR = "label_error", "Label error"
        PRESCRIPTION = "prescription", "Discrepancy with the prescription"
        OTHER = "other", "Other"

    fill = models.ForeignKey(Fill, on_delete=models.PROTECT, related_name="discrepancies")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField()
    found_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    found_at = models.DateTimeField(auto_now_add=True)
    stock_movement = models.ForeignKey(
        "inventory.StockMovement", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", help_text="The stock adjustment or return this discrepancy caused.",
    )  # fmt: skip
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-found_at", "-pk"]
        verbose_name_plural = "discrepancies"

    def __str__(self):
        return f"{self.get_kind_display()} on fill {self.fill_id}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class RxLabel(models.Model):
    """A rendered Rx vial label PDF of a fill. The newest per fill is current; a label
    is made again only when the data printed on it change (``content_hash``), so a task
    that runs twice, or dies and retries, leaves one current label."""

    fill = models.ForeignKey(Fill, on_delete=models.CASCADE, related_name="labels")
    content_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the data printed on the label."
    )
    pdf = models.BinaryField()
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["fill"], condition=Q(is_current=True), name="one_current_rx_label"
            ),
            models.UniqueConstraint(
                fields=["fill", "content_hash"], name="rx_label_content_unique"
            ),
        ]

    def __str__(self):
        return f"Label of fill {self.fill_id} ({self.content_hash[:8]})"


class DurAlertQuerySet(models.QuerySet):
    def for_fill(self, fill: Fill) -> "DurAlertQuerySet":
        """The alerts the pharmacist resolves at this fill's PV1: those raised for the fill,
        and any raised for its prescription as a whole (no fill)."""
        return self.for_fill_ids(fill.pk, fill.prescription_id)

    def for_fill_ids(self, fill_id, prescription_id) -> "DurAlertQuerySet":
        """``for_fill`` by ids, or by ``OuterRef``s to them (the PV1 queue counts each
        row's alerts in its own statement)."""
        return self.filter(
            Q(fill_id=fill_id) | Q(prescription_id=prescription_id, fill__isnull=True)
        )


class DurAlert(models.Model):
    """A drug-check alert raised at intake (or refill) for the pharmacist at PV1."""

    class Type(models.TextChoices):
        INTERACTION = "interaction", "Drug-drug interaction"
        ALLERGY = "allergy", "Allergy"
        DUPLICATE_THERAPY = "duplicate_therapy", "Duplicate therapy"
        EARLY_REFILL = "early_refill", "Early refill"
        DOSE = "dose", "Quantity or days supply"
        NO_DATA = "no_data", "No interaction data"

    prescription = models.ForeignKey(
        Prescription, on_delete=models.CASCADE, related_name="dur_alerts"
    )
    fill = models.ForeignKey(
        Fill, null=True, blank=True, on_delete=models.CASCADE, related_name="dur_alerts"
    )
    type = models.CharField(max_length=20, choices=Type.choices)
    severity = models.CharField(max_length=20)
    message = models.TextField()
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DurAlertQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.type}: {self.message}"

    @property
    def severity_label(self) -> str:
        return severity_label(self.severity)


def severity_label(severity: str) -> str:
    """A drug-check severity as people read it ("Major"); a value outside the scale as
    "Severity not stated", never as a code. Used by the PV1 page and queue and by
    ``approve_pv1``'s refusal."""
    return dict(Severity.choices).get(severity, "Severity not stated")
