"""The demo pharmacy that ``manage.py seed_demo`` loads, and the one function that writes it.

Everything here is written for this project: staff of each role with known demo
passwords, prescribers, patients, and a drug catalogue of about fifty common products.
People, addresses, NPIs and DEA numbers are invented (valid check digits; 555-01xx phone
numbers; example.* e-mail domains). The data is plain Python, one module per kind, so
later issues can add modules beside these and a step to ``seed_demo_pharmacy``:

``staff``: the staff accounts. ``catalogue``: products and packages. ``prescribers``.
``patients``: patients, their addresses and allergies. ``seeding``: writing all of it.
"""

from pharmacy.demo.catalogue import PRODUCTS, DemoPackage, DemoProduct
from pharmacy.demo.patients import PATIENTS, DemoAddress, DemoAllergy, DemoPatient
from pharmacy.demo.prescribers import PRESCRIBERS, DemoPrescriber
from pharmacy.demo.seeding import DemoSummary, demo_data_present, seed_demo, seed_demo_pharmacy
from pharmacy.demo.staff import STAFF, DemoStaff

__all__ = [
    "PATIENTS",
    "PRESCRIBERS",
    "PRODUCTS",
    "STAFF",
    "DemoAddress",
    "DemoAllergy",
    "DemoPackage",
    "DemoPatient",
    "DemoPrescriber",
    "DemoProduct",
    "DemoStaff",
    "DemoSummary",
    "demo_data_present",
    "seed_demo",
    "seed_demo_pharmacy",
]
