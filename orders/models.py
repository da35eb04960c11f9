"""Prescriptions from intake to verified product: Prescription, Order, Fill, drug-check alerts."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from inventory.models import DEASchedule, Product
from pharmacy.models import Patient, Prescriber


class Channel(models.TextChoices):
    """How a prescription reached the pharmacy."""

    NCPDP = "ncpdp", "e-Prescription (NCPDP SCRIPT)"
    FHIR = "fhir", "e-Prescription (FHIR)"
    PHONE = "phone", "Phone"
    FAX = "fax", "Fax"
    WRITTEN = "written", "Written (mailed in)"


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

    def with_refills_used(self) -> "PrescriptionQuerySet":
        return self.annotate(
            dispensings=models.Count("fills", filter=~Q(fills__status=Fill.Status.CANCELLED))
        )


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

    rx_number = models.CharField("Rx number", max_length=12, unique=True)
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


class Order(models.Model):
    """A patient's request that ships as one package: one or more fills."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="orders")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"Order {self.pk}"


class FillQuerySet(models.QuerySet):
    def open(self) -> "FillQuerySet":
        return self.exclude(status__in=[Fill.Status.SHIPPED, Fill.Status.CANCELLED])


class Fill(models.Model):
    """One dispensing of a prescription (fill number 0 is the original, then refills).

    Its status moves only through the orders workflow service, along ALLOWED_MOVES.
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
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INTAKE)
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    days_supply = models.PositiveIntegerField(null=True, blank=True)
    requested_via = models.CharField(max_length=20, default="new_prescription")
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)

    objects = FillQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["prescription", "fill_number"], name="fill_number_unique"
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="fill_status_idx")]

    def __str__(self):
        return f"Fill {self.pk} of Rx {self.prescription.rx_number}"


class FillEvent(models.Model):
    """A move of a fill from one status to another: who, when, from, to, why."""

    fill = models.ForeignKey(Fill, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]

    def __str__(self):
        return f"{self.fill_id}: {self.from_status or '-'} -> {self.to_status}"


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

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.type}: {self.message}"
