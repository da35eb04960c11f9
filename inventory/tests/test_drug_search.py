"""Drug search by name and strength (issue 13): "lisinopril 10", "atorvastatin 40 mg",
"Cymbalta 60" find the product of that strength, by brand or generic name, in the
catalogue's search (``ProductQuerySet.search``), the catalogue page and the API."""

import pytest

from inventory.models import Product
from inventory.tests.factories import ProductFactory, ProductIngredientFactory


def product(brand: str, generic: str, ingredient: str, strength: str, unit: str = "mg/1"):
    made = ProductFactory(proprietary_name=brand, nonproprietary_name=generic)
    ProductIngredientFactory(
        product=made, ingredient__name=ingredient, strength=strength, strength_unit=unit
    )
    return made


@pytest.fixture
def catalogue(db):
    return {
        "lisinopril 10": product("Zestril", "lisinopril", "Lisinopril", "10"),
        "lisinopril 20": product("Zestril", "lisinopril", "Lisinopril", "20"),
        "atorvastatin 40": product("Lipitor", "atorvastatin calcium", "Atorvastatin", "40"),
        "atorvastatin 10": product("Lipitor", "atorvastatin calcium", "Atorvastatin", "10"),
        "duloxetine 60": product("Cymbalta", "duloxetine hydrochloride", "Duloxetine", "60"),
        "duloxetine 30": product("Cymbalta", "duloxetine hydrochloride", "Duloxetine", "30"),
        "levothyroxine 25": product("Synthroid", "levothyroxine sodium", "Levothyroxine",
                                    "25", "ug/1"),
        "amoxicillin 250/5": product("Amoxil", "amoxicillin", "Amoxicillin", "250", "mg/5mL"),
        "alprazolam 0.5": product("Xanax", "alprazolam", "Alprazolam", ".5"),
    }  # fmt: skip


def found(text: str) -> set[Product]:
    return set(Product.objects.search(text))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("lisinopril 10", "lisinopril 10"),
        ("Lisinopril 10mg", "lisinopril 10"),
        ("atorvastatin 40 mg", "atorvastatin 40"),
        ("Lipitor 40", "atorvastatin 40"),
        ("Cymbalta 60", "duloxetine 60"),
        ("duloxetine 60 MG", "duloxetine 60"),
        ("levothyroxine 25 mcg", "levothyroxine 25"),
        ("amoxicillin 250 mg/5 ml", "amoxicillin 250/5"),
        ("alprazolam 0.5", "alprazolam 0.5"),
        ("alprazolam .5 mg", "alprazolam 0.5"),
    ],
)
def test_a_name_with_a_strength_finds_that_strength_only(catalogue, typed, expected):
    assert found(typed) == {catalogue[expected]}


def test_a_name_alone_finds_every_strength(catalogue):
    assert found("cymbalta") == {catalogue["duloxetine 60"], catalogue["duloxetine 30"]}


def test_a_strength_or_unit_that_does_not_exist_finds_nothing(catalogue):
    assert found("lisinopril 15") == set()
    assert found("levothyroxine 25 mg") == set()  # it is 25 micrograms


def test_the_catalogue_page_and_the_api_search_by_strength(
    client_technician, api_technician, catalogue
):
    page = client_technician.get("/catalogue/", {"q": "atorvastatin 40 mg"})
    api = api_technician.get("/api/v1/products/", {"search": "Cymbalta 60"})

    assert list(page.context["page"].object_list) == [catalogue["atorvastatin 40"]]
    assert [p["product_ndc"] for p in api.json()["results"]] == [
        catalogue["duloxetine 60"].product_ndc
    ]


def test_the_intake_drug_picker_searches_by_strength(client_technician, catalogue):
    response = client_technician.get("/intake/search/drugs/", {"q": "lisinopril 10"})

    html = response.content.decode()
    assert f'data-value="{catalogue["lisinopril 10"].pk}"' in html
    assert f'data-value="{catalogue["lisinopril 20"].pk}"' not in html
