"""`manage.py seed_demo [--if-empty]`: load the demo pharmacy and print the staff logins.

Each app brings its own demo data in ``<app>/demo.py`` with a function
``seed_demo(*, stdout) -> dict[str, int]`` (rows created per kind). The command finds
them through the app registry, so this command (in ``pharmacy``) never imports an app
that depends on ``pharmacy``. The pharmacy demo runs first, because it creates the staff
and the catalogue every other demo uses; the others follow in ``INSTALLED_APPS`` order.
"""

import importlib
import importlib.util
import os
from collections.abc import Callable, Iterator

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from pharmacy.demo import STAFF, demo_data_present
from pharmacy.models import Role, User
from pharmacy.services import StaffError


def app_demo_seeders() -> Iterator[tuple[str, Callable[..., dict[str, int]]]]:
    """(app label, its ``demo.seed_demo``) of every installed app that has one."""
    app_configs = sorted(apps.get_app_configs(), key=lambda app: app.label != "pharmacy")
    for app in app_configs:
        name = f"{app.name}.demo"
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # the app is a plain module, not a package
            found = None
        if found is None:
            continue
        seed = getattr(importlib.import_module(name), "seed_demo", None)
        if callable(seed):
            yield app.label, seed


class Command(BaseCommand):
    help = (
        "Load the demo pharmacy: staff of each role, prescribers, patients, a drug "
        "catalogue and prescriptions from every channel. Safe to run again: what exists is "
        "neither duplicated nor changed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load nothing when any patient or user exists already (used by `make run`).",
        )

    def handle(self, *args, **options):
        if options["if_empty"] and demo_data_present():
            self.stdout.write("Demo data already present; nothing loaded.")
        else:
            created = 0
            try:
                # One transaction for every app: a demo that fails leaves nothing behind.
                with transaction.atomic():
                    for _label, seed in app_demo_seeders():
                        created += sum(seed(stdout=self.stdout).values())
            except StaffError as error:
                raise CommandError(f"{error} Nothing was loaded.") from None
            if created:
                self.stdout.write(self.style.SUCCESS("Demo data loaded."))
            else:
                self.stdout.write("Demo data already complete; nothing new loaded.")
        self.write_credentials()

    def write_credentials(self) -> None:
        present = set(
            User.objects.filter(username__in=[s.username for s in STAFF]).values_list(
                "username", flat=True
            )
        )
        staff = [s for s in STAFF if s.username in present]
        url = f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}"
        self.stdout.write("")
        if not staff:
            self.stdout.write("No demo staff accounts exist in this database.")
            return
        rows = [("username", "role", "name", "password")]
        rows += [
            (s.username, Role(s.role).label, f"{s.first_name} {s.last_name}", s.password)
            for s in staff
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        rows.insert(1, tuple("-" * width for width in widths))
        self.stdout.write("Demo staff (demo passwords, for this local pharmacy only):")
        for row in rows:
            self.stdout.write(
                "  "
                + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
        self.stdout.write("")
        self.stdout.write(f"Sign in at {url}")
        roles = [f"{role.label.lower()}s" for role in Role if role in settings.MFA_REQUIRED_ROLES]
        if roles:
            self.stdout.write(
                f"{' and '.join(roles).capitalize()} then set up an authenticator app (any TOTP "
                "app; the page shows a QR code and its key) and keep their recovery codes."
            )
