"""`manage.py create_api_token USERNAME [--name N] [--days D]`: issues a new API token and
prints it alone on its last line."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from pharmacy.models import User
from pharmacy.services import StaffError, create_api_token


class Command(BaseCommand):
    help = (
        "Issue a new API token to a staff member, beside any they hold; the token is the "
        "last line printed, and is shown only this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What will use it, e.g. 'e-Rx gateway'.")
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Days until it expires (default {settings.API_TOKEN_DAYS}, API_TOKEN_DAYS).",
        )

    def handle(self, *args, **options):
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"No staff member is called {options['username']!r}.") from None
        if user.role is None:
            raise CommandError(f"{user.username} has no role; give them one first.")
        try:
            token = create_api_token(user, name=options["name"], days=options["days"])
        except StaffError as error:
            raise CommandError(str(error)) from None
        label = f" {token.name!r}" if token.name else ""
        self.stdout.write(
            f"API token{label} for {user.username} ({user.role}), starting {token.prefix}, "
            f"expires {timezone.localdate(token.expires_at).isoformat()}. It is shown only "
            "now; revoke it with `manage.py revoke_api_token "
            f"{token.prefix}`:"
        )
        self.stdout.write(token.key)
