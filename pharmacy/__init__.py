"""The project package and the pharmacy's people and clinical knowledge."""

from pharmacy.celery import app as celery_app

__all__ = ["celery_app"]
