"""Supplier services: what the API and pages cannot show on their own (races, names from
before names were checked, the shape of what a caller passes)."""

import threading

import pytest
from django.db import connection

from inventory.models import Supplier
from inventory.services.suppliers import (
    SupplierError,
    create_supplier,
    find_supplier,
    update_supplier,
)
from inventory.tests.factories import SupplierFactory


def refused(call, *args, **kwargs) -> SupplierError:
    with pytest.raises(SupplierError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_a_name_is_trimmed_and_its_spaces_made_one(manager):
    supplier = create_supplier(by=manager, name="\u00a0 Smith  &  Sons \u00a0Wholesale ")

    assert Supplier.objects.get(pk=supplier.pk).name == "Smith & Sons Wholesale"


def test_a_change_to_nothing_new_saves_nothing_and_unknown_fields_are_refused(manager):
    supplier = SupplierFactory(name="Anda", lead_time_days=2)

    same = update_supplier(supplier, by=manager, name=" Anda ", lead_time_days=2)
    error = refused(update_supplier, supplier, by=manager, pk=7, created="today")

    assert (same.name, same.lead_time_days) == ("Anda", 2)
    assert error.code == "unknown_field"
    assert error.fields == {
        "created": ["This field cannot be changed."],
        "pk": ["This field cannot be changed."],
    }
    assert list(Supplier.objects.values_list("name", "lead_time_days")) == [("Anda", 2)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"lead_time_days": True}, "lead_time_days"),
        ({"lead_time_days": "3"}, "lead_time_days"),
        ({"is_active": "no"}, "is_active"),
        ({"name": None}, "name"),
        ({"email": 12}, "email"),
    ],
)
def test_values_of_the_wrong_type_are_refused(manager, fields, field):
    supplier = SupplierFactory(name="Anda")

    error = refused(update_supplier, supplier, by=manager, **fields)

    assert (error.code, list(error.fields)) == ("invalid_supplier", [field])
    assert Supplier.objects.get().name == "Anda"


def test_names_from_before_the_case_check_are_found_by_exact_case_or_refused_as_ambiguous(db):
    # The unique index is case-sensitive: data loaded before the service existed may
    # hold two names that differ only in case.
    upper = Supplier.objects.create(name="ACME DRUG")
    lower = Supplier.objects.create(name="acme drug")

    error = refused(find_supplier, "Acme Drug")

    assert find_supplier("ACME DRUG") == upper
    assert find_supplier(" acme  drug ") == lower
    assert error.code == "ambiguous_supplier"
    assert error.detail == (
        f"Several suppliers are named 'Acme Drug' in different cases (#{upper.pk}, "
        f"#{lower.pk}): give the id."
    )


@pytest.mark.parametrize("reference", ["", "   ", None, True, 2**70])
def test_nothing_like_a_supplier_finds_none(db, reference):
    SupplierFactory(name="Anda")

    assert refused(find_supplier, reference).code == "unknown_supplier"


@pytest.mark.django_db(transaction=True)
def test_managers_adding_one_name_in_different_cases_at_once_add_it_once(manager):
    names = ["McKesson", "MCKESSON", "mckesson", "McKESSON"]
    start = threading.Barrier(len(names))
    outcomes: list[str] = []

    def add(name: str) -> None:
        try:
            start.wait()
            create_supplier(by=manager, name=name)
            outcomes.append("created")
        except SupplierError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created", *["duplicate_supplier"] * (len(names) - 1)]
    assert Supplier.objects.filter(name__iexact="mckesson").count() == 1
