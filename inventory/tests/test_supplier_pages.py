"""The suppliers pages: managers add and change suppliers in the browser; every stock role
reads the list; the server refuses the forms to anyone else."""

import re

import pytest

from inventory.models import Supplier
from inventory.services.receiving import create_purchase_order
from inventory.tests.factories import PackageFactory, SupplierFactory

LIST = "/catalogue/stock/suppliers/"
NEW = "/catalogue/stock/suppliers/new/"
FORM = {
    "name": "McKesson",
    "account_number": "MCK-7781",
    "email": "orders@mckesson.example",
    "phone": "800-555-0199",
    "lead_time_days": "3",
    "is_active": "on",
}


def edit_url(supplier: Supplier) -> str:
    return f"/catalogue/stock/suppliers/{supplier.pk}/"


def stored() -> list[tuple]:
    return list(
        Supplier.objects.order_by("pk").values_list(
            "name", "account_number", "email", "phone", "lead_time_days", "is_active"
        )
    )


@pytest.fixture
def cardinal(db):
    return SupplierFactory(name="Cardinal Health", lead_time_days=2, email="orders@cah.example")


def test_a_manager_adds_a_supplier(client_manager):
    form = client_manager.get(NEW)

    response = client_manager.post(NEW, FORM, follow=True)

    assert form.status_code == 200
    assert 'name="name"' in form.content.decode()
    assert response.redirect_chain == [(LIST, 302)]
    assert stored() == [
        ("McKesson", "MCK-7781", "orders@mckesson.example", "800-555-0199", 3, True)
    ]
    page = response.content.decode()
    assert "McKesson is added." in page
    assert "orders@mckesson.example" in page


def test_a_refused_supplier_shows_the_reasons_and_saves_nothing(client_manager, cardinal):
    before = stored()

    response = client_manager.post(
        NEW, {**FORM, "name": " cardinal health ", "email": "orders at mck", "lead_time_days": "-2"}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert (
        f"A supplier named Cardinal Health (#{cardinal.pk}) exists already: names are unique "
        "whatever their case."
    ) in page
    assert "&#x27;orders at mck&#x27; is not an e-mail address." in page
    assert "The lead time is from 0 to 365 days, not -2." in page
    assert 'value=" cardinal health "' in page  # what was typed stays in the form
    assert stored() == before


def test_the_cursor_goes_to_the_first_field_to_correct(client_manager):
    response = client_manager.post(NEW, {**FORM, "email": "nope"})

    assert response.status_code == 400
    autofocused = re.findall(r'<input[^>]*name="(\w+)"[^>]*autofocus', response.content.decode())
    assert autofocused == ["email"]
    assert Supplier.objects.count() == 0


def test_a_manager_changes_and_deactivates_a_supplier(client_manager, cardinal):
    form = client_manager.get(edit_url(cardinal))

    response = client_manager.post(
        edit_url(cardinal),
        {**FORM, "name": "Cardinal Health 110", "lead_time_days": "5", "is_active": ""},
        follow=True,
    )

    assert form.status_code == 200
    assert 'value="Cardinal Health"' in form.content.decode()
    assert response.redirect_chain == [(LIST, 302)]
    assert "Cardinal Health 110 is saved: inactive" in response.content.decode()
    assert stored() == [
        ("Cardinal Health 110", "MCK-7781", "orders@mckesson.example", "800-555-0199", 5, False)
    ]
    inactive = client_manager.get(LIST, {"show": "inactive"}).content.decode()
    assert "Cardinal Health 110" in inactive
    assert "Cardinal Health 110" not in client_manager.get(LIST).content.decode()


def test_a_supplier_with_an_open_order_stays_active(client_manager, manager, cardinal):
    create_purchase_order(cardinal, lines=[(PackageFactory(), 1)], by=manager, number="PO-3")
    before = stored()

    response = client_manager.post(
        edit_url(cardinal), {**FORM, "name": "Cardinal Health", "is_active": ""}
    )

    assert response.status_code == 400
    assert "Cardinal Health has 1 open purchase order (PO-3)" in response.content.decode()
    assert stored() == before


def test_a_technician_reads_the_list_but_cannot_add_or_change(client_technician, cardinal):
    before = stored()

    listing = client_technician.get(LIST)
    new_form = client_technician.get(NEW)
    added = client_technician.post(NEW, FORM)
    edit_form = client_technician.get(edit_url(cardinal))
    changed = client_technician.post(edit_url(cardinal), {**FORM, "is_active": ""})

    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Cardinal Health" in page
    assert edit_url(cardinal) not in page
    assert NEW not in page
    assert (new_form.status_code, added.status_code) == (403, 403)
    assert (edit_form.status_code, changed.status_code) == (403, 403)
    assert stored() == before


def test_anonymous_visitors_are_sent_to_sign_in(client, cardinal):
    response = client.post(NEW, FORM)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert stored() == [("Cardinal Health", "", "orders@cah.example", "", 2, True)]


@pytest.mark.parametrize("role", ["technician", "pharmacist", "manager"])
def test_the_inventory_page_links_to_suppliers(request, role):
    client = request.getfixturevalue(f"client_{role}")

    page = client.get("/catalogue/stock/").content.decode()

    assert f'href="{LIST}"' in page


def test_an_empty_list_tells_a_manager_to_add_the_first_supplier(client_manager):
    page = client_manager.get(LIST).content.decode()

    assert "Add the first one to receive stock." in page
    assert f'href="{NEW}"' in page
