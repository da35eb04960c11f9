"""Each role reaches its own pages and endpoints and is refused the others'."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pharmacy.models import User, hash_api_key
from pharmacy.permissions import StaffTokenAuthentication
from pharmacy.services import create_api_token
from pharmacy.tests.factories import PatientFactory

PAGES = {
    "/technician/": {"technician", "pharmacist"},
    "/pharmacist/": {"pharmacist"},
    "/manager/": {"manager"},
    "/patients/": {"technician", "pharmacist"},
    "/audit/": {"manager"},
    "/catalogue/": {"technician", "pharmacist", "manager"},
    "/catalogue/stock/": {"technician", "pharmacist", "manager"},
}


@pytest.mark.parametrize("role", ["technician", "pharmacist", "manager"])
@pytest.mark.parametrize(("path", "allowed"), PAGES.items())
def test_page_access_follows_the_role(request, role, path, allowed):
    client = request.getfixturevalue(f"client_{role}")

    response = client.get(path)

    assert response.status_code == (200 if role in allowed else 403)


@pytest.mark.parametrize("role", ["technician", "pharmacist", "manager"])
def test_patient_api_access_follows_the_role(request, role):
    client = request.getfixturevalue(f"api_{role}")
    patient = PatientFactory()

    listing = client.get("/api/v1/patients/")
    detail = client.get(f"/api/v1/patients/{patient.pk}/")

    expected = 403 if role == "manager" else 200
    assert (listing.status_code, detail.status_code) == (expected, expected)
    if expected == 403:
        assert detail.json() == {
            "error": "permission_denied",
            "detail": "Your role (Manager) does not allow this.",
        }


@pytest.mark.parametrize(
    ("role", "home"),
    [("technician", "/technician/"), ("pharmacist", "/pharmacist/"), ("manager", "/manager/")],
)
def test_each_role_lands_on_its_home(request, role, home):
    client = request.getfixturevalue(f"client_{role}")

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == home


@pytest.mark.parametrize(
    ("role", "queues", "areas", "more"),
    [
        (
            "technician",
            ["Intake", "Fill", "Pack", "Holds", "Exceptions"],
            ["Patients", "Shipping"],
            ["Prescribers", "Catalogue", "Inventory", "Refill by phone"],
        ),
        (
            "pharmacist",
            ["Intake", "PV1", "Fill", "PV2", "Pack", "Holds", "Exceptions"],
            ["Patients", "Shipping"],
            ["Prescribers", "Catalogue", "Inventory", "Refill by phone", "Label warnings"],
        ),
        (
            "manager",
            ["Exceptions"],
            ["Dashboard", "Shipping"],
            ["Prescribers", "Catalogue", "Inventory", "Audit trail"],
        ),
    ],
)
def test_navigation_shows_only_what_the_role_may_use(request, role, queues, areas, more):
    client = request.getfixturevalue(f"client_{role}")

    home = client.get("/")["Location"]
    navigation = client.get(home).context["navigation"]

    assert [item["label"] for item in navigation["home"]] == ["Home"]
    assert [item["label"] for item in navigation["queues"]] == queues
    assert [item["label"] for item in navigation["areas"]] == areas
    assert [item["label"] for item in navigation["more"]] == more
    current = [
        item["label"]
        for group in ("home", "queues", "areas", "more")
        for item in navigation[group]
        if item["active"]
    ]
    assert current == ["Home"]


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get("/technician/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/technician/"


def test_api_without_credentials_is_401(client, db):
    response = client.get("/api/v1/patients/")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_api_with_a_wrong_token_is_401(client, db):
    response = client.get("/api/v1/patients/", HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code == 401
    assert response.json() == {"error": "authentication_failed", "detail": "Invalid token."}


def test_api_with_the_token_of_an_inactive_user_is_401(technician):
    key = create_api_token(technician).key
    User.objects.filter(pk=technician.pk).update(is_active=False)

    response = Client().get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 401
    assert response.json() == {
        "error": "authentication_failed",
        "detail": "User inactive or deleted.",
    }


def test_a_token_reads_the_same_role_and_permissions_as_a_signed_in_user(technician):
    technician.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    key = create_api_token(technician).key

    user, token = StaffTokenAuthentication().authenticate_credentials(key)

    signed_in = User.objects.get(pk=technician.pk)
    signed_in.load_role_and_permissions()
    assert (user, token.user, token.key_hash) == (technician, user, hash_api_key(key))
    assert (user.role, user._role_permissions) == (signed_in.role, signed_in._role_permissions)
    assert {"pharmacy.view_dashboard", "pharmacy.work_technician_queues"} <= user._role_permissions


def test_a_token_request_finds_the_user_and_role_in_its_first_query(technician):
    key = create_api_token(technician).key

    with CaptureQueriesContext(connection) as queries:
        response = Client().get(
            "/api/v1/patients/?last_name=Nobody", HTTP_AUTHORIZATION=f"Token {key}"
        )

    assert response.status_code == 200
    first = queries[0]["sql"]
    assert first.startswith('SELECT "pharmacy_apitoken"."id"')
    assert '"pharmacy_user"."is_active"' in first
    assert '"auth_group"' in first
    assert not any('"auth_group"' in query["sql"] for query in queries[1:])


def test_home_pages_show_real_numbers(client_manager, client_technician):
    PatientFactory.create_batch(3)

    manager_page = client_manager.get("/manager/")
    technician_page = client_technician.get("/technician/")

    assert manager_page.context["patients"] == 3
    assert dict(manager_page.context["staff"]) == {"Technician": 1, "Pharmacist": 0, "Manager": 1}
    assert technician_page.context["patients"] == 3


def test_a_permission_given_to_the_user_directly_counts_in_the_api(manager, api_manager):
    # Managers do not see patients through their role; an explicit grant in the admin does.
    from django.contrib.auth.models import Permission  # noqa: PLC0415

    manager.user_permissions.add(
        Permission.objects.get(content_type__app_label="pharmacy", codename="view_patient")
    )

    assert api_manager.get("/api/v1/patients/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_migrate_brings_the_role_groups_back_to_the_roles_table():
    from django.contrib.auth.models import Group  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415

    from pharmacy.roles import ROLE_PERMISSIONS  # noqa: PLC0415

    technicians = Group.objects.get(name="technician")
    technicians.permissions.clear()

    call_command("migrate", verbosity=0)

    held = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in technicians.permissions.select_related("content_type")
    }
    assert held == set(ROLE_PERMISSIONS["technician"])
