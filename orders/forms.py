"""Forms of the orders app's pages: manual entry, intake resolution, phone refills.

Forms read what was typed into Python values; the rules of a prescription (quantity,
written date, refills for the schedule, DEA registration) live in
``orders.services.intake.receive_prescription``, whose ``IntakeError`` is shown beside the
field it concerns by ``ManualEntryForm.add_intake_error``.
"""

import re
from decimal import Decimal
from pathlib import PurePath

from django import forms
from django.utils import timezone

from inventory.models import Package, Product, Storage
from lib.text import validate_free_text
from lib.us_phones import us_phone_problem
from orders.intake.messages import (
    IncomingAddress,
    IncomingDrug,
    IncomingPatient,
    IncomingPrescriber,
    IncomingPrescription,
    IntakeError,
)
from orders.models import Channel, Discrepancy, HoldReason, OverrideReason, PdmpCheck, ScanEntry
from orders.services.intake import VerbalOrder
from orders.services.workflow import Correction, Override
from pharmacy.models import Patient, Prescriber, Role, User

# A fax page at 200 dpi is well under a megabyte; ten leave room for a phone photo or a
# multi-page PDF, and stop a wrong file (a video) from filling the disk.
MAX_ORIGINAL_BYTES = 10 * 1024 * 1024

# What an original may be: extension -> (kind, Content-Type it is served with). The
# file's first bytes must say the same kind, so a renamed file is refused.
ORIGINAL_TYPES = {
    ".pdf": ("PDF", "application/pdf"),
    ".png": ("PNG", "image/png"),
    ".jpg": ("JPEG", "image/jpeg"),
    ".jpeg": ("JPEG", "image/jpeg"),
    ".gif": ("GIF", "image/gif"),
    ".tif": ("TIFF", "image/tiff"),
    ".tiff": ("TIFF", "image/tiff"),
    ".webp": ("WebP", "image/webp"),
}
# Images a browser shows inline on the page; TIFF (common for faxes) and PDF are links.
INLINE_IMAGE_KINDS = {"PNG", "JPEG", "GIF", "WebP"}

QUANTITY_UNITS = [
    ("tablet", "tablets"),
    ("capsule", "capsules"),
    ("mL", "mL"),
    ("g", "grams"),
    ("each", "each (inhaler, pen, patch ...)"),
]

# Which field an intake refusal is about.
_INTAKE_ERROR_FIELDS = {
    "invalid_quantity": "quantity",
    "unknown_unit": "quantity_unit",
    "invalid_days_supply": "days_supply",
    "written_date_in_future": "written_date",
    "prescription_expired": "written_date",
    "too_many_refills": "refills",
    "schedule_i": "product",
    "dea_number_required": "prescriber",
    "dea_schedule_not_registered": "prescriber",
    "caller_required": "caller_office",
    "invalid_callback_phone": "callback_phone",
    "not_a_pharmacist": "verbal_order_taken_by",
    "verbal_order_pharmacist_required": "verbal_order_taken_by",
}
_CALLER_FIELDS = {
    "caller_office": "Enter the caller's office: the prescriber's practice or clinic.",
    "caller_name": "Enter the caller's name: who phoned the order in.",
    "callback_phone": "Enter the call-back number of the prescriber's office.",
}


def sniff_document_kind(head: bytes) -> str | None:
    """The kind of an original from its first bytes, or None when it is none we keep."""
    if head.startswith(b"%PDF-"):
        return "PDF"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


def original_document_type(name: str) -> tuple[str, str] | None:
    """(kind, Content-Type) of a stored original by its name, None for anything else."""
    return ORIGINAL_TYPES.get(PurePath(name).suffix.lower())


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _PickField(forms.ModelChoiceField):
    """A record chosen with a search-as-you-type picker: a hidden input holding its id."""

    def __init__(self, queryset, *, required_message: str, **kwargs):
        super().__init__(
            queryset,
            widget=forms.HiddenInput,
            error_messages={
                "required": required_message,
                "invalid_choice": "That choice is no longer on file; search again.",
            },
            **kwargs,
        )


class ManualEntryForm(forms.Form):
    """A phone or fax prescription typed by a technician from the original."""

    channel = forms.ChoiceField(
        choices=[(Channel.PHONE, "Phone"), (Channel.FAX, "Fax")],
        initial=Channel.PHONE,
        widget=forms.RadioSelect,
        label="Received by",
    )
    original_document = forms.FileField(
        required=False,
        label="Original (image or PDF)",
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(ORIGINAL_TYPES)}),
    )
    patient = _PickField(
        Patient.objects.all(),
        required_message="Pick the patient: search by name or date of birth, then choose one.",
    )
    caller_office = forms.CharField(
        required=False, max_length=120, label="Caller's office", validators=[validate_free_text]
    )
    caller_name = forms.CharField(
        required=False, max_length=120, label="Caller's name", validators=[validate_free_text]
    )
    callback_phone = forms.CharField(
        required=False,
        max_length=30,
        label="Call-back number",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    verbal_order_taken_by = forms.ModelChoiceField(
        User.objects.filter(is_active=True, groups__name=Role.PHARMACIST).order_by(
            "last_name", "first_name", "username"
        ),
        required=False,
        label="Pharmacist who took the order",
        empty_label="(no pharmacist named)",
        error_messages={
            "invalid_choice": "Choose an active pharmacist from the list: only a pharmacist "
            "may take a new verbal order."
        },
    )
    prescriber = _PickField(
        Prescriber.objects.all(),
        required_message="Pick the prescriber: search by name or NPI, then choose one.",
    )
    product = _PickField(
        Product.objects.all(),
        required_message="Pick the drug: search by name or NDC, or scan the package.",
    )
    package = forms.CharField(required=False, widget=forms.HiddenInput)
    quantity = forms.DecimalField(
        max_digits=10,
        decimal_places=3,
        error_messages={
            "required": "Enter the quantity prescribed.",
            "invalid": "The quantity is a number, such as 30 or 150.5.",
        },
    )
    quantity_unit = forms.ChoiceField(choices=QUANTITY_UNITS, label="Unit")
    sig_text = forms.CharField(
        label="Sig (directions as prescribed)",
        max_length=1000,
        error_messages={"required": "Enter the directions (sig), such as 1 PO BID."},
        validators=[validate_free_text],
    )
    days_supply = forms.IntegerField(
        required=False,
        label="Days supply",
        help_text="Worked out from the quantity and the sig when it allows; change it if needed.",
        error_messages={"invalid": "The days supply is a whole number of days."},
    )
    refills = forms.IntegerField(
        initial=0,
        min_value=0,
        label="Refills",
        error_messages={
            "required": "Enter the number of refills (0 for none).",
            "min_value": "Refills cannot be negative.",
        },
    )
    written_date = forms.DateField(
        widget=_date_input(),
        error_messages={
            "required": "Enter the date the prescription was written.",
            "invalid": "Enter the written date as YYYY-MM-DD.",
        },
    )
    dispense_as_written = forms.BooleanField(
        required=False, label="Dispense as written (no generic substitution)"
    )
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), validators=[validate_free_text]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["written_date"].initial = timezone.localdate

    def clean_original_document(self):
        upload = self.cleaned_data.get("original_document")
        if not upload:
            return None
        name = PurePath(upload.name).name
        if upload.size == 0:
            raise forms.ValidationError(f"The file {name} is empty.")
        if upload.size > MAX_ORIGINAL_BYTES:
            raise forms.ValidationError(
                f"The file {name} is {_megabytes(upload.size)}; the limit is "
                f"{_megabytes(MAX_ORIGINAL_BYTES)}. Scan at a lower resolution or in black "
                "and white."
            )
        expected = original_document_type(name)
        upload.seek(0)
        kind = sniff_document_kind(upload.read(16))
        upload.seek(0)
        if expected is None or kind is None:
            raise forms.ValidationError(
                f"The file {name} is not an image or a PDF. Upload the original as PDF, "
                "PNG, JPEG, GIF, TIFF or WebP."
            )
        if kind != expected[0]:
            raise forms.ValidationError(
                f"The file {name} is named as {expected[0]} but its content is {kind}; "
                "save it with the right extension and upload it again."
            )
        return upload

    def clean_package(self):
        return self.cleaned_data.get("package", "").strip()

    def clean(self):
        data = super().clean()
        if data.get("channel") == Channel.FAX and not data.get("original_document"):
            if "original_document" not in self.errors:
                self.add_error(
                    "original_document", "A fax prescription needs the image or PDF of the fax."
                )
        if data.get("channel") == Channel.PHONE:
            for name, message in _CALLER_FIELDS.items():
                if not data.get(name, "").strip() and name not in self.errors:
                    self.add_error(name, message)
        phone = data.get("callback_phone", "").strip()
        if phone and (problem := us_phone_problem(phone)):
            self.add_error("callback_phone", problem)
        days_supply = data.get("days_supply")
        if days_supply is not None and days_supply < 1:
            self.add_error("days_supply", "The days supply is at least 1 day.")
        product, package = data.get("product"), data.get("package")
        if product and package:
            data["package_record"] = Package.objects.filter(
                product=product, package_ndc=package
            ).first()
            if data["package_record"] is None:
                self.add_error("product", "The package scanned is not one of this drug's.")
        return data

    def add_intake_error(self, error: IntakeError) -> None:
        """Show intake's refusal beside the field it is about (at the top otherwise)."""
        self.add_error(_INTAKE_ERROR_FIELDS.get(error.code), error.description)

    def verbal_order(self) -> VerbalOrder:
        """Who called the order in (a fax may name them too), and the pharmacist who took
        a phone order."""
        data = self.cleaned_data
        return VerbalOrder(
            caller_office=data["caller_office"],
            caller_name=data["caller_name"],
            callback_phone=data["callback_phone"],
            taken_by=data["verbal_order_taken_by"] if data["channel"] == Channel.PHONE else None,
        )

    def incoming_prescription(self, *, days_supply: int | None) -> IncomingPrescription:
        """The prescription as typed, in the shape every intake channel hands over."""
        data = self.cleaned_data
        patient: Patient = data["patient"]
        prescriber: Prescriber = data["prescriber"]
        product: Product = data["product"]
        address = patient.default_shipping_address
        package = data.get("package_record") or product.packages.order_by("package_ndc").first()
        strengths = "; ".join(
            f"{s.ingredient.name} {s.strength} {s.strength_unit}".strip()
            for s in product.strengths.select_related("ingredient")
        )
        return IncomingPrescription(
            message_id="",
            channel=data["channel"],
            written_date=data["written_date"],
            patient=IncomingPatient(
                first_name=patient.first_name,
                last_name=patient.last_name,
                middle_name=patient.middle_name,
                date_of_birth=patient.date_of_birth,
                sex=patient.sex,
                phone=patient.phone,
                address=IncomingAddress(
                    line1=address.line1,
                    line2=address.line2,
                    city=address.city,
                    state=address.state,
                    postal_code=address.postal_code,
                )
                if address
                else IncomingAddress(),
            ),
            prescriber=IncomingPrescriber(
                first_name=prescriber.first_name,
                last_name=prescriber.last_name,
                npi=prescriber.npi,
                dea_number=prescriber.dea_number,
                state_license=prescriber.state_license_number,
                phone=prescriber.phone,
                fax=prescriber.fax,
            ),
            drug=IncomingDrug(
                description=product.display_name,
                ndc=package.ndc11 if package else None,
                strength=strengths,
                dosage_form=product.dosage_form,
                dea_schedule=product.dea_schedule,
            ),
            quantity=data["quantity"],
            quantity_unit=data["quantity_unit"],
            sig_text=data["sig_text"].strip(),
            days_supply=days_supply,
            refills=data["refills"],
            substitutions_allowed=not data["dispense_as_written"],
            note=data.get("note", "").strip(),
        )


class ResolveIntakeForm(forms.Form):
    """The technician's choices for what holds a prescription in the intake queue."""

    patient = forms.ModelChoiceField(
        Patient.objects.all(), required=False, widget=forms.HiddenInput
    )
    create_patient_as_received = forms.BooleanField(
        required=False, label="None of these: create the patient as received"
    )
    prescriber = forms.ModelChoiceField(
        Prescriber.objects.all(), required=False, widget=forms.HiddenInput
    )
    product = forms.ModelChoiceField(
        Product.objects.all(), required=False, widget=forms.HiddenInput
    )
    dea_schedules_verified = forms.BooleanField(required=False)


_RX_PREFIX = re.compile(r"^\s*(?:rx)?\s*(?:#|no\.?|number)?\s*", re.IGNORECASE)


def rx_number_from_text(text: str) -> str:
    """The Rx number in what was typed or scanned: "Rx #1000123", "no. 1000123" -> "1000123"."""
    return _RX_PREFIX.sub("", text).strip()


class RefillRequestForm(forms.Form):
    """A patient on the phone asks for a refill: the Rx number (typed or scanned from the
    vial label) and their date of birth."""

    rx_number = forms.CharField(
        label="Rx number",
        max_length=40,
        error_messages={"required": "Enter or scan the Rx number from the vial label."},
    )
    date_of_birth = forms.DateField(
        widget=_date_input(),
        error_messages={
            "required": "Enter the patient's date of birth.",
            "invalid": "Enter the date of birth as YYYY-MM-DD.",
        },
    )
    # Only when the refill is scheduled (too soon today): blank means the first date the
    # refill is due.
    fill_on = forms.DateField(
        required=False,
        widget=_date_input(),
        label="Fill on",
        error_messages={"invalid": "Enter the date to fill on as YYYY-MM-DD."},
    )

    def clean_rx_number(self):
        text = rx_number_from_text(self.cleaned_data["rx_number"])
        if not text:
            raise forms.ValidationError("Enter or scan the Rx number from the vial label.")
        return text


# --------------------------------------------------------------------------- fill workflow


def _reason_field(label: str, required_message: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": required_message},
        validators=[validate_free_text],
    )


class Pv1ApprovalForm(forms.Form):
    """The pharmacist's coded override reason (and an optional note) for each drug-check
    alert of the fill: fields ``override_<alert id>`` and ``note_<alert id>``.

    A reason left empty is passed over, not refused here: ``approve_pv1`` refuses an
    approval with any alert left without a reason, in its own words.
    """

    def __init__(self, *args, alerts, **kwargs):
        super().__init__(*args, **kwargs)
        self.alerts = list(alerts)
        for alert in self.alerts:
            self.fields[f"override_{alert.pk}"] = forms.ChoiceField(
                label="Override reason",
                choices=[("", "Choose a reason…"), *OverrideReason.choices],
                required=False,
                error_messages={"invalid_choice": "Choose one of the listed override reasons."},
            )
            self.fields[f"note_{alert.pk}"] = forms.CharField(
                label="Note", required=False, max_length=1000, validators=[validate_free_text]
            )

    def overrides(self) -> list[Override]:
        data = self.cleaned_data
        return [
            Override(
                alert_id=alert.pk,
                reason_code=data[f"override_{alert.pk}"],
                note=data[f"note_{alert.pk}"].strip(),
            )
            for alert in self.alerts
            if data.get(f"override_{alert.pk}")
        ]


class Pv1RejectForm(forms.Form):
    """PV1 rejected back to intake: what the technician must correct."""

    reason = _reason_field(
        "What must be corrected", "Say what is wrong so the technician can correct it."
    )


def scan_entry_field() -> forms.ChoiceField:
    """How a code reached the scan field, set by ``static/js/scan_entry.js`` from the key
    timing; anything else (no script, a pasted code) counts as typed. Shared by PV2 and
    the packing station."""
    return forms.ChoiceField(choices=ScanEntry.choices, required=False, widget=forms.HiddenInput)


def short_reason_field(label: str) -> forms.CharField:
    """An optional reason kept in 500 characters (a typed code's, a rotation's)."""
    return forms.CharField(
        label=label,
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        validators=[validate_free_text],
    )


class FillScanForm(forms.Form):
    """The fill station: the stock bottle's scan, the count (typed by the technician or
    by a counting device, never filled in), the lot when the scan does not carry one
    (typed on purpose, recorded as such), whether a short count is a partial fill, and
    the reason for taking a later-expiring lot when the station asks for one."""

    scan = forms.CharField(
        label="Scan the stock bottle",
        max_length=200,
        strip=False,  # a GS1 scan's separators are part of it
        error_messages={"required": "Scan the stock bottle (or type its NDC)."},
    )
    quantity = forms.DecimalField(
        label="Count",
        max_digits=10,
        decimal_places=3,
        min_value=Decimal("0.001"),
        error_messages={
            "required": "Enter the quantity you counted.",
            "invalid": "The counted quantity is a number, such as 30 or 150.5.",
            "min_value": "The counted quantity must be more than 0.",
        },
        widget=forms.NumberInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "step": "any"}
        ),
    )
    lot_number = forms.CharField(
        label="Lot, typed from the bottle (only when the scan has none)",
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    is_partial = forms.BooleanField(
        label="Partial fill: stock is short, the rest is filled later", required=False
    )
    rotation_reason = short_reason_field("Why this lot and not the earlier-expiring one")

    def clean_scan(self):
        scan = self.cleaned_data["scan"].strip("\r\n")
        if not scan.strip():
            raise forms.ValidationError("Scan the stock bottle (or type its NDC).")
        return scan


class Pv2Form(forms.Form):
    """PV2: the pharmacist scans the barcode of the vial label, and may scan the stock
    bottle again."""

    scan = forms.CharField(
        label="Scan the vial label",
        max_length=200,
        error_messages={"required": "Scan the barcode on the vial label."},
    )
    stock_scan = forms.CharField(
        label="Stock bottle (optional)", max_length=200, required=False, strip=False
    )
    entry = scan_entry_field()
    typed_reason = short_reason_field("Why the code is typed, not scanned")

    def clean_stock_scan(self):
        return self.cleaned_data["stock_scan"].strip("\r\n ")


class Pv2RejectForm(forms.Form):
    """PV2 rejected back to fill: why, and what kind of discrepancy it was (if one)."""

    reason = _reason_field("Why it goes back", "Say why the fill goes back to be filled again.")
    discrepancy_kind = forms.ChoiceField(
        label="Discrepancy found",
        choices=[("", "None to record"), *Discrepancy.Kind.choices],
        required=False,
        error_messages={"invalid_choice": "Choose one of the listed discrepancy kinds."},
    )


def _note_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=1000,
        widget=forms.TextInput(),
        validators=[validate_free_text],
    )


class HoldForm(forms.Form):
    """Put a fill on hold with a coded reason and a note."""

    reason_code = forms.ChoiceField(
        label="Hold reason",
        choices=[("", "Choose a reason…"), *HoldReason.choices],
        error_messages={
            "required": "Choose why the fill is held.",
            "invalid_choice": "Choose one of the listed hold reasons.",
        },
    )
    note = _note_field("Note")


class ReleaseForm(forms.Form):
    """Release a held fill back to the step it was held at; a pharmacist may correct the
    directions, quantity or drug as the prescriber clarified them (back to PV1 then)."""

    note = _note_field("Release note")
    directions = forms.CharField(
        label="Corrected directions",
        required=False,
        max_length=2000,
        widget=forms.TextInput(),
        validators=[validate_free_text],
    )
    quantity = forms.DecimalField(
        label="Corrected quantity",
        required=False,
        max_digits=10,
        decimal_places=3,
        min_value=Decimal("0.001"),
        error_messages={
            "invalid": "The corrected quantity is a number, such as 30.",
            "min_value": "The corrected quantity must be more than 0.",
        },
    )
    drug_ndc = forms.CharField(
        label="Corrected drug (package NDC)",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def correction(self) -> Correction:
        data = self.cleaned_data
        return Correction(
            directions=data.get("directions", ""),
            quantity=data.get("quantity"),
            drug_ndc=data.get("drug_ndc", "").strip(),
        )


class PdmpCheckForm(forms.Form):
    """The state prescription-monitoring (PDMP) check of a controlled-substance fill at
    PV1: the state whose program was checked, what it showed, its report number, a note
    (``record_pdmp_check`` requires one when concerns were found)."""

    state = forms.CharField(label="State", max_length=2, min_length=2)
    result = forms.ChoiceField(
        label="Result",
        choices=[("", "Choose what it showed…"), *PdmpCheck.Result.choices],
        error_messages={"required": "Choose what the PDMP check showed."},
    )
    reference = forms.CharField(label="Report number", max_length=60, required=False)
    note = _note_field("Note")


# --------------------------------------------------------------------------- Rx label


class WarningRuleForm(forms.Form):
    """An auxiliary warning rule of the Rx label, as a pharmacist writes it; the service
    (``pharmacy.services.label_warnings.save_warning_rule``) checks it against the
    catalogue."""

    warning = forms.CharField(label="Warning printed on the label", max_length=200)
    pharmacologic_class = forms.CharField(
        label="Pharmacologic class", required=False, max_length=255
    )
    ingredient = forms.CharField(label="Active ingredient", required=False, max_length=255)
    dosage_form = forms.CharField(label="Dosage form contains", required=False, max_length=60)
    route = forms.CharField(label="Route contains", required=False, max_length=60)
    storage = forms.ChoiceField(
        label="Storage",
        required=False,
        choices=[("", "Any storage"), *Storage.choices],
    )
    position = forms.IntegerField(label="Order on the label", initial=100)
    is_active = forms.BooleanField(label="Printed", required=False, initial=True)
