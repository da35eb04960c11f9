"""`GET|POST /api/v1/inventory/suppliers/`, `GET|PATCH .../{id}/` (DESIGN.md section 6),
and receipts naming their supplier by id or by exact name."""

import pytest

from inventory.models import PurchaseOrder, Supplier
from inventory.services.receiving import create_purchase_order
from inventory.tests.factories import PackageFactory, SupplierFactory
from inventory.tests.test_receiving import row_counts
from inventory.tests.test_stock_allocation import ledger_matches_stock

URL = "/api/v1/inventory/suppliers/"
RECEIPTS = "/api/v1/inventory/receipts/"
FIELDS = ("id", "name", "account_number", "email", "phone", "lead_time_days", "is_active")


def suppliers() -> list[tuple]:
    """Every supplier as stored, to show that a refusal changed nothing."""
    return list(Supplier.objects.order_by("pk").values_list(*FIELDS))


def as_json(supplier: Supplier) -> dict:
    supplier.refresh_from_db()
    return {field: getattr(supplier, field) for field in FIELDS}


@pytest.fixture
def cardinal(db):
    return SupplierFactory(
        name="Cardinal Health",
        account_number="CAH-0042",
        email="orders@cardinal.example",
        phone="614-555-0100",
        lead_time_days=2,
    )


@pytest.fixture
def package(db):
    return PackageFactory(package_ndc="70010-101-30", product__product_ndc="70010-101")


# --------------------------------------------------------------------------- create and read


def test_a_manager_adds_a_supplier_with_every_field(api_manager):
    response = api_manager.post(
        URL,
        {
            "name": "  McKesson   Pharmaceutical ",
            "account_number": " MCK-7781 ",
            "email": "orders@mckesson.example",
            "phone": "+1 (800) 555-0199 x12",
            "lead_time_days": 3,
            "is_active": True,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    supplier = Supplier.objects.get()
    assert response.json() == {
        "id": supplier.pk,
        "name": "McKesson Pharmaceutical",
        "account_number": "MCK-7781",
        "email": "orders@mckesson.example",
        "phone": "+1 (800) 555-0199 x12",
        "lead_time_days": 3,
        "is_active": True,
    }
    assert as_json(supplier) == response.json()


def test_only_the_name_is_required(api_manager):
    response = api_manager.post(URL, {"name": "Anda"}, format="json")

    assert response.status_code == 201
    assert response.json() == {
        "id": Supplier.objects.get().pk,
        "name": "Anda",
        "account_number": "",
        "email": "",
        "phone": "",
        "lead_time_days": 1,
        "is_active": True,
    }


def test_suppliers_are_listed_by_name_and_filtered(api_technician, cardinal):
    anda = SupplierFactory(name="Anda", is_active=False)
    mckesson = SupplierFactory(name="McKesson")

    everyone = api_technician.get(URL).json()
    active = api_technician.get(URL, {"active": "true"}).json()
    inactive = api_technician.get(URL, {"active": "false"}).json()
    by_name = api_technician.get(URL, {"name": "  MCKESSON "}).json()
    no_one = api_technician.get(URL, {"name": "McKes"}).json()
    bad = api_technician.get(URL, {"active": "maybe"})

    assert [s["name"] for s in everyone["results"]] == ["Anda", "Cardinal Health", "McKesson"]
    assert everyone["results"][1] == as_json(cardinal)
    assert [s["id"] for s in active["results"]] == [cardinal.pk, mckesson.pk]
    assert [s["id"] for s in inactive["results"]] == [anda.pk]
    assert [s["id"] for s in by_name["results"]] == [mckesson.pk]
    assert no_one["results"] == []
    assert bad.status_code == 400
    assert bad.json() == {"error": "invalid_parameter", "detail": "active is true or false."}


def test_one_supplier_is_read_by_id(api_pharmacist, cardinal):
    found = api_pharmacist.get(f"{URL}{cardinal.pk}/")
    missing = api_pharmacist.get(f"{URL}{cardinal.pk + 1000}/")

    assert found.status_code == 200
    assert found.json() == as_json(cardinal)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


# --------------------------------------------------------------------------- change


def test_a_manager_changes_some_fields(api_manager, cardinal):
    response = api_manager.patch(
        f"{URL}{cardinal.pk}/",
        {"lead_time_days": 0, "email": "", "name": "Cardinal Health 110"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "id": cardinal.pk,
        "name": "Cardinal Health 110",
        "account_number": "CAH-0042",
        "email": "",
        "phone": "614-555-0100",
        "lead_time_days": 0,
        "is_active": True,
    }
    assert as_json(cardinal) == response.json()


def test_a_supplier_keeps_its_own_name_in_another_case(api_manager, cardinal):
    response = api_manager.patch(f"{URL}{cardinal.pk}/", {"name": "CARDINAL HEALTH"}, format="json")

    assert response.status_code == 200
    assert as_json(cardinal)["name"] == "CARDINAL HEALTH"


def test_deactivating_and_reactivating_a_supplier(api_manager, cardinal):
    off = api_manager.patch(f"{URL}{cardinal.pk}/", {"is_active": False}, format="json")
    still_listed = api_manager.get(URL, {"active": "false"}).json()
    on = api_manager.patch(f"{URL}{cardinal.pk}/", {"is_active": True}, format="json")

    assert (off.status_code, off.json()["is_active"]) == (200, False)
    assert [s["id"] for s in still_listed["results"]] == [cardinal.pk]
    assert (on.status_code, on.json()["is_active"]) == (200, True)


def test_a_supplier_with_an_open_order_is_not_deactivated(api_manager, manager, cardinal, package):
    create_purchase_order(cardinal, lines=[(package, 2)], by=manager, number="PO-7")
    before = suppliers()

    response = api_manager.patch(f"{URL}{cardinal.pk}/", {"is_active": False}, format="json")

    assert response.status_code == 409
    message = (
        "Cardinal Health has 1 open purchase order (PO-7): close or cancel them before "
        "deactivating it."
    )
    assert response.json() == {
        "error": "supplier_has_open_orders",
        "detail": f"{message} Nothing was saved.",
        "fields": {"is_active": [message]},
    }
    assert suppliers() == before


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("given", "error", "fields"),
    [
        (
            {"name": "cardinal HEALTH"},
            "duplicate_supplier",
            {"name": ["A supplier named Cardinal Health (#{pk}) exists already: names are "
                      "unique whatever their case."]},
        ),
        (
            {"name": "Anda", "email": "orders-at-anda"},
            "invalid_supplier",
            {"email": ["'orders-at-anda' is not an e-mail address."]},
        ),
        (
            {"name": "Anda", "lead_time_days": -1},
            "invalid_supplier",
            {"lead_time_days": ["The lead time is from 0 to 365 days, not -1."]},
        ),
        (
            {"name": "Anda", "lead_time_days": 366},
            "invalid_supplier",
            {"lead_time_days": ["The lead time is from 0 to 365 days, not 366."]},
        ),
        (
            {"name": "Anda\u0007 Inc"},
            "invalid_supplier",
            {
                "name": [
                    "The name contains a control character (U+0007), which cannot be shown "
                    "or printed; remove it."
                ]
            },
        ),
        (
            {"name": "Anda\nInc"},
            "invalid_supplier",
            {"name": ["The name contains a line break or tab (U+000A) but must be one line."]},
        ),
        (
            {"name": "\u202eAnda"},
            "invalid_supplier",
            {
                "name": [
                    "The name contains an invisible text-direction character (U+202E), which "
                    "can make it display differently from what is stored; remove it."
                ]
            },
        ),
        (
            {"name": " 1234 "},
            "invalid_supplier",
            {"name": ["A supplier's name cannot be only digits (1234): it would read as an id."]},
        ),
        (
            {"name": "   "},
            "invalid_supplier",
            {"name": ["The supplier's name is missing."]},
        ),
        (
            {"name": "A" * 201},
            "invalid_supplier",
            {"name": ["The name has at most 200 characters, not 201."]},
        ),
        (
            {"name": "Anda", "phone": "call the rep"},
            "invalid_supplier",
            {"phone": ["'call the rep' is not a phone number: digits, spaces, + ( ) - . and an "
                       "extension as x123."]},
        ),
        (
            {"name": "cardinal health", "email": "nope", "lead_time_days": 400},
            "invalid_supplier",
            {
                "name": ["A supplier named Cardinal Health (#{pk}) exists already: names are "
                         "unique whatever their case."],
                "email": ["'nope' is not an e-mail address."],
                "lead_time_days": ["The lead time is from 0 to 365 days, not 400."],
            },
        ),
    ],
    ids=[
        "duplicate-name-any-case", "bad-email", "negative-lead-time", "lead-time-over-a-year",
        "control-character", "line-break", "direction-override", "only-digits", "blank-name",
        "name-too-long", "bad-phone", "every-problem-at-once",
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_every_problem_and_nothing_written(
    api_manager, cardinal, given, error, fields
):
    before = suppliers()

    response = api_manager.post(URL, given, format="json")

    assert response.status_code == 400
    body = response.json()
    expected = {
        field: [message.replace("{pk}", str(cardinal.pk)) for message in messages]
        for field, messages in fields.items()
    }
    assert body["error"] == error
    assert body["fields"] == expected
    assert body["detail"] == " ".join(m[0] for m in expected.values()) + " Nothing was saved."
    assert suppliers() == before


@pytest.mark.parametrize(
    ("given", "fields"),
    [
        ({"name": "Anda", "deleted": True}, {"deleted": ["This is not a field of a supplier."]}),
        ({"name": "Anda", "id": 7}, {"id": ["This is not a field of a supplier."]}),
        ({"account_number": "X"}, {"name": ["This field is required."]}),
        (
            {"name": "Anda", "lead_time_days": "soon"},
            {"lead_time_days": ["A valid integer is required."]},
        ),
        (
            {"lead_time_days": 2, "leadtime": 3},
            {
                "name": ["This field is required."],
                "leadtime": ["This is not a field of a supplier."],
            },
        ),
    ],
    ids=["unknown-field", "id-is-not-input", "name-missing", "lead-time-not-a-number",
         "missing-and-unknown"],
)  # fmt: skip
def test_misshapen_input_is_refused_before_the_service(api_manager, cardinal, given, fields):
    before = suppliers()

    response = api_manager.post(URL, given, format="json")

    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["fields"]) == ("invalid_supplier", fields)
    assert body["detail"].startswith("The supplier is not valid; nothing was saved. ")
    assert suppliers() == before


@pytest.mark.parametrize(
    ("given", "error", "field"),
    [
        ({"name": "mckesson"}, "duplicate_supplier", "name"),
        ({"email": "x@"}, "invalid_supplier", "email"),
        ({"lead_time_days": -3}, "invalid_supplier", "lead_time_days"),
        ({"is_active": False, "colour": "red"}, "invalid_supplier", "colour"),
        ({"name": "Cardinal\tHealth"}, "invalid_supplier", "name"),
    ],
)
def test_a_bad_change_is_refused_and_nothing_changes(api_manager, cardinal, given, error, field):
    SupplierFactory(name="McKesson")
    before = suppliers()

    response = api_manager.patch(f"{URL}{cardinal.pk}/", given, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert list(response.json()["fields"]) == [field]
    assert suppliers() == before


# --------------------------------------------------------------------------- who may


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("technician", 200, 403), ("pharmacist", 200, 403), ("manager", 200, 201)],
)
def test_every_role_reads_and_only_managers_write(request, cardinal, role, read, write):
    client = request.getfixturevalue(f"api_{role}")

    listed = client.get(URL)
    one = client.get(f"{URL}{cardinal.pk}/")
    created = client.post(URL, {"name": f"{role} supplies"}, format="json")
    changed = client.patch(f"{URL}{cardinal.pk}/", {"lead_time_days": 9}, format="json")

    assert (listed.status_code, one.status_code) == (read, read)
    assert created.status_code == write
    assert changed.status_code == (200 if write == 201 else 403)
    if write == 403:
        assert created.json()["error"] == "permission_denied"
        assert Supplier.objects.filter(name=f"{role} supplies").count() == 0
        assert as_json(cardinal)["lead_time_days"] == 2


def test_anonymous_callers_are_401(client, cardinal):
    assert client.get(URL).status_code == 401
    assert client.post(URL, {"name": "X"}, content_type="application/json").status_code == 401
    assert Supplier.objects.count() == 1


def test_the_schema_documents_the_supplier_endpoints(api_manager):
    schema = api_manager.get("/api/schema/", {"format": "json"}).json()

    assert set(schema["paths"][URL]) >= {"get", "post"}
    assert set(schema["paths"][f"{URL}{{id}}/"]) >= {"get", "patch"}
    receipt = schema["components"]["schemas"]["ReceiptInputRequest"]["properties"]["supplier"]
    assert receipt["oneOf"] == [{"type": "integer"}, {"type": "string"}]


# --------------------------------------------------------------------------- receipts


def receive(client, supplier, **extra):
    return client.post(
        RECEIPTS,
        {
            "lines": [{"ndc": "70010-101-30", "lot": "A1", "expiry": "2031-01", "quantity": 1}],
            "supplier": supplier,
            **extra,
        },
        format="json",
    )


@pytest.mark.parametrize(
    "reference",
    ["id", "id-as-text", "Cardinal Health", "  cardinal   HEALTH "],
    ids=["id", "id-as-text", "exact-name", "name-any-case-and-spacing"],
)
def test_a_receipt_names_its_supplier_by_id_or_name(api_technician, cardinal, package, reference):
    given = {"id": cardinal.pk, "id-as-text": str(cardinal.pk)}.get(reference, reference)

    response = receive(api_technician, given)

    assert response.status_code == 201, response.json()
    assert response.json()["supplier"] == {"id": cardinal.pk, "name": "Cardinal Health"}
    assert ledger_matches_stock()


def test_a_supplier_added_through_the_api_can_receive_at_once(api_manager, api_technician, package):
    created = api_manager.post(URL, {"name": "Anda"}, format="json").json()

    response = receive(api_technician, "Anda")

    assert response.status_code == 201
    assert response.json()["supplier"] == {"id": created["id"], "name": "Anda"}


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("Nobody Wholesale", "No supplier is named 'Nobody Wholesale'."),
        ("Cardinal", "No supplier is named 'Cardinal'."),
        (999999, "No supplier has the id 999999."),
        ("999999", "No supplier has the id 999999."),
        (-4, "No supplier has the id -4."),
    ],
)
def test_an_unknown_supplier_is_400_naming_it_and_nothing_received(
    api_technician, cardinal, package, reference, message
):
    before = row_counts()

    response = receive(api_technician, reference)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_receipt",
        "detail": f"{message} Nothing was received.",
        "fields": {"supplier": [message]},
    }
    assert row_counts() == before


@pytest.mark.parametrize("by", ["id", "name"])
def test_an_inactive_supplier_cannot_deliver(api_technician, cardinal, package, by):
    Supplier.objects.filter(pk=cardinal.pk).update(is_active=False)
    before = row_counts()

    response = receive(api_technician, cardinal.pk if by == "id" else "cardinal health")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_receipt",
        "detail": "Cardinal Health is not an active supplier.",
        "fields": {"supplier": ["Cardinal Health is not an active supplier."]},
    }
    assert row_counts() == before


def test_an_unknown_supplier_is_named_beside_the_bad_lines(api_technician, cardinal, package):
    before = row_counts()

    response = api_technician.post(
        RECEIPTS,
        {
            "lines": [{"ndc": "70010-101-30", "lot": "", "expiry": "2031-01", "quantity": 1}],
            "supplier": "Nobody Wholesale",
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "lines": [{"lot": ["The lot number is missing: type it as on the label."]}],
        "supplier": ["No supplier is named 'Nobody Wholesale'."],
    }
    assert row_counts() == before


@pytest.mark.parametrize("reference", [True, ["Cardinal Health"], {"id": 1}, 2.5, "x" * 201])
def test_a_supplier_that_is_neither_id_nor_name_is_refused(
    api_technician, cardinal, package, reference
):
    before = row_counts()

    response = receive(api_technician, reference)

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["supplier"]
    assert row_counts() == before


def test_a_receipt_by_name_against_another_suppliers_order_is_refused(
    api_technician, manager, cardinal, package
):
    other = SupplierFactory(name="McKesson")
    create_purchase_order(other, lines=[(package, 1)], by=manager, number="PO-9")
    before = row_counts()

    response = receive(api_technician, "Cardinal Health", purchase_order="PO-9")

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "purchase_order": ["PO PO-9 is from McKesson, not Cardinal Health."]
    }
    assert row_counts() == before
    assert PurchaseOrder.objects.get(number="PO-9").status == "open"
