"""Forms of the pharmacy app's pages.

Forms read what was typed into Python values; the rules of a record (a birth date in the
past, a real state, one default address, NPI and DEA check digits) live in the services,
whose errors ``add_service_errors`` puts beside the fields they concern.
"""

from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from pharmacy.models import (
    Allergy,
    AuditEvent,
    Condition,
    Patient,
    PatientAddress,
    Prescriber,
    Role,
    User,
)
from pharmacy.services import PRESCRIBING_SCHEDULES


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password do not match. Check both and try again; "
        "after 5 failed attempts the account is locked.",
        "inactive": "This account is disabled. Ask a manager.",
    }


class AuditSearchForm(forms.Form):
    """Filters of the audit trail page; every field is optional."""

    username = forms.CharField(required=False)
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditEvent.Action.choices]
    )
    patient = forms.IntegerField(required=False, min_value=1, label="Patient ID")
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def filter(self, events):
        data = self.cleaned_data
        if data.get("username"):
            events = events.filter(actor_username__iexact=data["username"])
        if data.get("action"):
            events = events.filter(action=data["action"])
        if data.get("patient"):
            patient_id = data["patient"]
            events = events.filter(patient_id=patient_id) | events.filter(
                patient_ids__contains=[patient_id]
            )
        tz = timezone.get_current_timezone()
        if data.get("date_from"):
            events = events.filter(
                occurred_at__gte=datetime.combine(data["date_from"], time.min, tz)
            )
        if data.get("date_to"):
            end = datetime.combine(data["date_to"] + timedelta(days=1), time.min, tz)
            events = events.filter(occurred_at__lt=end)
        return events


# --------------------------------------------------------------------------- records


def add_service_errors(form: forms.Form, errors: dict[str, str], *, prefix: str = "") -> None:
    """Show a service's errors (``{field: message}``) on the form: beside the field of that
    name (after ``prefix``, e.g. ``addresses[0].``), else at the top of the form."""
    for key, message in errors.items():
        name = key.removeprefix(prefix) if prefix and key.startswith(prefix) else key
        form.add_error(name if name in form.fields else None, message)


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _max(model, name: str) -> int:
    return model._meta.get_field(name).max_length


class PatientForm(forms.Form):
    """A patient's own details, for the create and edit pages."""

    first_name = forms.CharField(max_length=_max(Patient, "first_name"))
    middle_name = forms.CharField(max_length=_max(Patient, "middle_name"), required=False)
    last_name = forms.CharField(max_length=_max(Patient, "last_name"))
    date_of_birth = forms.DateField(widget=_date_input())
    sex = forms.ChoiceField(choices=Patient.Sex.choices, initial=Patient.Sex.UNKNOWN)
    phone = forms.CharField(max_length=_max(Patient, "phone"), required=False)
    # Checked by the service, so a bad address shows beside every other mistake at once.
    email = forms.CharField(
        label="E-mail",
        max_length=_max(Patient, "email"),
        required=False,
        widget=forms.EmailInput,
    )
    preferred_language = forms.CharField(
        max_length=_max(Patient, "preferred_language"), initial="English"
    )
    child_resistant_waiver_on = forms.DateField(
        label="Child-resistant packaging waived on",
        required=False,
        widget=_date_input(),
        help_text="The date of the patient's signed blanket waiver; leave empty when there "
        "is none.",
    )

    @classmethod
    def for_patient(cls, patient: Patient, data=None) -> "PatientForm":
        return cls(data, initial={name: getattr(patient, name) for name in cls.base_fields})


class AddressForm(forms.Form):
    """A postal address of a patient."""

    label = forms.CharField(
        max_length=_max(PatientAddress, "label"), initial="Home", help_text="Home, Work ..."
    )
    line1 = forms.CharField(label="Street address", max_length=_max(PatientAddress, "line1"))
    line2 = forms.CharField(
        label="Apartment, suite", max_length=_max(PatientAddress, "line2"), required=False
    )
    city = forms.CharField(max_length=_max(PatientAddress, "city"))
    state = forms.CharField(
        max_length=2, widget=forms.TextInput(attrs={"size": 3, "placeholder": "OH"})
    )
    postal_code = forms.CharField(
        label="ZIP code", max_length=10, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )

    @classmethod
    def for_address(cls, address: PatientAddress, data=None) -> "AddressForm":
        return cls(data, initial={name: getattr(address, name) for name in cls.base_fields})


class AddAddressForm(AddressForm):
    is_default_shipping = forms.BooleanField(label="Ship here by default", required=False)


class AllergyForm(forms.Form):
    allergen = forms.CharField(
        max_length=_max(Allergy, "allergen"),
        help_text="An ingredient (amoxicillin) or a drug class (penicillins, sulfonamides).",
    )
    reaction = forms.CharField(max_length=_max(Allergy, "reaction"), required=False)
    severity = forms.ChoiceField(choices=Allergy.Severity.choices, initial=Allergy.Severity.UNKNOWN)


class ConditionForm(forms.Form):
    name = forms.CharField(label="Condition", max_length=_max(Condition, "name"))
    icd10_code = forms.CharField(
        label="ICD-10 code", max_length=10, required=False, help_text="Optional, e.g. E11.9"
    )
    noted_on = forms.DateField(
        label="Noted on", required=False, widget=_date_input(), help_text="Empty: today."
    )


class PrescriberForm(forms.Form):
    """A prescriber's record, for the create and edit pages."""

    first_name = forms.CharField(max_length=_max(Prescriber, "first_name"))
    last_name = forms.CharField(max_length=_max(Prescriber, "last_name"))
    credentials = forms.CharField(
        max_length=_max(Prescriber, "credentials"), required=False, help_text="MD, DO, NP, PA ..."
    )
    npi = forms.CharField(
        label="NPI", max_length=14, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    dea_number = forms.CharField(label="DEA number", max_length=12, required=False)
    dea_schedules = forms.MultipleChoiceField(
        label="DEA schedules",
        choices=[(schedule, schedule.label) for schedule in PRESCRIBING_SCHEDULES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The schedules the DEA registration covers.",
    )
    state_license_number = forms.CharField(
        label="State license number",
        max_length=_max(Prescriber, "state_license_number"),
        required=False,
    )
    license_state = forms.CharField(label="License state", max_length=2, required=False)
    practice_name = forms.CharField(max_length=_max(Prescriber, "practice_name"), required=False)
    address_line1 = forms.CharField(
        label="Street address", max_length=_max(Prescriber, "address_line1"), required=False
    )
    address_line2 = forms.CharField(
        label="Suite", max_length=_max(Prescriber, "address_line2"), required=False
    )
    city = forms.CharField(max_length=_max(Prescriber, "city"), required=False)
    state = forms.CharField(max_length=2, required=False)
    postal_code = forms.CharField(label="ZIP code", max_length=10, required=False)
    phone = forms.CharField(max_length=_max(Prescriber, "phone"), required=False)
    fax = forms.CharField(max_length=_max(Prescriber, "fax"), required=False)

    @classmethod
    def for_prescriber(cls, prescriber: Prescriber, data=None) -> "PrescriberForm":
        return cls(data, initial={name: getattr(prescriber, name) for name in cls.base_fields})


class SecondFactorForm(forms.Form):
    """The code of the sign-in's second step (or of setting up the app that makes it)."""

    code = forms.CharField(
        max_length=32,
        strip=True,
        error_messages={
            "required": "Enter the 6-digit code from your authenticator app, or a recovery code."
        },
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "autocapitalize": "off"}
        ),
    )


class ApiTokenForm(forms.Form):
    """A manager issues an API token to a staff member."""

    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True, groups__name__in=Role.values)
        .distinct()
        .order_by("username"),
        label="Staff member",
        empty_label="Choose…",
    )
    name = forms.CharField(
        max_length=100, required=False, help_text="What will use it, e.g. the e-Rx gateway."
    )
    days = forms.IntegerField(min_value=1, label="Days until it expires")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].label_from_instance = lambda user: (
            f"{user.username} ({user.get_full_name()})" if user.get_full_name() else user.username
        )
