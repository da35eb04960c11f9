"""Celery tasks of the pharmacy app: thin wrappers that call a service."""

from celery import shared_task
from django.core.management import call_command


@shared_task
def clear_expired_sessions_task() -> None:
    """Daily: delete expired staff sessions so abandoned sign-ins leave nothing behind."""
    call_command("clearsessions")
