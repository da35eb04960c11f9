"""The catalogue pages: search by name, NDC or scan; the product page; the storage flag."""

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from inventory.models import DEASchedule, PharmacologicClass, Product, Storage
from inventory.ndc import GROUP_SEPARATOR as GS
from inventory.ndc import gtin14_from_ndc, upc_from_ndc
from inventory.services.catalogue import set_product_storage
from inventory.tests.factories import (
    IngredientFactory,
    PackageFactory,
    PharmacologicClassFactory,
    ProductFactory,
    ProductIngredientFactory,
)
from pharmacy.models import User

pytestmark = pytest.mark.django_db

SEARCH = reverse("catalogue_search")


@pytest.fixture
def strattera():
    """Strattera 10 mg, a real product (4-4-2 NDCs) with two bottles."""
    product = ProductFactory(
        product_ndc="0002-3227",
        proprietary_name="Strattera",
        nonproprietary_name="atomoxetine hydrochloride",
        labeler_name="Eli Lilly and Company",
    )
    ProductIngredientFactory(
        product=product, ingredient=IngredientFactory(name="Atomoxetine"), strength="10"
    )
    product.pharmacologic_classes.add(
        PharmacologicClassFactory(name="Norepinephrine Reuptake Inhibitor"),
        PharmacologicClassFactory(
            name="Norepinephrine Uptake Inhibitors", kind=PharmacologicClass.Kind.MECHANISM
        ),
    )
    PackageFactory(
        product=product,
        package_ndc="0002-3227-30",
        description="30 CAPSULE in 1 BOTTLE (0002-3227-30)",
        quantity=Decimal("30"),
    )
    PackageFactory(
        product=product,
        package_ndc="0002-3227-07",
        description="7 CAPSULE in 1 BOTTLE (0002-3227-07)",
        quantity=Decimal("7"),
    )
    return product


def search(client, text: str):
    return client.get(f"{SEARCH}?{urlencode({'q': text})}")


def test_search_page_puts_the_cursor_in_the_scan_box(client_technician):
    response = client_technician.get(SEARCH)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="q"' in html
    assert "autofocus" in html
    assert 'type="search"' in html


def test_search_by_name_lists_products_with_strengths(client_technician, strattera):
    ProductFactory(proprietary_name="Zyprexa", nonproprietary_name="olanzapine")
    response = search(client_technician, "atomox")
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 product for “atomox”" in html
    assert "Strattera (atomoxetine hydrochloride)" in html
    assert "Atomoxetine 10 mg/1" in html
    assert "Zyprexa" not in html
    assert reverse("product_detail", args=["0002-3227"]) in html


def test_search_results_need_a_bounded_number_of_queries(
    client_technician, strattera, django_assert_max_num_queries
):
    for n in range(30):
        product = ProductFactory(nonproprietary_name=f"atomoxetine generic {n}")
        ProductIngredientFactory(product=product)
        PackageFactory(product=product)
    with django_assert_max_num_queries(12):
        response = search(client_technician, "atomoxetine")
    assert "31 products for “atomoxetine”" in response.content.decode()


@pytest.mark.parametrize(
    "code",
    [
        "0002-3227-30",
        "00002322730",
        "0002322730",
        upc_from_ndc("0002-3227-30"),
        gtin14_from_ndc("0002-3227-30"),
        f"]d201{gtin14_from_ndc('0002-3227-30')}17270200" + f"10A123B{GS}21SN0001",
        # A browser may drop the GS characters: the GTIN still finds the package.
        f"]d201{gtin14_from_ndc('0002-3227-30')}10A123B21SN000117270200",
    ],
    ids=["package NDC", "NDC11", "NDC10 digits", "UPC-A", "GTIN-14", "DataMatrix", "no GS"],
)
def test_a_code_naming_one_package_goes_straight_to_its_product(client_technician, strattera, code):
    response = search(client_technician, code)
    assert response.status_code == 302
    assert response["Location"] == "/catalogue/0002-3227/?package=0002-3227-30"


def test_a_product_ndc_goes_straight_to_the_product(client_technician, strattera):
    response = search(client_technician, "0002-3227")
    assert (response.status_code, response["Location"]) == (302, "/catalogue/0002-3227/")


def test_part_of_an_ndc_lists_the_products_it_starts(client_technician, strattera):
    ProductFactory(product_ndc="0003-1111")
    response = search(client_technician, "0002-32")
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == [strattera]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("0002-3227-99", "No package in the catalogue has the code"),
        ("0009-9999", "No product in the catalogue has the product NDC 0009-9999."),
        ("]d20100614141123452", "is not an NDC-based drug code"),
        ("]d201003000232273011726", "wrong check digit"),
    ],
)
def test_a_code_that_finds_nothing_says_why(client_technician, strattera, code, message):
    response = search(client_technician, code)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert list(response.context["page"].object_list) == []


def test_product_page_shows_everything_a_pharmacist_checks(
    client_technician, strattera, django_assert_max_num_queries
):
    strattera.dea_schedule = DEASchedule.CII
    strattera.save()
    for n in range(20):
        PackageFactory(product=strattera, package_ndc=f"0002-3227-{50 + n}")
    # Session, user, permissions and session save are 8; the product with its
    # ingredients, classes and packages is 4, however many packages it has.
    with django_assert_max_num_queries(12):
        response = client_technician.get(
            reverse("product_detail", args=["0002-3227"]) + "?package=0002-3227-30"
        )
    assert response.status_code == 200
    html = response.content.decode()
    for text in [
        "Strattera (atomoxetine hydrochloride)",
        "Atomoxetine",
        "mg/1",
        "Norepinephrine Reuptake Inhibitor",
        "Norepinephrine Uptake Inhibitors",
        "DEA Schedule II (CII)",
        "Room temperature",
        "0002-3227-30",
        "00002322730",
        gtin14_from_ndc("0002-3227-30"),
        "30 CAPSULE in 1 BOTTLE (0002-3227-30)",
        "30 CAPSULE",
        "7 CAPSULE",
        'class="highlight"',
    ]:
        assert text in html, text
    # A technician sees the storage, but not the form to change it.
    assert reverse("product_storage", args=["0002-3227"]) not in html


def test_unknown_product_is_404(client_technician):
    assert client_technician.get(reverse("product_detail", args=["0009-9999"])).status_code == 404


def test_pharmacist_sets_the_storage_flag(client_pharmacist, strattera):
    page = client_pharmacist.get(reverse("product_detail", args=["0002-3227"]))
    assert reverse("product_storage", args=["0002-3227"]) in page.content.decode()

    response = client_pharmacist.post(
        reverse("product_storage", args=["0002-3227"]),
        {"storage": Storage.REFRIGERATED},
        follow=True,
    )

    assert response.redirect_chain == [("/catalogue/0002-3227/", 302)]
    assert "is stored: refrigerated (2-8 °c)." in response.content.decode().lower()
    strattera.refresh_from_db()
    assert strattera.storage == Storage.REFRIGERATED


def test_manager_may_set_storage_too(client_manager, strattera):
    client_manager.post(reverse("product_storage", args=["0002-3227"]), {"storage": "frozen"})
    strattera.refresh_from_db()
    assert strattera.storage == Storage.FROZEN


def test_technician_may_not_set_storage(client_technician, strattera):
    response = client_technician.post(
        reverse("product_storage", args=["0002-3227"]), {"storage": Storage.FROZEN}
    )
    assert response.status_code == 403
    strattera.refresh_from_db()
    assert strattera.storage == Storage.ROOM_TEMPERATURE


def test_an_unknown_storage_value_is_refused(client_pharmacist, strattera):
    response = client_pharmacist.post(
        reverse("product_storage", args=["0002-3227"]), {"storage": "warm"}
    )
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    strattera.refresh_from_db()
    assert strattera.storage == Storage.ROOM_TEMPERATURE


def test_storage_service_checks_who_and_what(technician, pharmacist, strattera):
    with pytest.raises(PermissionDenied):
        set_product_storage(strattera, storage=Storage.FROZEN, by=technician)
    with pytest.raises(ValueError, match="not a storage condition"):
        set_product_storage(strattera, storage="warm", by=pharmacist)
    assert Product.objects.get(pk=strattera.pk).storage == Storage.ROOM_TEMPERATURE
    set_product_storage(strattera, storage=Storage.FROZEN, by=pharmacist)
    assert Product.objects.get(pk=strattera.pk).storage == Storage.FROZEN


def test_catalogue_needs_a_role(strattera):
    anonymous = Client()
    signed_out = anonymous.get(SEARCH)
    # Sent to sign in and back (pharmacy.access.SignInRedirectMiddleware).
    assert (signed_out.status_code, signed_out["Location"]) == (302, f"/login/?next={SEARCH}")
    nobody = Client()
    nobody.force_login(User.objects.create_user("norole", password="x-Long-Password-1"))
    assert nobody.get(SEARCH).status_code == 403
    assert nobody.get(reverse("product_detail", args=["0002-3227"])).status_code == 403
