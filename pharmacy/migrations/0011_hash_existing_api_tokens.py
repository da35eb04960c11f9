"""Move the API tokens of DRF's ``rest_framework.authtoken`` (plain-text keys, no expiry)
into ``ApiToken`` as hashes, so integrations in service keep working: each is named
"migrated" and expires 90 days from this migration, by when a manager has issued its
replacement (README, "Authentication").

Then the old table is dropped and its app's migration history forgotten: it held every
key in plain text, and the app is no longer installed (a database that never had it has
nothing to move). Not reversible: the keys are gone by design."""

import hashlib
from datetime import timedelta

from django.db import migrations
from django.utils import timezone

# The default life of a token (API_TOKEN_DAYS) when this migration was written.
MIGRATED_TOKEN_DAYS = 90


def hash_authtoken_keys(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("pharmacy", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute('SELECT "key", "user_id", "created" FROM "authtoken_token" ORDER BY "created"')
        rows = cursor.fetchall()
    expires_at = timezone.now() + timedelta(days=MIGRATED_TOKEN_DAYS)
    tokens = ApiToken.objects.bulk_create(
        ApiToken(
            user_id=user_id,
            name="migrated",
            prefix=key[:8],
            # As pharmacy.models.hash_api_key: the SHA-256 hex digest of the key.
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            expires_at=expires_at,
        )
        for key, user_id, _created in rows
    )
    # created_at is set on insert (auto_now_add); keep when the token was really made.
    for token, (_key, _user_id, created) in zip(tokens, rows, strict=True):
        token.created_at = created
    ApiToken.objects.bulk_update(tokens, ["created_at"])
    schema_editor.execute('DROP TABLE "authtoken_token"')
    schema_editor.execute("DELETE FROM \"django_migrations\" WHERE \"app\" = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [("pharmacy", "0010_api_token")]

    operations = [
        migrations.RunPython(hash_authtoken_keys, reverse_code=migrations.RunPython.noop),
    ]
