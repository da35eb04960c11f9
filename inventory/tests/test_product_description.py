"""A product as a checker reads it: name, strength, dosage form and unit, from one
definition (``Product.full_description``); and what one unit looks like, kept by
pharmacists on the catalogue page."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import Product
from inventory.services.products import set_unit_description
from inventory.tests.factories import IngredientFactory, ProductFactory, ProductIngredientFactory

pytestmark = pytest.mark.django_db


def losartan() -> Product:
    product = ProductFactory(
        proprietary_name="Losartan Potassium",
        nonproprietary_name="Losartan Potassium",
        dosage_form="TABLET, FILM COATED",
    )
    ProductIngredientFactory(
        product=product,
        ingredient=IngredientFactory(name="LOSARTAN POTASSIUM"),
        strength="50",
        strength_unit="mg/1",
    )
    return product


def test_the_full_description_names_strength_form_and_unit():
    assert losartan().full_description == "Losartan Potassium 50 mg tablet, film coated"


def test_a_combination_and_a_liquid_read_as_the_label_prints_them():
    combination = ProductFactory(
        proprietary_name="",
        nonproprietary_name="Hydrocodone and Acetaminophen",
        dosage_form="TABLET",
    )
    for name, strength in (("HYDROCODONE BITARTRATE", "5"), ("ACETAMINOPHEN", "325")):
        ProductIngredientFactory(
            product=combination,
            ingredient=IngredientFactory(name=name),
            strength=strength,
            strength_unit="mg/1",
        )
    liquid = ProductFactory(
        proprietary_name="", nonproprietary_name="Amoxicillin", dosage_form="POWDER, FOR SUSPENSION"
    )
    ProductIngredientFactory(product=liquid, strength="250", strength_unit="mg/5mL")

    assert combination.full_description == ("Hydrocodone and Acetaminophen 5 mg / 325 mg tablet")
    assert liquid.full_description == "Amoxicillin 250 mg/5 mL powder, for suspension"


def test_a_product_without_ingredients_keeps_its_name_and_form():
    product = ProductFactory(proprietary_name="Brandname", nonproprietary_name="generic")

    assert product.full_description == "Brandname (generic) capsule"


def test_read_with_its_strength_a_list_costs_no_query_per_product():
    losartan()
    losartan_twice = ProductFactory(nonproprietary_name="Losartan Potassium", dosage_form="TABLET")
    ProductIngredientFactory(product=losartan_twice, strength="100", strength_unit="mg/1")

    with CaptureQueriesContext(connection) as queries:
        described = [p.full_description for p in Product.objects.with_strength().order_by("pk")]

    assert len(queries) == 1
    assert described[0] == "Losartan Potassium 50 mg tablet, film coated"
    assert described[1].endswith(" 100 mg tablet")


# --------------------------------------------------------------------------- unit look


def test_a_pharmacist_describes_what_one_unit_looks_like(pharmacist):
    product = losartan()

    set_unit_description(
        product, description="  Green oval film-coated tablet, imprint 'M L 50'  ", by=pharmacist
    )

    product.refresh_from_db()
    assert product.unit_description == "Green oval film-coated tablet, imprint 'M L 50'"


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Green\u202e tablet", "invisible text-direction character"),
        ("Green\x00tablet", "control character"),
        ("Green\ntablet", "must be one line"),
        ("x" * 256, "256 characters long; at most 255 fit"),
    ],
)
def test_bad_text_is_refused_and_changes_nothing(pharmacist, description, expected):
    product = losartan()
    set_unit_description(product, description="White round tablet", by=pharmacist)

    with pytest.raises(ValidationError) as refused:
        set_unit_description(product, description=description, by=pharmacist)

    assert expected in refused.value.messages[0]
    product.refresh_from_db()
    assert product.unit_description == "White round tablet"


@pytest.mark.parametrize("role", ["technician", "manager"])
def test_only_a_pharmacist_describes_units(request, role):
    product = losartan()

    with pytest.raises(PermissionDenied):
        set_unit_description(
            product, description="White round tablet", by=request.getfixturevalue(role)
        )

    product.refresh_from_db()
    assert product.unit_description == ""


def test_the_catalogue_page_shows_and_saves_the_description(client_pharmacist):
    product = losartan()
    url = f"/catalogue/{product.product_ndc}/"

    page = client_pharmacist.get(url).content.decode()
    assert 'data-testid="full-description">Losartan Potassium 50 mg tablet, film coated<' in page
    assert 'data-testid="unit-description">Not described yet.<' in page

    response = client_pharmacist.post(
        f"{url}unit-description/", {"unit_description": "Green oval tablet, imprint M L 50"}
    )

    assert response.status_code == 302
    page = client_pharmacist.get(url).content.decode()
    assert 'data-testid="unit-description">Green oval tablet, imprint M L 50<' in page


def test_the_page_refuses_bad_text_with_the_reason(client_pharmacist):
    product = losartan()

    response = client_pharmacist.post(
        f"/catalogue/{product.product_ndc}/unit-description/",
        {"unit_description": "Green\u202e tablet"},
    )

    assert response.status_code == 400
    assert "invisible text-direction character" in response.content.decode()
    product.refresh_from_db()
    assert product.unit_description == ""


def test_a_technician_sees_the_description_but_no_form(client_technician):
    product = losartan()

    page = client_technician.get(f"/catalogue/{product.product_ndc}/").content.decode()
    response = client_technician.post(
        f"/catalogue/{product.product_ndc}/unit-description/", {"unit_description": "Blue"}
    )

    assert "Save the description" not in page
    assert response.status_code == 403
    product.refresh_from_db()
    assert product.unit_description == ""
