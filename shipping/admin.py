"""Django admin of the shipping app: everything is read-only here. The packaging rules,
carrier services and holiday calendar change on the manager's settings page
(``/shipping/rules/``) through ``shipping.services.settings_admin``, which checks the
bounds and records who changed them; shipments and their history move only through
``shipping.services``. Shipments and delivery exceptions show a patient's name and
address, so viewing them is audited like every staff page."""

from django.contrib import admin

from pharmacy.admin import PatientDataAdmin, ReadOnlyAdmin
from pharmacy.models import Patient
from shipping.models import (
    CarrierEvent,
    CarrierHoliday,
    CarrierService,
    DeliveryException,
    Shipment,
    ShipmentEvent,
    ShippingRules,
)


@admin.register(ShippingRules)
class ShippingRulesAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "cold_chain_max_transit_days",
        "cold_packs_per_transit_day",
        "cold_packs_minimum",
        "controlled_requires_signature",
        "updated_at",
    ]


@admin.register(CarrierService)
class CarrierServiceAdmin(ReadOnlyAdmin):
    list_display = [
        "carrier",
        "code",
        "name",
        "transit_days",
        "delivers_saturday",
        "allows_cold_chain",
        "allows_controlled",
        "is_active",
    ]
    list_filter = ["carrier", "is_active"]


@admin.register(CarrierHoliday)
class CarrierHolidayAdmin(ReadOnlyAdmin):
    list_display = ["day", "carrier", "name"]
    list_filter = ["carrier"]


class ShipmentEventInline(admin.TabularInline):
    model = ShipmentEvent
    extra = 0
    can_delete = False
    fields = ["occurred_at", "from_status", "to_status", "detail", "actor"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Shipment)
class ShipmentAdmin(PatientDataAdmin):
    list_display = ["package_code", "order", "status", "carrier", "tracking_number", "created_at"]
    list_filter = ["status", "carrier", "packaging"]
    search_fields = ["package_code", "tracking_number"]
    list_select_related = ["order"]
    inlines = [ShipmentEventInline]

    def patient_of(self, obj: Shipment) -> Patient:
        return Patient(pk=obj.order.patient_id)


@admin.register(CarrierEvent)
class CarrierEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "carrier", "event_id", "tracking_number", "status", "outcome"]
    list_filter = ["carrier", "outcome"]
    search_fields = ["event_id", "tracking_number"]


@admin.register(DeliveryException)
class DeliveryExceptionAdmin(PatientDataAdmin):
    list_display = ["reported_at", "shipment", "kind", "resolved_at"]
    list_filter = ["kind"]
    list_select_related = ["shipment__order"]

    def patient_of(self, obj: DeliveryException) -> Patient:
        return Patient(pk=obj.shipment.order.patient_id)
