"""Shipping: shipments of orders, packing by scan, carrier labels, tracking, manifests,
delivery exceptions and reships, and the packaging rules a manager keeps as data."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from orders.models import Order
from pharmacy.models import Role

# Crockford's base32 without I, L, O, U (as orders.models.LABEL_CODE_ALPHABET).
PACKAGE_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_package_code() -> str:
    """A random package id printed on the carrier label and the packing slip ("PKG-" and
    10 characters, 50 bits), scanned at the packing station and in manifests."""
    return "PKG-" + "".join(secrets.choice(PACKAGE_CODE_ALPHABET) for _ in range(10))


class Carrier(models.TextChoices):
    """Carriers the pharmacy ships with. ``local`` is built in and needs no network."""

    LOCAL = "local", "Local delivery (built in)"
    EASYPOST = "easypost", "EasyPost"


class CarrierService(models.Model):
    """A carrier's service level, with what the packaging rules need to know about it.
    Kept by managers as data (the rules read it; nothing here is hard-coded)."""

    carrier = models.CharField(max_length=20, choices=Carrier.choices)
    code = models.CharField(max_length=40, help_text="The carrier's own service code.")
    name = models.CharField(max_length=100)
    transit_days = models.PositiveSmallIntegerField(help_text="Business days in transit.")
    delivers_saturday = models.BooleanField(default=False)
    allows_cold_chain = models.BooleanField(
        default=False, help_text="Overnight or 2-day: may carry refrigerated items."
    )
    allows_controlled = models.BooleanField(
        default=False, help_text="May carry controlled substances (with signature)."
    )
    offers_signature = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["carrier", "transit_days", "code"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "code"], name="carrier_service_unique")
        ]

    def __str__(self):
        return f"{self.get_carrier_display()} {self.name}"


class ShippingRules(models.Model):
    """The packaging rules a manager can change: one row (pk 1), read by
    ``shipping.services.rules.packaging_plan``."""

    cold_chain_max_transit_days = models.PositiveSmallIntegerField(
        default=2, help_text="Refrigerated items: overnight or 2-day services only."
    )
    cold_packs_per_transit_day = models.PositiveSmallIntegerField(default=2)
    cold_packs_minimum = models.PositiveSmallIntegerField(default=2)
    controlled_requires_signature = models.BooleanField(default=True)
    controlled_plain_packaging = models.BooleanField(default=True)
    no_weekend_transit_for_cold_chain = models.BooleanField(
        default=True,
        help_text="Refrigerated packages never sit in transit over a weekend or holiday.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name_plural = "shipping rules"

    def __str__(self):
        return "Shipping rules"


class CarrierHoliday(models.Model):
    """A day a carrier (or every carrier, when blank) does not move packages."""

    day = models.DateField()
    carrier = models.CharField(max_length=20, choices=Carrier.choices, blank=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["day", "carrier"]
        constraints = [
            models.UniqueConstraint(fields=["day", "carrier"], name="carrier_holiday_unique")
        ]

    def __str__(self):
        return f"{self.day} {self.name}"


class Shipment(models.Model):
    """One package of an order to a patient's door: the address as it was when the
    shipment was made, the packaging the rules chose, the carrier's label and tracking.

    Its status moves only through ``shipping.services``, along SHIPMENT_MOVES, with a
    ShipmentEvent for every change. A reship is a new shipment with ``reship_of`` set.
    """

    class Status(models.TextChoices):
        AWAITING_PACKING = "awaiting_packing", "Awaiting packing"
        PACKED = "packed", "Packed"
        LABELLED = "labelled", "Labelled"
        HANDED_TO_CARRIER = "handed_to_carrier", "Handed to carrier"
        IN_TRANSIT = "in_transit", "In transit"
        DELIVERED = "delivered", "Delivered"
        EXCEPTION = "exception", "Delivery exception"
        RETURNED = "returned", "Returned"

    class Packaging(models.TextChoices):
        STANDARD = "standard", "Standard mailer"
        PLAIN = "plain", "Plain outer box (controlled substance)"
        INSULATED = "insulated", "Insulated box with cold packs"
        INSULATED_PLAIN = "insulated_plain", "Plain insulated box with cold packs"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_PACKING
    )
    package_code = models.CharField(
        max_length=16, unique=True, default=new_package_code, editable=False
    )
    reship_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reships"
    )

    # The address as it was when the shipment was made (the patient may move later).
    ship_to_name = models.CharField(max_length=200)
    ship_to_line1 = models.CharField(max_length=200)
    ship_to_line2 = models.CharField(max_length=200, blank=True)
    ship_to_city = models.CharField(max_length=100)
    ship_to_state = models.CharField(max_length=2)
    ship_to_postal_code = models.CharField(max_length=10)
    ship_to_phone = models.CharField(max_length=30, blank=True)

    # What the packaging rules decided (shown to the packer as instructions).
    is_cold_chain = models.BooleanField(default=False)
    is_controlled = models.BooleanField(default=False)
    packaging = models.CharField(
        max_length=20, choices=Packaging.choices, default=Packaging.STANDARD
    )
    cold_packs = models.PositiveSmallIntegerField(default=0)
    signature_required = models.BooleanField(default=False)
    instructions = models.JSONField(default=list, blank=True)

    carrier = models.CharField(max_length=20, choices=Carrier.choices, blank=True)
    service = models.ForeignKey(
        CarrierService, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    weight_oz = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)
    tracking_number = models.CharField(max_length=40, blank=True)
    carrier_shipment_id = models.CharField(
        max_length=80, blank=True, help_text="The carrier's own id (EasyPost shp_...)."
    )
    ship_on = models.DateField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    packed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    packed_at = models.DateTimeField(null=True, blank=True)
    typed_codes_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why a pharmacist packed vials whose label codes were typed, not scanned.",
    )
    handed_over_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    patient_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One first shipment per order; reships are extra shipments of the same order.
            models.UniqueConstraint(
                fields=["order"], condition=Q(reship_of__isnull=True), name="one_shipment_per_order"
            ),
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="tracking_number_unique",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="shipment_status_idx")]

    def __str__(self):
        return f"Shipment {self.package_code}"


# Every allowed move of a shipment: from -> {to: roles that may make it by hand}. Carrier
# events (webhooks) make the moves after HANDED_TO_CARRIER with no role.
_TECH, _PHARM, _MANAGER = Role.TECHNICIAN, Role.PHARMACIST, Role.MANAGER
SHIPMENT_MOVES: dict[str, dict[str, frozenset[str]]] = {
    Shipment.Status.AWAITING_PACKING: {Shipment.Status.PACKED: frozenset({_TECH, _PHARM})},
    Shipment.Status.PACKED: {
        Shipment.Status.LABELLED: frozenset({_TECH, _PHARM}),
        Shipment.Status.AWAITING_PACKING: frozenset({_PHARM}),  # unpacked to fix a problem
    },
    Shipment.Status.LABELLED: {
        Shipment.Status.HANDED_TO_CARRIER: frozenset({_TECH, _PHARM, _MANAGER}),
        Shipment.Status.AWAITING_PACKING: frozenset({_PHARM}),
    },
    Shipment.Status.HANDED_TO_CARRIER: {
        Shipment.Status.IN_TRANSIT: frozenset(),
        Shipment.Status.DELIVERED: frozenset(),
        Shipment.Status.EXCEPTION: frozenset({_TECH, _PHARM, _MANAGER}),
        Shipment.Status.RETURNED: frozenset({_TECH, _PHARM, _MANAGER}),
    },
    Shipment.Status.IN_TRANSIT: {
        Shipment.Status.DELIVERED: frozenset(),
        Shipment.Status.EXCEPTION: frozenset({_TECH, _PHARM, _MANAGER}),
        Shipment.Status.RETURNED: frozenset({_TECH, _PHARM, _MANAGER}),
    },
    Shipment.Status.EXCEPTION: {
        Shipment.Status.IN_TRANSIT: frozenset(),
        Shipment.Status.DELIVERED: frozenset(),
        Shipment.Status.RETURNED: frozenset({_TECH, _PHARM, _MANAGER}),
    },
    Shipment.Status.DELIVERED: {Shipment.Status.EXCEPTION: frozenset({_TECH, _PHARM, _MANAGER})},
    Shipment.Status.RETURNED: {},
}


class ShipmentEvent(models.Model):
    """A change of a shipment's status, by a person or by a carrier's tracking event."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    detail = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    carrier_event = models.ForeignKey(
        "CarrierEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(help_text="When it happened (the carrier's time).")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]

    def __str__(self):
        return f"{self.shipment_id}: {self.from_status or '-'} -> {self.to_status}"


class CarrierEvent(models.Model):
    """A tracking event as a carrier's webhook sent it, kept once per (carrier, event id):
    a replay finds it and changes nothing."""

    carrier = models.CharField(max_length=20, choices=Carrier.choices)
    event_id = models.CharField(max_length=100)
    tracking_number = models.CharField(max_length=40)
    status = models.CharField(max_length=30)
    occurred_at = models.DateTimeField()
    detail = models.CharField(max_length=255, blank=True)
    body = models.TextField(help_text="The raw body as received.")
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.PROTECT, related_name="carrier_events"
    )
    outcome = models.CharField(
        max_length=30, blank=True, help_text="applied, stale (older than the status), ..."
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "event_id"], name="carrier_event_once")
        ]

    def __str__(self):
        return f"{self.carrier} {self.event_id}: {self.status}"


class ShippingDocument(models.Model):
    """A rendered PDF of a shipment: the 4x6 carrier label or the patient's packing slip.
    At most one current document of each kind per shipment; a render is stored once per
    content hash, so a task that runs twice, or dies and retries, leaves one current."""

    class Kind(models.TextChoices):
        LABEL = "label", "Carrier label (4x6 in)"
        PACKING_SLIP = "packing_slip", "Packing slip"

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    content_hash = models.CharField(max_length=64)
    pdf = models.BinaryField()
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "kind"],
                condition=Q(is_current=True),
                name="one_current_shipping_document",
            ),
            models.UniqueConstraint(
                fields=["shipment", "kind", "content_hash"], name="shipping_document_unique"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.shipment_id}"


class LabelBatch(models.Model):
    """A wave of carrier labels printed together, with its progress for the browser."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    shipments = models.ManyToManyField(Shipment, related_name="label_batches")
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    pdf = models.BinaryField(null=True, blank=True, help_text="Every label of the wave, merged.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "label batches"

    def __str__(self):
        return f"Label batch {self.pk} ({self.done}/{self.total})"


class Manifest(models.Model):
    """The end-of-day list of packages handed to one carrier, as PDF and CSV."""

    carrier = models.CharField(max_length=20, choices=Carrier.choices)
    day = models.DateField()
    shipments = models.ManyToManyField(Shipment, related_name="manifests")
    pdf = models.BinaryField()
    csv = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "carrier"]
        constraints = [models.UniqueConstraint(fields=["carrier", "day"], name="manifest_unique")]

    def __str__(self):
        return f"{self.get_carrier_display()} manifest {self.day}"


class DeliveryException(models.Model):
    """Something went wrong on the way (damaged, lost, returned, temperature excursion):
    a record with a resolution, possibly a reship."""

    class Kind(models.TextChoices):
        DAMAGED = "damaged", "Damaged"
        LOST = "lost", "Lost"
        RETURNED = "returned", "Returned to the pharmacy"
        TEMPERATURE = "temperature", "Temperature excursion"
        OTHER = "other", "Other"

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="exceptions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField()
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField(auto_now_add=True)
    carrier_event = models.ForeignKey(
        CarrierEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    reship = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-reported_at", "-pk"]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.shipment_id}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
