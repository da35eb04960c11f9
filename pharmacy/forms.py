"""Forms of the pharmacy app's pages."""

from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from pharmacy.models import AuditEvent


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
