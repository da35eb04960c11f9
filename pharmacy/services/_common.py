"""Checks shared by the services of patient and prescriber records."""

from django.db import models


def too_long_errors(model: type[models.Model], values: dict) -> dict[str, str]:
    """Field -> message for each string in ``values`` longer than its column allows."""
    errors = {}
    for name, value in values.items():
        max_length = getattr(model._meta.get_field(name), "max_length", None)
        if isinstance(value, str) and max_length and len(value) > max_length:
            errors[name] = f"At most {max_length} characters."
    return errors


class PatientDataError(ValueError):
    """Patient data that cannot be stored; ``errors`` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors
