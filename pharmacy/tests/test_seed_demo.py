"""`manage.py seed_demo`: the demo pharmacy, its idempotence, and the printed logins.

The command runs every app's demo; the orders demo (tested in orders/tests/test_demo.py)
adds the records intake creates for a technician to complete (``needs_review``), so the
people of the pharmacy's own demo are counted without them.
"""

import ast
import io
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import Client

from inventory.models import (
    DEASchedule,
    Ingredient,
    Package,
    PharmacologicClass,
    Product,
    ProductIngredient,
    Storage,
)
from inventory.ndc import package_ndc_layout
from pharmacy.demo import PATIENTS, PRESCRIBERS, PRODUCTS, STAFF
from pharmacy.identifiers import is_valid_dea_number, is_valid_npi
from pharmacy.management.commands.seed_demo import app_demo_seeders
from pharmacy.models import Allergy, Patient, PatientAddress, Prescriber, Role, User
from pharmacy.tests.factories import PatientFactory


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    models = [User, Patient, PatientAddress, Allergy, Prescriber, Ingredient,
              PharmacologicClass, Product, ProductIngredient, Package,
              Product.pharmacologic_classes.through]  # fmt: skip
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.django_db
def test_seed_on_an_empty_database_creates_the_demo_pharmacy():
    output = seed()

    assert {role: User.objects.filter(groups__name=role).count() for role in Role.values} == {
        Role.TECHNICIAN: 2,
        Role.PHARMACIST: 2,
        Role.MANAGER: 1,
    }
    assert User.objects.count() == 5
    assert all(
        user.license_number and user.license_state == "OH"
        for user in User.objects.filter(groups__name=Role.PHARMACIST)
    )
    assert Prescriber.objects.filter(needs_review=False).count() == len(PRESCRIBERS) == 8
    assert Prescriber.objects.filter(dea_number="").count() == 1
    demo_patients = Patient.objects.filter(needs_review=False)
    assert demo_patients.count() == len(PATIENTS) == 25
    addresses = PatientAddress.objects.filter(patient__in=demo_patients)
    assert addresses.count() == sum(len(p.addresses) for p in PATIENTS)
    assert addresses.filter(is_default_shipping=True).count() == 25
    assert Allergy.objects.count() == sum(len(p.allergies) for p in PATIENTS)
    assert Product.objects.count() == len(PRODUCTS) == 55
    assert Package.objects.count() == sum(len(p.packages) for p in PRODUCTS)
    assert "Demo data loaded." in output


@pytest.mark.django_db
def test_demo_catalogue_covers_what_the_demonstrations_need():
    seed()

    penicillin_class = PharmacologicClass.objects.get(
        name="Penicillin-class Antibacterial", kind=PharmacologicClass.Kind.ESTABLISHED
    )
    assert {p.nonproprietary_name for p in penicillin_class.products.all()} >= {
        "Amoxicillin",
        "Penicillin V Potassium",
    }
    assert set(Product.objects.controlled().values_list("dea_schedule", flat=True)) == {
        DEASchedule.CII,
        DEASchedule.CIII,
        DEASchedule.CIV,
        DEASchedule.CV,
    }
    refrigerated = Product.objects.filter(storage=Storage.REFRIGERATED)
    assert {"Humalog", "Lantus"} <= set(refrigerated.values_list("proprietary_name", flat=True))
    assert not Product.objects.filter(strengths__isnull=True).exists()
    assert Ingredient.objects.get(normalized_name="WARFARIN").name == "WARFARIN SODIUM"
    lipitor = Package.objects.get(package_ndc="0071-0155-23")
    assert (lipitor.description, lipitor.quantity, lipitor.unit) == (
        "90 TABLET, FILM COATED in 1 BOTTLE (0071-0155-23)",
        90,
        "TABLET",
    )


@pytest.mark.django_db
def test_demo_patients_show_each_kind_of_allergy_record():
    seed()

    allergies = Allergy.objects.all()
    assert allergies.filter(ingredient__normalized_name="SULFAMETHOXAZOLE").exists()
    assert allergies.filter(ingredient__normalized_name="CODEINE").exists()
    assert allergies.filter(pharmacologic_class__name="Penicillin-class Antibacterial").count() >= 2
    patients = Patient.objects.filter(needs_review=False)
    assert patients.filter(no_known_allergies=True, allergies__isnull=True).count() == 8
    assert patients.filter(no_known_allergies=False, allergies__isnull=True).count() == 6
    assert patients.filter(no_known_allergies=True, allergies__isnull=False).count() == 0
    assert patients.filter(child_resistant_waiver_on__isnull=False).count() == 1
    assert patients.filter(preferred_language="Spanish").count() == 5


def test_every_demo_prescriber_has_a_valid_npi_and_dea_number():
    for prescriber in PRESCRIBERS:
        assert is_valid_npi(prescriber.npi), prescriber
        if prescriber.dea_number:
            assert is_valid_dea_number(prescriber.dea_number), prescriber
            assert prescriber.dea_number[1] == prescriber.last_name[0], prescriber
            assert prescriber.dea_schedules, prescriber
        else:
            assert prescriber.dea_schedules == (), prescriber
    assert len({p.npi for p in PRESCRIBERS}) == len(PRESCRIBERS)


@pytest.mark.django_db
def test_every_demo_package_ndc_is_well_formed_and_its_digits_agree():
    seed()

    packages = list(Package.objects.select_related("product"))
    assert len({p.ndc10 for p in packages}) == len(packages)
    for package in packages:
        layout = package_ndc_layout(package.package_ndc)
        labeler, product, code = package.package_ndc.split("-")
        assert package.product.product_ndc == f"{labeler}-{product}"
        assert package.ndc10 == labeler + product + code
        # NDC11 is 5-4-2: a zero in front of the one short segment of the layout.
        assert package.ndc11 == labeler.zfill(5) + product.zfill(4) + code.zfill(2), layout
        assert f"({package.package_ndc})" in package.description


@pytest.mark.django_db
def test_seeding_twice_creates_and_changes_nothing():
    seed()
    before = row_counts()
    lipitor_updated_at = Product.objects.get(product_ndc="0071-0155").updated_at

    output = seed()

    assert row_counts() == before
    assert Product.objects.get(product_ndc="0071-0155").updated_at == lipitor_updated_at
    assert "Demo data already complete; nothing new loaded." in output
    assert "(0 new)" in output
    assert not re.search(r"\([1-9]\d* new\)", output)


@pytest.mark.django_db
def test_seed_keeps_existing_rows_and_fills_in_the_rest():
    margaret = PATIENTS[0]
    patient = PatientFactory(
        first_name=margaret.first_name,
        last_name=margaret.last_name,
        date_of_birth=margaret.date_of_birth,
        phone="(614) 555-0199",
    )

    seed()

    patient.refresh_from_db()
    assert patient.phone == "(614) 555-0199"
    assert Patient.objects.filter(last_name="Sullivan").count() == 1
    assert patient.addresses.count() == 0
    assert Patient.objects.filter(needs_review=False).count() == 25


@pytest.mark.django_db
def test_if_empty_skips_a_database_that_has_people():
    PatientFactory()
    before = row_counts()

    output = seed("--if-empty")

    assert "Demo data already present; nothing loaded." in output
    assert row_counts() == before
    assert "No demo staff accounts exist in this database." in output


@pytest.mark.django_db
def test_if_empty_loads_an_empty_database():
    output = seed("--if-empty")

    assert "Demo data loaded." in output
    assert Product.objects.count() == len(PRODUCTS)


@pytest.mark.django_db
def test_printed_credentials_let_each_demo_staff_member_sign_in(monkeypatch):
    monkeypatch.setenv("PORT", "8123")

    output = seed()

    table = {
        tuple(line.split()[:2]): line.split()[-1]
        for line in output.splitlines()
        if line.startswith("  ") and line.split()[0] in {s.username for s in STAFF}
    }
    assert table == {(s.username, Role(s.role).label): s.password for s in STAFF}
    assert "http://127.0.0.1:8123" in output
    # No demo authenticator secret is printed: each sets up their own app at first sign-in.
    assert "Pharmacists and managers then set up an authenticator app" in output
    for username, _role in table:
        client = Client()
        assert client.login(
            request=HttpRequest(), username=username, password=table[username, _role]
        )


@pytest.mark.django_db
def test_credentials_table_is_printed_even_when_nothing_is_loaded(monkeypatch):
    monkeypatch.delenv("PORT", raising=False)
    seed()

    output = seed("--if-empty")

    assert "Demo data already present; nothing loaded." in output
    assert all(s.username in output and s.password in output for s in STAFF)
    assert "http://127.0.0.1:8000" in output


@pytest.mark.django_db
def test_a_refused_demo_password_loads_nothing_at_all(settings):
    settings.AUTH_PASSWORD_VALIDATORS = [
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 40},
        }
    ]

    with pytest.raises(CommandError, match="Nothing was loaded"):
        seed()

    assert set(row_counts().values()) == {0}


def test_the_pharmacy_demo_runs_first_then_the_apps_in_installed_apps_order():
    labels = [label for label, _seed in app_demo_seeders()]

    assert labels == ["pharmacy", "inventory", "orders", "shipping"]


def test_the_seed_command_never_imports_the_apps_that_depend_on_pharmacy():
    # DESIGN.md section 3: inventory <- pharmacy <- orders <- shipping. The command
    # reaches the orders demo through the app registry only.
    package = Path(__file__).resolve().parents[1]
    paths = [*(package / "demo").rglob("*.py"), *(package / "management").rglob("*.py")]
    offenders = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] in ("orders", "shipping")
            ]
    assert offenders == []
