"""Django admin for staff accounts and reference records.

Patient data is read-only here and audited like every staff page: the admin has no add,
change or delete for it (patients change through ``pharmacy.services`` from the staff
pages and the API, which validate and audit each change), and each list or record shown
writes one row to the audit trail. Prescribers are read-only too: their staff pages
(``/prescribers/``) change them through ``create_prescriber`` and ``update_prescriber``,
which check the NPI and DEA number and audit the change. The audit trail itself is
read-only.

The second factor's devices are not in the admin: django-otp's pages would show an
authenticator's secret again (its QR code), which only its owner sees, once, when setting
it up; removing one is a manager's audited reset on ``/manager/access/``.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from pharmacy.models import AuditEvent, Patient, Prescriber, User
from pharmacy.services import record_audit_event

# django-otp's apps come first in INSTALLED_APPS, so their admin is registered by now.
admin.site.unregister([TOTPDevice, StaticDevice])


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("License", {"fields": ("license_number", "license_state")}),
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """List and view only: records whose every change is a service's."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PatientDataAdmin(ReadOnlyAdmin):
    """Read-only admin of records that show patient data: the list writes one audit row
    naming the patients shown, a record's page one naming its patient. ``patient_of``
    says whose data a record shows."""

    def patient_of(self, obj) -> Patient | None:
        raise NotImplementedError

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # not a redirect or an error page
            shown = list(changelist.result_list)
            searched = changelist.query or changelist.get_filters_params()
            record_audit_event(
                actor=request.user,
                action=AuditEvent.Action.SEARCH if searched else AuditEvent.Action.VIEW,
                request=request,
                patients=[p for p in map(self.patient_of, shown) if p is not None],
                summary=f"Admin: {self.model._meta.verbose_name_plural} ({len(shown)} shown)",
            )
        return response

    def _audit_record(self, request, response, *, shown: str, what: str = "") -> None:
        """One audit row for a record's page; ``shown`` names the record in the page's
        context (none on a redirect for a record that does not exist)."""
        obj = getattr(response, "context_data", {}).get(shown)
        if obj is not None:
            record_audit_event(
                actor=request.user,
                action=AuditEvent.Action.VIEW,
                request=request,
                obj=obj,
                patient=self.patient_of(obj),
                summary=f"Admin: {what}{self.model._meta.verbose_name} {obj.pk}",
            )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        self._audit_record(request, response, shown="original")
        return response

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        self._audit_record(request, response, shown="object", what="history of ")
        return response


@admin.register(Prescriber)
class PrescriberAdmin(ReadOnlyAdmin):
    list_display = ["last_name", "first_name", "npi", "dea_number"]
    search_fields = ["last_name", "npi"]


@admin.register(Patient)
class PatientAdmin(PatientDataAdmin):
    list_display = ["last_name", "first_name", "date_of_birth"]
    search_fields = ["last_name"]

    def patient_of(self, obj: Patient) -> Patient:
        return obj


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    # The patient by number, never by name: reading the trail is not reading a record.
    exclude = ["patient"]
    readonly_fields = ["patient_id"]
    list_display = [
        "occurred_at",
        "actor_username",
        "action",
        "object_type",
        "object_id",
        "patient_id",
    ]
    list_filter = ["action"]
