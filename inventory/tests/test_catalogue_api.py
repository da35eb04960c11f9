"""The read-only catalogue API: products by name or NDC, packages by NDC or scan."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from inventory.models import DEASchedule, PharmacologicClass
from inventory.ndc import GROUP_SEPARATOR as GS
from inventory.ndc import gtin14_from_ndc
from inventory.tests.factories import (
    IngredientFactory,
    PackageFactory,
    PharmacologicClassFactory,
    ProductFactory,
    ProductIngredientFactory,
)
from pharmacy.models import User

pytestmark = pytest.mark.django_db

STRATTERA_GTIN = gtin14_from_ndc("0002-3227-30")


@pytest.fixture
def strattera():
    product = ProductFactory(
        product_ndc="0002-3227",
        proprietary_name="Strattera",
        nonproprietary_name="atomoxetine hydrochloride",
        dea_schedule=DEASchedule.NONE,
    )
    ProductIngredientFactory(
        product=product, ingredient=IngredientFactory(name="Atomoxetine"), strength="10"
    )
    product.pharmacologic_classes.add(
        PharmacologicClassFactory(name="Norepinephrine Reuptake Inhibitor"),
    )
    PackageFactory(
        product=product,
        package_ndc="0002-3227-30",
        description="30 CAPSULE in 1 BOTTLE (0002-3227-30)",
        quantity=Decimal("30"),
    )
    return product


def test_product_search_by_name(api_technician, strattera):
    ProductFactory(proprietary_name="Zyprexa", nonproprietary_name="olanzapine")
    response = api_technician.get("/api/v1/products/", {"search": "atomox"})
    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "product_ndc": "0002-3227",
                "display_name": "Strattera (atomoxetine hydrochloride)",
                "full_description": "Strattera (atomoxetine hydrochloride) 10 mg capsule",
                "proprietary_name": "Strattera",
                "proprietary_name_suffix": "",
                "nonproprietary_name": "atomoxetine hydrochloride",
                "product_type": "HUMAN PRESCRIPTION DRUG",
                "dosage_form": "CAPSULE",
                "route": "ORAL",
                "marketing_category": "NDA",
                "application_number": "NDA021411",
                "labeler_name": "Example Laboratories",
                "marketing_start": None,
                "marketing_end": None,
                "dea_schedule": "",
                "is_controlled": False,
                "is_finished": True,
                "storage": "room",
                "unit_description": "",
                "ingredients": [
                    {
                        "name": "Atomoxetine",
                        "normalized_name": "ATOMOXETINE",
                        "strength": "10",
                        "strength_unit": "mg/1",
                    }
                ],
                "pharmacologic_classes": [
                    {"name": "Norepinephrine Reuptake Inhibitor", "kind": "EPC"}
                ],
                "packages": [
                    {
                        "package_ndc": "0002-3227-30",
                        "ndc11": "00002322730",
                        "gtin": STRATTERA_GTIN,
                        "description": "30 CAPSULE in 1 BOTTLE (0002-3227-30)",
                        "quantity": "30",
                        "unit": "CAPSULE",
                        "marketing_start": None,
                        "marketing_end": None,
                        "is_sample": False,
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize("ndc", ["0002-3227", "0002-3227-30", "00002322730", "00002-3227-30"])
def test_product_search_by_any_ndc(api_technician, strattera, ndc):
    ProductFactory()
    response = api_technician.get("/api/v1/products/", {"ndc": ndc})
    assert [p["product_ndc"] for p in response.json()["results"]] == ["0002-3227"]


def test_product_search_by_a_malformed_ndc_is_a_clear_400(api_technician, strattera):
    response = api_technician.get("/api/v1/products/", {"ndc": "0002322730"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_ndc"
    assert "ambiguous" in body["detail"]


def test_product_list_needs_a_bounded_number_of_queries(
    api_technician, strattera, django_assert_max_num_queries
):
    for _ in range(20):
        product = ProductFactory()
        ProductIngredientFactory(product=product)
        product.pharmacologic_classes.add(PharmacologicClassFactory())
        PackageFactory(product=product)
        PackageFactory(product=product)
    # Token, user, permissions: 4; count, products, ingredients, classes, packages: 5.
    with django_assert_max_num_queries(9):
        response = api_technician.get("/api/v1/products/")
    assert response.json()["count"] == 21


def test_product_detail(api_technician, strattera):
    response = api_technician.get("/api/v1/products/0002-3227/")
    assert response.status_code == 200
    assert response.json()["packages"][0]["ndc11"] == "00002322730"
    missing = api_technician.get("/api/v1/products/0009-9999/")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def test_package_by_scan_gives_the_package_its_product_and_what_the_scan_says(
    api_technician, strattera
):
    scan = f"]d201{STRATTERA_GTIN}17270200" + f"10A123B{GS}21SN0001"
    response = api_technician.get("/api/v1/packages/", {"scan": scan})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["package_ndc"] == "0002-3227-30"
    assert body["results"][0]["product"] == {
        "product_ndc": "0002-3227",
        "display_name": "Strattera (atomoxetine hydrochloride)",
        "nonproprietary_name": "atomoxetine hydrochloride",
        "dosage_form": "CAPSULE",
        "dea_schedule": "",
        "storage": "room",
    }
    assert body["scan"] == {
        "kind": "datamatrix",
        "ndc": "0002322730",
        "gtin": STRATTERA_GTIN,
        "lot": "A123B",
        "expiry": "2027-02-28",
        "serial": "SN0001",
    }


@pytest.mark.parametrize("ndc", ["0002-3227-30", "00002322730"])
def test_package_by_ndc(api_technician, strattera, ndc):
    PackageFactory()
    response = api_technician.get("/api/v1/packages/", {"ndc": ndc})
    assert [p["package_ndc"] for p in response.json()["results"]] == ["0002-3227-30"]
    assert "scan" not in response.json()


def test_a_scan_of_an_uncatalogued_package_finds_nothing(api_technician, strattera):
    response = api_technician.get("/api/v1/packages/", {"scan": gtin14_from_ndc("0002-4112-30")})
    assert (response.status_code, response.json()["count"]) == (200, 0)
    assert response.json()["scan"]["ndc"] == "0002411230"


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ({"scan": "]d20100614141123452"}, "invalid_scan", "not an NDC-based"),
        ({"scan": "00300023227301"}, "invalid_scan", "wrong check digit"),
        ({"scan": "hello"}, "invalid_scan", "not a barcode we can read"),
        ({"ndc": "0002-3227"}, "invalid_ndc", "is not an NDC"),
    ],
)
def test_bad_scans_and_ndcs_are_clear_400s(api_technician, strattera, params, code, words):
    response = api_technician.get("/api/v1/packages/", params)
    assert response.status_code == 400
    assert response.json()["error"] == code
    assert words in response.json()["detail"]


def test_every_role_may_read_the_catalogue(api_pharmacist, api_manager, strattera):
    assert api_pharmacist.get("/api/v1/products/0002-3227/").status_code == 200
    assert api_manager.get("/api/v1/packages/").status_code == 200


def test_catalogue_api_needs_a_signed_in_staff_member_with_a_role(strattera):
    anonymous = APIClient()
    assert anonymous.get("/api/v1/products/").status_code == 401
    nobody = APIClient()
    nobody.force_authenticate(User.objects.create_user("norole", password="x-Long-Password-1"))
    response = nobody.get("/api/v1/packages/")
    assert (response.status_code, response.json()["error"]) == (403, "permission_denied")


def test_catalogue_api_is_read_only(api_manager, strattera):
    response = api_manager.post("/api/v1/products/", {"product_ndc": "0009-0001"}, format="json")
    assert response.status_code == 405


def test_classes_of_every_kind_are_listed(api_technician, strattera):
    strattera.pharmacologic_classes.add(
        PharmacologicClassFactory(name="Adrenergic Uptake", kind=PharmacologicClass.Kind.MECHANISM)
    )
    classes = api_technician.get("/api/v1/products/0002-3227/").json()["pharmacologic_classes"]
    assert classes == [
        {"name": "Adrenergic Uptake", "kind": "MoA"},
        {"name": "Norepinephrine Reuptake Inhibitor", "kind": "EPC"},
    ]
