"""Forms of the shipping pages: the packing station, delivery exceptions, label batches,
manifests, and the packaging rules a manager keeps.

Forms read what was typed or scanned into Python values; whether a package may close,
an exception be resolved or a manifest be built is decided by ``shipping.services``,
whose ``ShippingError`` the page shows in its own words.
"""

from decimal import Decimal

from django import forms
from django.utils import timezone

from orders.forms import scan_entry_field, short_reason_field
from orders.models import Fill
from shipping.models import (
    Carrier,
    CarrierHoliday,
    CarrierService,
    DeliveryException,
    Shipment,
    ShippingRules,
)
from shipping.services.shipments import MAX_WEIGHT_OZ

# The most vials one package holds, and the longest code a scan may be: anything longer
# is not a vial label and is refused before it reaches the service.
MAX_SCANS = 200
MAX_SCAN_LENGTH = 40


def scanned_code(text: str) -> str:
    """What a keyboard-wedge scanner typed, as the code it carries: no surrounding blanks
    or line ends, upper case (label and package codes are upper-case base32)."""
    return text.strip().upper()


class PackingSlipScanForm(forms.Form):
    """The packing station's first scan: the packing slip's package id (PKG-...), or the
    order number typed from it."""

    code = forms.CharField(
        label="Scan the packing slip",
        max_length=MAX_SCAN_LENGTH,
        error_messages={
            "required": "Scan the packing slip (or type its order number).",
            "max_length": "That is not a packing slip: its code is at most %(limit_value)d "
            "characters.",
        },
    )

    def clean_code(self):
        return scanned_code(self.cleaned_data["code"])


class ScanListField(forms.Field):
    """The vial label codes scanned into a package, posted as repeated hidden inputs."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        return [code for code in (scanned_code(str(item)) for item in value) if code]

    def validate(self, value):
        if not value and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        if len(value) > MAX_SCANS:
            raise forms.ValidationError(
                f"A package holds at most {MAX_SCANS} vials.", code="too_many"
            )
        for code in value:
            if len(code) > MAX_SCAN_LENGTH:
                raise forms.ValidationError(
                    f"“{code[:MAX_SCAN_LENGTH]}…” is not a vial label code.", code="too_long"
                )


class PackForm(forms.Form):
    """Closing a package: every vial's label code as scanned, and the package's weight."""

    scans = ScanListField(error_messages={"required": "Scan every vial before closing."})
    entry = scan_entry_field()
    typed_reason = short_reason_field("Why vial codes are typed, not scanned (pharmacist)")
    weight_oz = forms.DecimalField(
        label="Weight (oz)",
        max_digits=7,
        decimal_places=1,
        min_value=Decimal("0.1"),
        max_value=MAX_WEIGHT_OZ,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
        error_messages={
            "required": "Weigh the closed package and enter its weight in ounces.",
            "invalid": "The weight is a number of ounces, such as 6 or 12.5.",
            "min_value": "The weight must be more than 0 oz.",
            "max_value": f"A package over {MAX_WEIGHT_OZ} oz cannot be shipped as a parcel.",
            "max_decimal_places": "Weigh to a tenth of an ounce at most (12.5).",
            "max_digits": f"A package over {MAX_WEIGHT_OZ} oz cannot be shipped as a parcel.",
        },
    )


class HandOverForm(forms.Form):
    """A labelled package scanned as it goes to the driver."""

    code = forms.CharField(
        label="Scan a package handed to the driver",
        max_length=MAX_SCAN_LENGTH,
        error_messages={"required": "Scan the package's label (its package id)."},
    )

    def clean_code(self):
        return scanned_code(self.cleaned_data["code"])


class ReportExceptionForm(forms.Form):
    """Something went wrong on the way: what, in the staff member's words."""

    kind = forms.ChoiceField(
        label="What happened",
        choices=[("", "Choose…"), *DeliveryException.Kind.choices],
        error_messages={
            "required": "Choose what happened to the package.",
            "invalid_choice": "Choose one of the listed kinds.",
        },
    )
    description = forms.CharField(
        label="Description",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Describe what happened (who called, what they saw)."},
    )


class ResolveExceptionForm(forms.Form):
    """How an exception was resolved, and whether the order is sent again; the fills whose
    product must be replaced (lost, damaged, too warm) are filled anew through the fill
    workflow, the others go out again as they are."""

    resolution = forms.CharField(
        label="Resolution",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say how the exception was resolved."},
    )
    reship = forms.BooleanField(label="Ship the order again (a new shipment)", required=False)
    replace_fills = forms.ModelMultipleChoiceField(
        label="Product to replace (filled again, same fill number)",
        queryset=Fill.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose among the fills of this shipment."},
    )

    def __init__(self, *args, fills=None, **kwargs):
        super().__init__(*args, **kwargs)
        if fills is not None:
            self.fields["replace_fills"].queryset = fills
        self.fields["replace_fills"].label_from_instance = lambda fill: (
            f"Rx {fill.prescription.rx_number}: {fill.prescription.drug_description}"
        )

    def clean(self):
        data = super().clean()
        if data.get("replace_fills") and not data.get("reship"):
            self.add_error(
                "replace_fills", "Replacing product means shipping again: tick the reship box."
            )
        return data


class LabelBatchForm(forms.Form):
    """The packages whose carrier labels are printed together as one wave."""

    shipments = forms.ModelMultipleChoiceField(
        label="Packages",
        queryset=Shipment.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Tick at least one package to print.",
            "invalid_choice": "A ticked package cannot be printed any more; reload the page.",
        },
    )

    def __init__(self, *args, shipments=None, **kwargs):
        super().__init__(*args, **kwargs)
        if shipments is not None:
            self.fields["shipments"].queryset = shipments


class ManifestForm(forms.Form):
    """The end-of-day manifest of one carrier for one day."""

    carrier = forms.ChoiceField(label="Carrier", choices=Carrier.choices)
    day = forms.DateField(
        label="Day",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the day as YYYY-MM-DD."},
    )

    def clean_day(self):
        day = self.cleaned_data["day"]
        if day > timezone.localdate():
            raise forms.ValidationError("A manifest lists packages already handed over.")
        return day


# --------------------------------------------------------------------------- manager settings

RULE_FIELDS = [
    "cold_chain_max_transit_days",
    "cold_packs_per_transit_day",
    "cold_packs_minimum",
    "no_weekend_transit_for_cold_chain",
    "controlled_requires_signature",
    "controlled_plain_packaging",
]
SERVICE_FIELDS = [
    "name",
    "transit_days",
    "delivers_saturday",
    "allows_cold_chain",
    "allows_controlled",
    "offers_signature",
    "is_active",
]


class ShippingRulesForm(forms.Form):
    """The packaging rules, with the labels and help texts of the model's fields."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(forms.fields_for_model(ShippingRules, fields=RULE_FIELDS))

    @classmethod
    def initial_from(cls, rules: ShippingRules) -> dict:
        return {name: getattr(rules, name) for name in RULE_FIELDS}


class CarrierServiceForm(forms.Form):
    """One carrier service level: what the rules need to know about it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(forms.fields_for_model(CarrierService, fields=SERVICE_FIELDS))

    @classmethod
    def initial_from(cls, service: CarrierService) -> dict:
        return {name: getattr(service, name) for name in SERVICE_FIELDS}


class CarrierHolidayForm(forms.Form):
    """A day one carrier (or every carrier) does not move packages."""

    day = forms.DateField(
        label="Day",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the day as YYYY-MM-DD."},
    )
    carrier = forms.ChoiceField(
        label="Carrier", choices=[("", "Every carrier"), *Carrier.choices], required=False
    )
    name = forms.CharField(
        label="Holiday",
        max_length=CarrierHoliday._meta.get_field("name").max_length,
        error_messages={"required": "Name the holiday (Thanksgiving Day)."},
    )
