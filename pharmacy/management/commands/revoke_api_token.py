"""`manage.py revoke_api_token PREFIX`: stops the API token whose key starts so (or the
token whose whole key is given)."""

from django.core.management.base import BaseCommand, CommandError

from pharmacy.models import ApiToken, hash_api_key
from pharmacy.services import StaffError, revoke_api_token

PREFIX_LENGTH = ApiToken._meta.get_field("prefix").max_length


class Command(BaseCommand):
    help = (
        "Revoke an API token, named by the first 8 characters of its key (its prefix, as "
        "the managers' page lists it) or by the whole key."
    )

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="The token's prefix, or its whole key.")

    def handle(self, *args, **options):
        given = options["prefix"].strip()
        tokens = ApiToken.objects.filter(revoked_at__isnull=True).select_related("user")
        if len(given) > PREFIX_LENGTH:
            tokens = tokens.filter(key_hash=hash_api_key(given))
        elif len(given) == PREFIX_LENGTH:
            tokens = tokens.filter(prefix=given)
        else:
            raise CommandError(
                f"{given!r} is too short: give the first {PREFIX_LENGTH} characters of the "
                "token, or the whole token."
            )
        tokens = list(tokens)
        if not tokens:
            raise CommandError(f"No token in use starts with {given[:PREFIX_LENGTH]!r}.")
        if len(tokens) > 1:
            owners = ", ".join(f"{t.user.username} ({t.name or 'unnamed'})" for t in tokens)
            raise CommandError(
                f"{len(tokens)} tokens in use start with {given!r}: {owners}. Give the whole "
                "token, or revoke it on the managers' page."
            )
        try:
            token = revoke_api_token(tokens[0], by=None)
        except StaffError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Revoked the API token {token.prefix} of {token.user.username}.")
