"""`manage.py create_api_token USERNAME`: prints a new API token alone on its last line."""

from django.core.management.base import BaseCommand, CommandError

from pharmacy.models import User
from pharmacy.services import create_api_token


class Command(BaseCommand):
    help = (
        "Create (or replace) the API token of a staff member; the token is the last line printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"No staff member is called {options['username']!r}.") from None
        if not user.is_active:
            raise CommandError(f"{user.username} is disabled; an API token would not work.")
        if user.role is None:
            raise CommandError(f"{user.username} has no role; give them one first.")
        token = create_api_token(user)
        self.stdout.write(
            f"API token for {user.username} ({user.role}); any previous token is revoked:"
        )
        self.stdout.write(token.key)
