"""Fixtures of the orders tests: the people and the drug the sample e-prescriptions name,
and a fill with two lots on the shelf (first expiring first)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.tests.factories import (
    PackageFactory,
    ProductFactory,
    ProductIngredientFactory,
    StockLotFactory,
)
from orders.models import Fill
from orders.tests.erx_samples import VALID_DEA, VALID_NPI
from orders.tests.factories import fill_at, stocked_package, stocked_prescription
from pharmacy.drug_checks import invalidate_interaction_index
from pharmacy.tests.factories import PatientFactory, PrescriberFactory


@pytest.fixture(autouse=True)
def fresh_interaction_index():
    # The index is cached per process; an import or a rollback in another test must not
    # leak into this one.
    invalidate_interaction_index()
    yield
    invalidate_interaction_index()


@pytest.fixture
def atorvastatin(db):
    """The drug of the sample NewRx (NDC 00071015523)."""
    product = ProductFactory(
        product_ndc="0071-0155",
        proprietary_name="Lipitor",
        nonproprietary_name="atorvastatin calcium",
        dosage_form="TABLET",
    )
    ProductIngredientFactory(product=product, ingredient__name="Atorvastatin")
    PackageFactory(product=product, package_ndc="0071-0155-23")
    return product


@pytest.fixture
def prescriber(db):
    """The prescriber of the sample messages, registered for Schedules II-V."""
    return PrescriberFactory(
        npi=VALID_NPI,
        dea_number=VALID_DEA,
        first_name="Chidi",
        last_name="Okafor",
        dea_schedules=["CII", "CIII", "CIV", "CV"],
    )


@pytest.fixture
def ana(db):
    """The patient the sample messages name, already on file with her allergies asked."""
    return PatientFactory(
        first_name="Ana",
        middle_name="Maria",
        last_name="Rivera",
        date_of_birth="1961-04-12",
        no_known_allergies=True,
    )


@pytest.fixture
def two_lots(db):
    """A fill of 30 tablets; lot EARLY (bin A-01) expires before lot LATE (bin B-07)."""
    package = stocked_package(units=0)
    early = StockLotFactory(
        package=package,
        lot_number="EARLY",
        expiry=timezone.localdate() + timedelta(days=200),
        quantity_on_hand=100,
    )
    late = StockLotFactory(
        package=package,
        lot_number="LATE",
        location="B-07",
        expiry=timezone.localdate() + timedelta(days=600),
        quantity_on_hand=100,
    )
    fill = fill_at(Fill.Status.FILL, prescription=stocked_prescription(product=package.product))
    return fill, early, late
