from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "pharmacy"
    verbose_name = "Pharmacy"
    default_auto_field = "django.db.models.BigAutoField"
