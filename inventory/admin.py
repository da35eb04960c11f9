"""Django admin for the catalogue."""

from django.contrib import admin

from inventory.models import Package, Product


class PackageInline(admin.TabularInline):
    model = Package
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "product_ndc",
        "proprietary_name",
        "nonproprietary_name",
        "dea_schedule",
        "storage",
    ]
    search_fields = ["product_ndc", "proprietary_name", "nonproprietary_name"]
    list_filter = ["dea_schedule", "storage"]
    inlines = [PackageInline]
