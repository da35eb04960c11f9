"""Celery tasks of the inventory app."""
