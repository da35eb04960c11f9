"""Ingredient names are matched after normalising case and salt words."""

import csv

import pytest

from inventory.ingredients import normalize_ingredient_name
from inventory.tests.shared_data import shared_path


@pytest.mark.parametrize(
    ("listed", "plain"),
    [
        ("WARFARIN SODIUM", "Warfarin"),
        ("METOPROLOL SUCCINATE", "metoprolol"),
        ("Metoprolol Tartrate", "METOPROLOL"),
        ("AMLODIPINE BESYLATE", "amlodipine"),
        ("  metformin   hcl ", "Metformin"),
        ("ATORVASTATIN CALCIUM", "atorvastatin"),
        ("ESOMEPRAZOLE MAGNESIUM DIHYDRATE", "esomeprazole"),
        ("DEXAMETHASONE SODIUM PHOSPHATE", "dexamethasone"),
        ("PEMETREXED DISODIUM", "pemetrexed"),
        ("AMPHETAMINE ASPARTATE MONOHYDRATE", "amphetamine"),
        ("OXYCODONE HYDROCHLORIDE", "oxycodone"),
        ("HYDROCODONE BITARTRATE", "hydrocodone"),
        ("SILDENAFIL CITRATE", "sildenafil"),
        ("LITHIUM CARBONATE", "lithium"),
        ("CLOBETASOL PROPIONATE", "clobetasol"),
        ("DOXYCYCLINE HYCLATE", "doxycycline"),
    ],
)
def test_salt_forms_match_the_active_moiety(listed, plain):
    assert normalize_ingredient_name(listed) == normalize_ingredient_name(plain)
    assert normalize_ingredient_name(listed) == plain.upper().strip()


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("sodium chloride", "SODIUM CHLORIDE"),
        ("POTASSIUM CHLORIDE", "POTASSIUM CHLORIDE"),
        ("Calcium Carbonate", "CALCIUM CARBONATE"),
        ("CALCIUM ACETATE", "CALCIUM ACETATE"),
        ("MAGNESIUM OXIDE", "MAGNESIUM OXIDE"),
        ("ZINC OXIDE", "ZINC OXIDE"),
        ("NITROUS OXIDE", "NITROUS OXIDE"),
        ("ETHYL CHLORIDE", "ETHYL CHLORIDE"),
        ("BENZYL BENZOATE", "BENZYL BENZOATE"),
        ("FERROUS SULFATE", "FERROUS SULFATE"),
        ("MAGNESIUM CHLORIDE HEXAHYDRATE", "MAGNESIUM CHLORIDE"),
        ("ISOSORBIDE MONONITRATE", "ISOSORBIDE MONONITRATE"),
        ("ISOSORBIDE DINITRATE", "ISOSORBIDE DINITRATE"),
        ("SODIUM", "SODIUM"),
        ("CALCIUM", "CALCIUM"),
        ("MONOHYDRATE", "MONOHYDRATE"),
        ("bicarbonate ion", "BICARBONATE ION"),
        ("POTASSIUM CATION", "POTASSIUM CATION"),
    ],
)
def test_salts_that_are_drugs_are_kept_whole(name, kept):
    assert normalize_ingredient_name(name) == kept


def test_different_salts_never_collapse_into_one_ion():
    assert normalize_ingredient_name("POTASSIUM CHLORIDE") != normalize_ingredient_name(
        "SODIUM CHLORIDE"
    )
    assert normalize_ingredient_name("ISOSORBIDE MONONITRATE") != normalize_ingredient_name(
        "ISOSORBIDE DINITRATE"
    )


def test_empty_stays_empty():
    assert normalize_ingredient_name("") == ""
    assert normalize_ingredient_name("   ") == ""


def test_no_real_pillbox_ingredient_is_reduced_to_nothing_or_to_a_bare_salt_word():
    path = shared_path("ndc", "nlm_pillbox_ingredients_subset.csv")
    with path.open(encoding="utf-8", newline="") as file:
        names = {row["base_of_strength"] for row in csv.DictReader(file) if row["base_of_strength"]}
    assert len(names) > 40
    for name in names:
        key = normalize_ingredient_name(name)
        assert key, name
        assert key not in {"CHLORIDE", "SULFATE", "OXIDE", "ACETATE", "CITRATE", "ION"}, name
