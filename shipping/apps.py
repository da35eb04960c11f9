from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_shipping_defaults_after_migrate(sender, **kwargs) -> None:
    """The packaging rules row and the default carrier services exist after every
    ``migrate`` and every test-database flush, as the role groups do (pharmacy/apps.py)."""
    from shipping.services.settings_admin import ensure_shipping_defaults  # noqa: PLC0415

    ensure_shipping_defaults()


class ShippingConfig(AppConfig):
    name = "shipping"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(ensure_shipping_defaults_after_migrate, sender=self)
