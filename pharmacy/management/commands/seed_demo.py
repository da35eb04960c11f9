"""`manage.py seed_demo [--if-empty]`: load the demo pharmacy and print the staff logins."""

import os

from django.core.management.base import BaseCommand, CommandError

from pharmacy.demo import STAFF, demo_data_present, seed_demo_pharmacy
from pharmacy.models import Role, User
from pharmacy.services import StaffError


class Command(BaseCommand):
    help = (
        "Load the demo pharmacy: staff of each role, prescribers, patients and a drug "
        "catalogue. Safe to run again: what exists is neither duplicated nor changed."
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
            try:
                summary = seed_demo_pharmacy(stdout=self.stdout)
            except StaffError as error:
                raise CommandError(f"{error} Nothing was loaded.") from None
            if summary.created_anything:
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
