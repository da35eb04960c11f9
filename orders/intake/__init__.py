"""Prescription intake: parsing NCPDP SCRIPT and FHIR messages into neutral dataclasses.

Pure functions, no database. ``messages.py`` holds what every channel produces,
``ncpdp.py`` and ``fhir.py`` one channel each.
"""

from orders.intake.messages import (
    MAX_MESSAGE_BYTES,
    Channel,
    IncomingAddress,
    IncomingCancel,
    IncomingDrug,
    IncomingPatient,
    IncomingPrescriber,
    IncomingPrescription,
    IntakeError,
)

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Channel",
    "IncomingAddress",
    "IncomingCancel",
    "IncomingDrug",
    "IncomingPatient",
    "IncomingPrescriber",
    "IncomingPrescription",
    "IntakeError",
]
