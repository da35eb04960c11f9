"""`manage.py create_staff USERNAME --role technician|pharmacist|manager [--password P]`."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from pharmacy.models import Role
from pharmacy.services import StaffError, create_staff


class Command(BaseCommand):
    help = "Create a staff member in one role. Prompts for the password unless --password is given."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--password", help="Skip the prompt (scripts). Visible in the process list."
        )
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--license-number", default="", help="Pharmacist's license number")
        parser.add_argument("--license-state", default="", help="Two-letter state of the license")

    def handle(self, *args, **options):
        password = options["password"]
        if password is None:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ; nothing was created.")
        try:
            user = create_staff(
                options["username"],
                role=options["role"],
                password=password,
                first_name=options["first_name"],
                last_name=options["last_name"],
                email=options["email"],
                license_number=options["license_number"],
                license_state=options["license_state"],
            )
        except StaffError as error:
            raise CommandError(f"{error} Nothing was created.") from None
        self.stdout.write(f"Created {user.role} {user.username}.")
