"""The DUR engine (pharmacy.dur): pure checks over profiles, no database."""

from datetime import date
from decimal import Decimal

from pharmacy.dur import (
    AlertType,
    AllergyProfile,
    CurrentMedication,
    DrugProfile,
    DurAlert,
    DurLimits,
    InteractionIndex,
    InteractionPair,
    LastFill,
    Severity,
    check_allergies,
    check_drug,
    check_duplicate_therapy,
    check_early_refill,
    check_interactions,
    check_quantity,
    class_key,
    ingredient_key,
)

TODAY = date(2025, 3, 1)
DEFAULTS = DurLimits()

WARFARIN = DrugProfile.build(
    "Coumadin 5 mg tablet",
    ingredients=["WARFARIN SODIUM"],
    classes=["Vitamin K Antagonist [EPC]", "Coumarins [CS]"],
)
ASPIRIN = DrugProfile.build(
    "Aspirin 81 mg tablet",
    ingredients=["ASPIRIN"],
    classes=["Platelet Aggregation Inhibitor [EPC]", "Decreased Platelet Aggregation [PE]"],
)
LISINOPRIL = DrugProfile.build(
    "Lisinopril 10 mg tablet",
    ingredients=["LISINOPRIL"],
    classes=["Angiotensin Converting Enzyme Inhibitor [EPC]"],
)
AMOXICILLIN = DrugProfile.build(
    "Amoxicillin 500 mg capsule",
    ingredients=["AMOXICILLIN"],
    classes=["Penicillin-class Antibacterial [EPC]", "Penicillins [CS]"],
)
SIMVASTATIN = DrugProfile.build(
    "Simvastatin 20 mg tablet",
    ingredients=["SIMVASTATIN"],
    classes=[
        "HMG-CoA Reductase Inhibitor [EPC]",
        "Hydroxymethylglutaryl-CoA Reductase Inhibitors [MoA]",
    ],
)
ATORVASTATIN = DrugProfile.build(
    "Lipitor 40 mg tablet",
    ingredients=["ATORVASTATIN CALCIUM TRIHYDRATE"],
    classes=[
        "HMG-CoA Reductase Inhibitor [EPC]",
        "Hydroxymethylglutaryl-CoA Reductase Inhibitors [MoA]",
    ],
)
OXYCODONE = DrugProfile.build(
    "Oxycodone 10 mg tablet",
    ingredients=["OXYCODONE HYDROCHLORIDE"],
    classes=["Opioid Agonist [EPC]"],
    dea_schedule="CII",
)
ALPRAZOLAM = DrugProfile.build(
    "Alprazolam 0.5 mg tablet", ingredients=["ALPRAZOLAM"], dea_schedule="CIV"
)

WARFARIN_ASPIRIN = InteractionPair.between(
    "Warfarin",
    "Aspirin",
    severity=Severity.MAJOR,
    description="Higher risk of serious bleeding.",
    source="curated",
)
INDEX = InteractionIndex([WARFARIN_ASPIRIN])


def on(profile: DrugProfile) -> CurrentMedication:
    return CurrentMedication(profile, last_fill_date=date(2025, 2, 10), days_supply=30)


# --------------------------------------------------------------------------- keys


def test_ingredient_keys_ignore_case_and_salt_words():
    # given names of one ingredient as a catalogue, a prescriber and a list write them
    names = ["WARFARIN SODIUM", "Warfarin", "warfarin sodium crystalline", " warfarin  "]

    # when they are turned into keys
    keys = [ingredient_key(name) for name in names]

    # then the salt form and the plain name are one key; an unknown word is kept
    assert keys == ["WARFARIN", "WARFARIN", "WARFARIN CRYSTALLINE", "WARFARIN"]


def test_ingredient_keys_map_international_names_and_underscores_to_us_names():
    assert ingredient_key("Acetylsalicylic_acid") == "ASPIRIN"
    assert ingredient_key("Rifampicin") == "RIFAMPIN"
    assert ingredient_key("Valproic_Acid") == ingredient_key("VALPROATE SODIUM") == "VALPROIC ACID"
    assert ingredient_key("DIVALPROEX SODIUM") == "VALPROIC ACID"
    assert ingredient_key("POTASSIUM_CHLORIDE") == "POTASSIUM CHLORIDE"


def test_class_keys_ignore_case_and_spacing():
    assert (
        class_key("Penicillin-class  Antibacterial [EPC]") == "penicillin-class antibacterial [epc]"
    )


# --------------------------------------------------------------------------- interactions


def test_an_interaction_with_a_current_medication_is_an_alert_whatever_the_salt_form():
    # given warfarin sodium on file as a current medication and a warfarin+aspirin pair

    # when aspirin is checked
    alerts = check_interactions(ASPIRIN, [on(WARFARIN)], INDEX)

    # then one major interaction alert names both ingredients and the pair's description
    assert alerts == [
        DurAlert(
            AlertType.INTERACTION,
            Severity.MAJOR,
            "Major interaction: aspirin (Aspirin 81 mg tablet) with warfarin (current "
            "medication Coumadin 5 mg tablet). Higher risk of serious bleeding.",
            {
                "ingredient": "ASPIRIN",
                "interacting_ingredient": "WARFARIN",
                "medication": "Coumadin 5 mg tablet",
                "sources": ["curated"],
            },
        )
    ]


def test_a_pair_is_found_either_way_round():
    # given a pair stored as written by a source (precipitant first)
    index = InteractionIndex(
        [InteractionPair("WARFARIN", "FLUCONAZOLE", Severity.MAJOR, "", "ndfrt")]
    )

    # then both orders find it, and an unknown ingredient finds nothing
    assert index.lookup("FLUCONAZOLE", "WARFARIN") == index.lookup("WARFARIN", "FLUCONAZOLE")
    assert len(index.lookup("FLUCONAZOLE", "WARFARIN")) == 1
    assert index.lookup("WARFARIN", "LISINOPRIL") == ()
    assert len(index) == 1


def test_no_interaction_alert_for_drugs_that_do_not_interact():
    assert check_interactions(LISINOPRIL, [on(WARFARIN), on(AMOXICILLIN)], INDEX) == []


def test_a_pair_listed_by_several_sources_gives_one_alert_at_the_most_severe_level():
    # given the same pair from three sources at three levels
    index = InteractionIndex(
        [
            InteractionPair.between(
                "simvastatin",
                "clarithromycin",
                severity=Severity.MINOR,
                source="onc_non_interruptive",
            ),
            InteractionPair.between(
                "Clarithromycin",
                "Simvastatin",
                severity=Severity.CONTRAINDICATED,
                description="Rhabdomyolysis.",
                source="curated",
            ),
            InteractionPair.between(
                "SIMVASTATIN", "CLARITHROMYCIN", severity=Severity.MAJOR, source="ndfrt"
            ),
        ]
    )
    clarithromycin = DrugProfile.build("Biaxin 500 mg", ingredients=["Clarithromycin"])

    # when clarithromycin is checked against simvastatin
    alerts = check_interactions(clarithromycin, [on(SIMVASTATIN)], index)

    # then one contraindicated alert quotes the curated description and lists every source
    assert [(alert.severity, alert.detail["sources"]) for alert in alerts] == [
        (Severity.CONTRAINDICATED, ["curated", "ndfrt", "onc_non_interruptive"])
    ]
    assert alerts[0].message.endswith("Rhabdomyolysis.")


def test_each_interacting_ingredient_of_a_combination_product_is_an_alert():
    # given a combination product with two ingredients that each interact with warfarin
    index = InteractionIndex(
        [
            WARFARIN_ASPIRIN,
            InteractionPair.between(
                "warfarin", "acetaminophen", severity="minor", source="onc_non_interruptive"
            ),
        ]
    )
    combination = DrugProfile.build(
        "Excedrin", ingredients=["Aspirin", "Acetaminophen", "Caffeine"]
    )

    # when it is checked against warfarin
    alerts = check_interactions(combination, [on(WARFARIN)], index)

    # then each interacting ingredient gives its own alert
    assert [(alert.detail["ingredient"], alert.severity) for alert in alerts] == [
        ("ACETAMINOPHEN", Severity.MINOR),
        ("ASPIRIN", Severity.MAJOR),
    ]


# --------------------------------------------------------------------------- no data


def test_an_empty_interaction_index_is_a_no_data_alert_that_cannot_pass_silently():
    # given no interaction data loaded at all
    empty = InteractionIndex([])

    # when a drug is checked, even with no current medication
    alerts = check_drug(
        ASPIRIN,
        allergies=(),
        current_medications=[],
        interactions=empty,
        quantity=30,
        days_supply=30,
        today=TODAY,
    )

    # then the only alert says interactions were not checked
    assert alerts == [
        DurAlert(
            AlertType.NO_DATA,
            Severity.MAJOR,
            "No drug interaction data is loaded, so drug interactions were NOT checked. Check "
            "interactions by hand, and have the interaction data imported (manage.py "
            "import_interactions).",
            {"missing": "interaction_data"},
        )
    ]
    assert empty.is_empty is True


def test_a_loaded_index_with_nothing_to_find_gives_no_alert_at_all():
    alerts = check_drug(
        LISINOPRIL,
        allergies=(),
        current_medications=[on(WARFARIN)],
        interactions=INDEX,
        quantity=30,
        days_supply=30,
        today=TODAY,
    )

    assert alerts == []


def test_drugs_without_ingredients_on_file_are_no_data_alerts():
    # given a candidate and a current medication the catalogue knows no ingredients of
    unknown = DrugProfile.build("Compounded cream", ingredients=[])
    mystery = DrugProfile.build("Herbal tea", ingredients=["", "  "])

    # when the candidate is checked
    alerts = check_drug(
        unknown,
        allergies=(),
        current_medications=[on(mystery)],
        interactions=INDEX,
        quantity=30,
        days_supply=30,
        today=TODAY,
    )

    # then both missing ingredient lists are reported, the candidate's first
    assert [(a.type, a.severity, a.detail) for a in alerts] == [
        (
            AlertType.NO_DATA,
            Severity.MAJOR,
            {"missing": "drug_ingredients", "drug": "Compounded cream"},
        ),
        (
            AlertType.NO_DATA,
            Severity.MODERATE,
            {"missing": "medication_ingredients", "medication": "Herbal tea"},
        ),
    ]


# --------------------------------------------------------------------------- allergies


def test_a_penicillin_class_allergy_is_an_alert_for_amoxicillin():
    # given an allergy coded to the penicillin class
    penicillin = AllergyProfile.build(
        "Penicillin",
        pharmacologic_class="Penicillin-class Antibacterial [EPC]",
        severity="moderate",
        reaction="hives",
    )

    # when amoxicillin is checked
    alerts = check_allergies(AMOXICILLIN, [penicillin])

    # then it is a major allergy alert by class
    assert alerts == [
        DurAlert(
            AlertType.ALLERGY,
            Severity.MAJOR,
            "Allergy: the patient is allergic to Penicillin (reaction: hives), and Amoxicillin "
            "500 mg capsule is a penicillin-class antibacterial.",
            {
                "allergen": "Penicillin",
                "match": "class",
                "class": "penicillin-class antibacterial [epc]",
            },
        )
    ]


def test_a_penicillin_class_allergy_is_no_alert_for_lisinopril():
    penicillin = AllergyProfile.build(
        "Penicillin", pharmacologic_class="Penicillin-class Antibacterial [EPC]"
    )

    assert check_allergies(LISINOPRIL, [penicillin]) == []


def test_an_ingredient_allergy_matches_whatever_the_salt_form_and_severe_is_contraindicated():
    # given a severe allergy coded to warfarin (no salt) and a product of warfarin sodium
    allergy = AllergyProfile.build("Warfarin", ingredient="Warfarin", severity="severe")

    # when the product is checked
    alerts = check_allergies(WARFARIN, [allergy])

    # then it is contraindicated
    assert [(a.type, a.severity, a.detail) for a in alerts] == [
        (
            AlertType.ALLERGY,
            Severity.CONTRAINDICATED,
            {"allergen": "Warfarin", "match": "ingredient", "ingredient": "WARFARIN"},
        )
    ]
    assert alerts[0].message == (
        "Allergy: the patient is allergic to Warfarin, and Coumadin 5 mg tablet contains warfarin."
    )


def test_an_allergy_to_one_penicillin_is_a_cross_sensitivity_alert_for_another():
    # given an allergy coded to the ingredient penicillin G, whose classes are known
    allergy = AllergyProfile.build(
        "Penicillin G",
        ingredient="PENICILLIN G POTASSIUM",
        related_classes=["Penicillin-class Antibacterial [EPC]", "Penicillins [CS]"],
    )

    # when amoxicillin (another ingredient, same classes) and lisinopril are checked
    amoxicillin_alerts = check_allergies(AMOXICILLIN, [allergy])
    lisinopril_alerts = check_allergies(LISINOPRIL, [allergy])

    # then amoxicillin alerts by shared class, lisinopril does not
    assert [(a.severity, a.detail["match"], a.detail["classes"]) for a in amoxicillin_alerts] == [
        (
            Severity.MAJOR,
            "cross_sensitivity",
            ["penicillin-class antibacterial [epc]", "penicillins [cs]"],
        )
    ]
    assert lisinopril_alerts == []


def test_an_allergy_recorded_as_text_is_matched_by_its_text_or_reported_as_not_checked():
    # given allergies typed as text only, never coded
    aspirin_text = AllergyProfile.build("aspirin")
    penicillins_text = AllergyProfile.build("Penicillins")
    sulfa_text = AllergyProfile.build("Sulfa")

    # then text naming an ingredient or a class of the drug matches it ...
    assert [a.detail["match"] for a in check_allergies(ASPIRIN, [aspirin_text])] == ["ingredient"]
    assert [a.detail["match"] for a in check_allergies(AMOXICILLIN, [penicillins_text])] == [
        "class"
    ]
    # ... and other text cannot be checked, which is said rather than passed over
    assert [(a.severity, a.detail) for a in check_allergies(AMOXICILLIN, [sulfa_text])] == [
        (Severity.MODERATE, {"allergen": "Sulfa", "match": "not_coded"})
    ]


def test_allergies_never_recorded_are_an_alert_and_no_known_allergies_are_not():
    unknown = check_allergies(AMOXICILLIN, None)
    none_known = check_allergies(AMOXICILLIN, ())

    assert [(a.type, a.severity, a.detail) for a in unknown] == [
        (AlertType.ALLERGY, Severity.MODERATE, {"match": "allergies_unknown"})
    ]
    assert none_known == []


# --------------------------------------------------------------------------- duplicate therapy


def test_a_second_drug_of_the_same_class_is_duplicate_therapy():
    # given simvastatin as a current medication
    # when atorvastatin (another HMG-CoA reductase inhibitor) is checked
    alerts = check_duplicate_therapy(ATORVASTATIN, [on(SIMVASTATIN), on(LISINOPRIL)])

    # then one moderate alert names the shared class and the last fill
    assert alerts == [
        DurAlert(
            AlertType.DUPLICATE_THERAPY,
            Severity.MODERATE,
            "Duplicate therapy: Lipitor 40 mg tablet and the current medication Simvastatin 20 "
            "mg tablet (last filled 2025-02-10 for 30 days) are the same class, hmg-coa "
            "reductase inhibitor.",
            {
                "medication": "Simvastatin 20 mg tablet",
                "ingredients": [],
                "classes": ["hmg-coa reductase inhibitor [epc]"],
            },
        )
    ]


def test_the_same_ingredient_in_another_product_is_duplicate_therapy():
    # given a combination product that contains lisinopril
    zestoretic = DrugProfile.build(
        "Zestoretic 20-12.5", ingredients=["Lisinopril", "Hydrochlorothiazide"]
    )

    alerts = check_duplicate_therapy(LISINOPRIL, [CurrentMedication(zestoretic)])

    assert [(a.detail["ingredients"], a.detail["classes"]) for a in alerts] == [
        (["LISINOPRIL"], [])
    ]
    assert alerts[0].message == (
        "Duplicate therapy: Lisinopril 10 mg tablet and the current medication Zestoretic "
        "20-12.5 are the same ingredient, lisinopril."
    )


def test_sharing_only_a_mechanism_or_effect_class_is_not_duplicate_therapy():
    # given two drugs that share a [PE] class but no [EPC] class nor ingredient
    clopidogrel = DrugProfile.build(
        "Plavix 75 mg",
        ingredients=["Clopidogrel bisulfate"],
        classes=["P2Y12 Platelet Inhibitor [EPC]", "Decreased Platelet Aggregation [PE]"],
    )

    assert check_duplicate_therapy(clopidogrel, [on(ASPIRIN)]) == []


# --------------------------------------------------------------------------- early refill


def test_a_refill_before_three_quarters_of_the_supply_is_early():
    # given a 30-day fill on 1 February; 75 % of 30 days is 22.5, so due after 23 days
    last_fill = LastFill(filled_on=date(2025, 2, 1), days_supply=30)

    # when a refill is asked for on day 22 and on day 23
    day_22 = check_early_refill(LISINOPRIL, last_fill, today=date(2025, 2, 23), limits=DEFAULTS)
    day_23 = check_early_refill(LISINOPRIL, last_fill, today=date(2025, 2, 24), limits=DEFAULTS)

    # then day 22 is early and day 23 is not
    assert day_22 == [
        DurAlert(
            AlertType.EARLY_REFILL,
            Severity.MODERATE,
            "Early refill: Lisinopril 10 mg tablet was last filled on 2025-02-01 for 30 days "
            "and only 22 days have passed; a refill is due once 75 % of the supply is used, on "
            "2025-02-24.",
            {
                "last_fill_date": "2025-02-01",
                "last_days_supply": 30,
                "days_elapsed": 22,
                "due_on": "2025-02-24",
                "threshold_percent": 75,
            },
        )
    ]
    assert day_23 == []


def test_a_controlled_substance_refill_is_early_until_90_percent_of_the_supply():
    # given a 30-day fill of alprazolam (CIV): due after 27 days
    last_fill = LastFill(filled_on=date(2025, 2, 1), days_supply=30)

    day_26 = check_early_refill(ALPRAZOLAM, last_fill, today=date(2025, 2, 27), limits=DEFAULTS)
    day_27 = check_early_refill(ALPRAZOLAM, last_fill, today=date(2025, 2, 28), limits=DEFAULTS)

    assert [(a.severity, a.detail["threshold_percent"], a.detail["due_on"]) for a in day_26] == [
        (Severity.MAJOR, 90, "2025-02-28")
    ]
    assert "a refill of this Schedule IV drug is due once 90 % of the supply" in day_26[0].message
    assert day_27 == []


def test_early_refill_thresholds_are_parameters():
    # given a stricter pharmacy policy of 80 % for non-controlled drugs
    strict = DurLimits(refill_share=Decimal("0.80"))
    last_fill = LastFill(filled_on=date(2025, 2, 1), days_supply=30)

    # then day 23 is early under it (due after 24 days)
    alerts = check_early_refill(LISINOPRIL, last_fill, today=date(2025, 2, 24), limits=strict)

    assert [a.detail["due_on"] for a in alerts] == ["2025-02-25"]


def test_no_previous_fill_is_never_an_early_refill():
    assert check_early_refill(LISINOPRIL, None, today=TODAY, limits=DEFAULTS) == []


# --------------------------------------------------------------------------- dose and quantity


def test_days_supply_over_90_days_is_a_dose_alert():
    over = check_quantity(LISINOPRIL, quantity=120, days_supply=120, limits=DEFAULTS)
    at_limit = check_quantity(LISINOPRIL, quantity=90, days_supply=90, limits=DEFAULTS)

    assert over == [
        DurAlert(
            AlertType.DOSE,
            Severity.MODERATE,
            "Days supply 120 of Lisinopril 10 mg tablet is over the 90-day limit.",
            {
                "quantity": "120",
                "days_supply": 120,
                "problem": "days_supply_over_limit",
                "limit": 90,
            },
        )
    ]
    assert at_limit == []


def test_schedule_ii_days_supply_over_30_days_is_a_major_dose_alert():
    over = check_quantity(OXYCODONE, quantity=124, days_supply=31, limits=DEFAULTS)
    at_limit = check_quantity(OXYCODONE, quantity=120, days_supply=30, limits=DEFAULTS)

    assert [(a.severity, a.message) for a in over] == [
        (
            Severity.MAJOR,
            "Days supply 31 of Oxycodone 10 mg tablet is over the 30-day limit for Schedule II "
            "drugs.",
        )
    ]
    assert at_limit == []


def test_a_zero_quantity_or_days_supply_is_a_dose_alert():
    alerts = check_quantity(LISINOPRIL, quantity=0, days_supply=0, limits=DEFAULTS)

    assert [(a.severity, a.detail["problem"]) for a in alerts] == [
        (Severity.MAJOR, "quantity_not_positive"),
        (Severity.MAJOR, "days_supply_not_positive"),
    ]


def test_an_absurd_quantity_for_the_days_supply_is_a_dose_alert():
    # given 3,001 tablets for 30 days (a typing slip), and 3,000 (100 a day, the limit)
    absurd = check_quantity(LISINOPRIL, quantity=3001, days_supply=30, limits=DEFAULTS)
    at_limit = check_quantity(LISINOPRIL, quantity=Decimal("3000"), days_supply=30, limits=DEFAULTS)

    assert [(a.severity, a.message) for a in absurd] == [
        (
            Severity.MODERATE,
            "Quantity 3001 of Lisinopril 10 mg tablet for 30 days is 100.03 units a day, more "
            "than 100 a day: check the quantity and days supply.",
        )
    ]
    assert at_limit == []


# --------------------------------------------------------------------------- everything at once


def test_check_drug_returns_every_alert_most_severe_first():
    # given a patient on warfarin and simvastatin, allergic to penicillins, asking for an
    # aspirin refill 10 days into a 30-day fill, 120 days' supply this time
    index = InteractionIndex([WARFARIN_ASPIRIN])
    aspirin_again = DrugProfile.build(
        "Aspirin 325 mg tablet",
        ingredients=["Aspirin"],
        classes=["Platelet Aggregation Inhibitor [EPC]"],
    )

    alerts = check_drug(
        aspirin_again,
        allergies=[AllergyProfile.build("Penicillin", pharmacologic_class="Penicillins [CS]")],
        current_medications=[on(WARFARIN), on(SIMVASTATIN), on(ASPIRIN)],
        interactions=index,
        quantity=120,
        days_supply=120,
        today=date(2025, 2, 11),
        last_fill=LastFill(filled_on=date(2025, 2, 1), days_supply=30),
    )

    assert [(a.type, a.severity) for a in alerts] == [
        (AlertType.INTERACTION, Severity.MAJOR),
        (AlertType.DUPLICATE_THERAPY, Severity.MODERATE),
        (AlertType.EARLY_REFILL, Severity.MODERATE),
        (AlertType.DOSE, Severity.MODERATE),
    ]
