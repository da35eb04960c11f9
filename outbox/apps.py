from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Side effects (outbox)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Each app's ``effects`` module registers the deliverers of its side effects, so a
        # kind recorded anywhere is known in every process (web, worker, beat).
        autodiscover_modules("effects")
