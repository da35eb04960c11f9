"""Celery tasks of this app (arrive with its issue)."""
