"""API tokens stored as the SHA-256 of their key, with a name, an expiry and revocation;
several per staff member (issue 12). Migration 0011 moves the tokens of DRF's authtoken
app into this table."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pharmacy', '0009_audit_trigger_function_from_file'),
    ]

    operations = [
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(blank=True, help_text='What uses it.', max_length=100)),
                ('prefix', models.CharField(help_text="The key's first characters.", max_length=8)),
                ('key_hash', models.CharField(max_length=64, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('expires_at', models.DateTimeField()),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('last_used_at', models.DateTimeField(blank=True, null=True)),
                ('revoked_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'API token',
                'ordering': ['user', '-created_at', '-id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('revoked_at__isnull', False), ('revoked_by__isnull', True), _connector='OR'), name='api_token_revoked_by_only_when_revoked')],
            },
        ),
    ]
