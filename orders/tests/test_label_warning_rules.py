"""Auxiliary warnings of the Rx label chosen by rules that pharmacists keep: the rules
print on the labels of the products they name, within the label's one page, and a rule
naming a class or ingredient the catalogue does not hold is refused when saved."""

import io

import pytest
from pypdf import PdfReader

from inventory.models import DEASchedule, Ingredient, PharmacologicClass
from inventory.tests.factories import ProductIngredientFactory
from orders.models import Fill
from orders.services.labels import generate_rx_label, rx_label_data
from orders.tests.factories import fill_at, stocked_package, stocked_prescription
from orders.tests.test_rx_label import FEDERAL_CAUTION, pdf_text
from pharmacy.models import AuxiliaryWarningRule
from pharmacy.services.label_warnings import (
    WarningRuleError,
    WarningRuleInput,
    save_warning_rule,
)

pytestmark = pytest.mark.django_db

DROWSY = "May cause drowsiness. Alcohol may intensify this effect."
URL = "/labels/warnings/"


def benzodiazepine_fill(*, schedule=DEASchedule.CIV, dosage_form="TABLET") -> Fill:
    """A fill of an alprazolam product in the Benzodiazepine class, waiting for PV2."""
    package = stocked_package(dosage_form=dosage_form)
    product = package.product
    product.dea_schedule = schedule
    product.save(update_fields=["dea_schedule"])
    benzodiazepine, _ = PharmacologicClass.objects.get_or_create(name="Benzodiazepine", kind="EPC")
    product.pharmacologic_classes.add(benzodiazepine)
    ProductIngredientFactory(
        product=product,
        ingredient=Ingredient.objects.get_or_create(
            normalized_name="ALPRAZOLAM", defaults={"name": "Alprazolam"}
        )[0],
    )
    prescription = stocked_prescription(product=product, refills_authorized=2)
    return fill_at(Fill.Status.PV2, prescription=prescription)


def flat(text: str) -> str:
    # A warning box may wrap anywhere: compare without spaces.
    return text.replace(" ", "").replace("\n", "")


# --------------------------------------------------------------------------- on the label


def test_a_class_rule_prints_its_warning_with_the_federal_caution_on_one_label():
    fill = benzodiazepine_fill()

    label = generate_rx_label(fill)

    data = rx_label_data(fill)
    assert data["warnings"] == [DROWSY, "Controlled substance: Schedule IV."]
    pdf = bytes(label.pdf)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    text = flat(pdf_text(pdf))
    assert flat(DROWSY) in text
    assert flat(FEDERAL_CAUTION) in text


def test_an_ingredient_rule_matches_whatever_salt_the_product_lists(pharmacist):
    Ingredient.objects.create(name="Alprazolam", normalized_name="ALPRAZOLAM")
    save_warning_rule(
        None,
        given=WarningRuleInput(warning="Do not stop taking suddenly.", ingredient="alprazolam"),
        by=pharmacist,
    )
    fill = benzodiazepine_fill()

    assert "Do not stop taking suddenly." in rx_label_data(fill)["warnings"]


def test_many_warnings_still_fit_the_label():
    fill = benzodiazepine_fill(dosage_form="TABLET, EXTENDED RELEASE")
    for position, warning in enumerate(
        ["Take with food.", "Avoid prolonged sunlight.", "Do not stop taking suddenly."]
    ):
        AuxiliaryWarningRule.objects.create(
            warning=warning, pharmacologic_class_name="Benzodiazepine", position=80 + position
        )

    label = generate_rx_label(fill)

    assert len(rx_label_data(fill)["warnings"]) == 6
    text = flat(pdf_text(bytes(label.pdf)))
    assert flat("Do not stop taking suddenly.") in text
    assert flat(FEDERAL_CAUTION) in text


def test_a_rule_no_longer_printed_leaves_the_label(pharmacist):
    fill = benzodiazepine_fill()
    rule = AuxiliaryWarningRule.objects.get(pharmacologic_class_name="Benzodiazepine")

    save_warning_rule(
        rule,
        given=WarningRuleInput(
            warning=rule.warning, pharmacologic_class="Benzodiazepine", is_active=False
        ),
        by=pharmacist,
    )

    assert DROWSY not in rx_label_data(fill)["warnings"]


def test_a_product_outside_every_rule_gets_no_rule_warning():
    assert rx_label_data(fill_at(Fill.Status.PV2))["warnings"] == []


# --------------------------------------------------------------------------- saving a rule


def refused(given: WarningRuleInput, by, field: str, words: str) -> None:
    before = list(AuxiliaryWarningRule.objects.values_list("pk", "warning", "updated_at"))
    with pytest.raises(WarningRuleError) as caught:
        save_warning_rule(None, given=given, by=by)
    assert words in caught.value.errors[field]
    assert list(AuxiliaryWarningRule.objects.values_list("pk", "warning", "updated_at")) == before


def test_a_class_that_does_not_exist_is_refused_with_the_near_names(pharmacist):
    PharmacologicClass.objects.create(name="Benzodiazepine", kind="EPC")
    refused(
        WarningRuleInput(warning=DROWSY, pharmacologic_class="Benzodiazepines"),
        pharmacist,
        "pharmacologic_class",
        "No pharmacologic class named 'Benzodiazepines' is in the catalogue. "
        "Did you mean 'Benzodiazepine'?",
    )


def test_an_ingredient_that_does_not_exist_is_refused(pharmacist):
    refused(
        WarningRuleInput(warning="Take with food.", ingredient="Unobtainium"),
        pharmacist,
        "ingredient",
        "No active ingredient named 'Unobtainium' is in the catalogue.",
    )


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        (WarningRuleInput(warning="", route="ORAL"), "warning", "Write the warning"),
        (WarningRuleInput(warning="x" * 81, route="ORAL"), "warning", "at most 80 characters"),
        (WarningRuleInput(warning="Take with food."), "__all__", "at least one of class"),
        (WarningRuleInput(warning="Take\u202e with food.", route="ORAL"), "warning", "direction"),
        (WarningRuleInput(warning="Cold.", storage="fridge"), "storage", "Choose a storage"),
        (WarningRuleInput(warning="Cold.", route="ORAL", position=-1), "position", "0 to"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(pharmacist, given, field, words):
    refused(given, pharmacist, field, words)


def test_a_class_is_stored_as_the_catalogue_spells_it(pharmacist):
    PharmacologicClass.objects.create(name="Opioid Agonist", kind="EPC")

    rule = save_warning_rule(
        None,
        given=WarningRuleInput(
            warning="Do not drive.", pharmacologic_class="  opioid agonist ", route="oral"
        ),
        by=pharmacist,
    )

    assert (rule.pharmacologic_class_name, rule.route, rule.updated_by) == (
        "Opioid Agonist",
        "ORAL",
        pharmacist,
    )


def test_the_seeded_rules_cover_the_usual_warnings():
    warnings = set(AuxiliaryWarningRule.objects.values_list("warning", flat=True))
    assert {
        "Keep in a refrigerator, 36-46 °F (2-8 °C). Do not freeze.",
        "Shake well before use.",
        "Take with food.",
        DROWSY,
    } <= warnings


# --------------------------------------------------------------------------- the page


def test_a_pharmacist_adds_a_rule_on_the_page(client_pharmacist):
    PharmacologicClass.objects.create(name="Opioid Agonist", kind="EPC")
    page = client_pharmacist.get(URL)
    assert page.status_code == 200
    assert "Shake well before use." in page.content.decode()

    response = client_pharmacist.post(
        URL,
        {
            "warning": "Do not drive or operate machinery.",
            "pharmacologic_class": "opioid agonist",
            "storage": "",
            "position": "65",
            "is_active": "on",
        },
        follow=True,
    )

    assert "Rule added" in response.content.decode()
    rule = AuxiliaryWarningRule.objects.get(warning="Do not drive or operate machinery.")
    assert rule.pharmacologic_class_name == "Opioid Agonist"


def test_the_page_says_why_a_rule_is_refused(client_pharmacist):
    before = AuxiliaryWarningRule.objects.count()

    response = client_pharmacist.post(
        URL,
        {"warning": "Nope.", "pharmacologic_class": "Made-up class", "position": "1"},
    )

    assert response.status_code == 400
    assert "No pharmacologic class named" in response.content.decode()
    assert "Made-up class" in response.content.decode()
    assert AuxiliaryWarningRule.objects.count() == before


def test_a_pharmacist_changes_a_rule_on_the_page(client_pharmacist):
    rule = AuxiliaryWarningRule.objects.get(warning="Shake well before use.")

    response = client_pharmacist.post(
        f"{URL}{rule.pk}/",
        {"warning": "Shake well before each dose.", "dosage_form": "suspension", "position": "50"},
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.warning, rule.is_active) == ("Shake well before each dose.", False)


def test_a_technician_may_not_change_the_rules(client_technician):
    assert client_technician.get(URL).status_code == 403
