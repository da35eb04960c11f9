"""Django admin of the shipping app: the packaging rules, carrier services and holiday
calendar may be edited here too (they are data); shipments and their history are read
only, because their status moves only through ``shipping.services``."""

from django.contrib import admin

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
class ShippingRulesAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "cold_chain_max_transit_days",
        "cold_packs_per_transit_day",
        "cold_packs_minimum",
        "controlled_requires_signature",
        "updated_at",
    ]
    readonly_fields = ["updated_at", "updated_by"]

    def has_add_permission(self, request):
        return not ShippingRules.objects.exists()  # one row, pk 1

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(CarrierService)
class CarrierServiceAdmin(admin.ModelAdmin):
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
class CarrierHolidayAdmin(admin.ModelAdmin):
    list_display = ["day", "carrier", "name"]
    list_filter = ["carrier"]


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ShipmentEventInline(admin.TabularInline):
    model = ShipmentEvent
    extra = 0
    can_delete = False
    fields = ["occurred_at", "from_status", "to_status", "detail", "actor"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Shipment)
class ShipmentAdmin(_ReadOnly):
    list_display = ["package_code", "order", "status", "carrier", "tracking_number", "created_at"]
    list_filter = ["status", "carrier", "packaging"]
    search_fields = ["package_code", "tracking_number"]
    inlines = [ShipmentEventInline]


@admin.register(CarrierEvent)
class CarrierEventAdmin(_ReadOnly):
    list_display = ["received_at", "carrier", "event_id", "tracking_number", "status", "outcome"]
    list_filter = ["carrier", "outcome"]
    search_fields = ["event_id", "tracking_number"]


@admin.register(DeliveryException)
class DeliveryExceptionAdmin(_ReadOnly):
    list_display = ["reported_at", "shipment", "kind", "resolved_at"]
    list_filter = ["kind"]
