from django.apps import AppConfig, apps
from django.contrib.auth.management import create_permissions
from django.db.models.signals import post_migrate


def sync_role_groups_after_migrate(sender, **kwargs) -> None:
    """After every `migrate` (and every test-database flush), make the role groups carry
    the permissions of ``pharmacy/roles.py``: a role changes by editing that table, never
    by a data migration. Django creates permissions the same way, on post_migrate."""
    from pharmacy.services import sync_role_groups  # noqa: PLC0415 (models are loaded now)

    # Permissions of apps after pharmacy in INSTALLED_APPS are created by their own
    # post_migrate handlers, which have not run yet; creating them here is idempotent.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    sync_role_groups()


class PharmacyConfig(AppConfig):
    name = "pharmacy"
    verbose_name = "Pharmacy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(sync_role_groups_after_migrate, sender=self)
