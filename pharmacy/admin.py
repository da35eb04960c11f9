"""Django admin for staff accounts and reference records; the audit trail is read-only."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from pharmacy.models import AuditEvent, Patient, Prescriber, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("License", {"fields": ("license_number", "license_state")}),
    )


@admin.register(Prescriber)
class PrescriberAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "npi", "dea_number"]
    search_fields = ["last_name", "npi"]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "date_of_birth"]
    search_fields = ["last_name"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "actor_username",
        "action",
        "object_type",
        "object_id",
        "patient_id",
    ]
    list_filter = ["action"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
