"""Importing drug interaction lists (`import_interactions`), the process-wide interaction
index, and the engine's inputs read from the database (pharmacy.drug_checks)."""

import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from inventory.models import PharmacologicClass
from inventory.tests.factories import (
    IngredientFactory,
    PharmacologicClassFactory,
    ProductFactory,
    ProductIngredientFactory,
)
from pharmacy.drug_checks import (
    CURATED_INTERACTIONS_PATH,
    BadRow,
    InteractionImportError,
    UnknownInteractionLayout,
    allergy_profiles_for_patient,
    drug_profile_for_product,
    import_curated_interactions,
    import_interactions,
    invalidate_interaction_index,
    load_interaction_index,
)
from pharmacy.dur import AlertType, AllergyProfile, CurrentMedication, Severity, check_drug
from pharmacy.models import DrugInteraction
from pharmacy.tests.factories import AllergyFactory, PatientFactory

DDI = Path(__file__).resolve().parents[3] / "shared" / "data" / "ddi"
CSV_HEADER = "ingredient_a,ingredient_b,severity,description\n"
# The 27 columns of the NDF-RT and ONC lists (the public PDDI data set).
PDDI_HEADER = (
    "drug1 object drug2 precipitant certainty contraindication dateAnnotated ddiPkEffect "
    "ddiPkMechanism effectConcept homepage label numericVal objectUri pathway precaution "
    "precipUri severity uri whoAnnotated source ddiType evidence evidenceSource "
    "evidenceStatement researchStatementLabel researchStatement"
).split()


def ddi_file(name: str) -> Path:
    """A public interaction list from shared/data/ddi; the test is skipped, saying why,
    when the shared folder is absent."""
    path = DDI / name
    if not path.exists():
        pytest.skip(
            f"{path} is absent: this test imports the public NDF-RT/ONC interaction lists from "
            "the shared folder beside the checkout (see shared/data/README.md) and cannot run "
            "without it."
        )
    return path


@pytest.fixture(autouse=True)
def fresh_index():
    """Each test starts and ends without this process's cached interaction index."""
    invalidate_interaction_index()
    yield
    invalidate_interaction_index()


def write_csv(tmp_path: Path, body: str, name: str = "pairs.csv") -> Path:
    path = tmp_path / name
    path.write_text(CSV_HEADER + body, encoding="utf-8")
    return path


def stored_pairs() -> list[tuple[str, str, str, str]]:
    return list(
        DrugInteraction.objects.values_list(
            "ingredient_a_key", "ingredient_b_key", "severity", "source"
        )
    )


def stored_severity(first_key: str, second_key: str) -> str:
    """The severity stored for a pair, whichever way round it is named."""
    a, b = sorted((first_key, second_key))
    return DrugInteraction.objects.get(ingredient_a_key=a, ingredient_b_key=b).severity


# --------------------------------------------------------------------------- the public lists


@pytest.mark.django_db
def test_the_ndfrt_list_imports_critical_as_major_and_significant_as_moderate():
    # given the VA NDF-RT list: 1,876 rows, 8 of them repeating a pair, 3 of those at
    # another severity (sumatriptan with an MAO inhibitor)
    path = ddi_file("ndfrt_va_interactions.tsv")

    # when it is imported
    report = import_interactions(path)

    # then each pair is stored once, at its most severe listing
    assert (report.layout, report.rows_read, report.duplicate_rows, report.bad_rows) == (
        "NDF-RT/ONC list",
        1876,
        8,
        [],
    )
    assert (report.created, report.updated, report.unchanged) == (1868, 0, 0)
    assert report.pairs_by_source == {"ndfrt": 1868}
    assert Counter(DrugInteraction.objects.values_list("severity", flat=True)) == {
        "major": 688,
        "moderate": 1180,
    }
    assert [
        stored_severity(maoi, "SUMATRIPTAN")
        for maoi in ("PARGYLINE", "PHENELZINE", "TRANYLCYPROMINE")
    ] == ["major", "major", "major"]
    # DrugBank's "Acetylsalicylic_acid" is stored under the US name aspirin
    methotrexate_aspirin = DrugInteraction.objects.get(
        ingredient_a_key="ASPIRIN", ingredient_b_key="METHOTREXATE"
    )
    assert (
        methotrexate_aspirin.ingredient_a_name,
        methotrexate_aspirin.ingredient_b_name,
        methotrexate_aspirin.severity,
        methotrexate_aspirin.description,
    ) == (
        "Acetylsalicylic acid",
        "Methotrexate",
        "major",
        "VA NDF-RT: Critical drug interaction.",
    )


@pytest.mark.django_db
def test_the_onc_high_priority_list_imports_every_pair_as_major_once():
    # given the ONC high-priority list, which lists most pairs both ways round
    path = ddi_file("onc_high_priority_interactions.tsv")

    report = import_interactions(path)

    assert (report.rows_read, report.duplicate_rows, len(report.bad_rows)) == (1930, 780, 0)
    assert report.created == DrugInteraction.objects.count() == 1150
    assert set(DrugInteraction.objects.values_list("severity", "source")) == {
        ("major", "onc_high_priority")
    }


@pytest.mark.django_db
def test_the_onc_non_interruptive_list_imports_every_pair_as_minor():
    path = ddi_file("onc_non_interruptive_interactions.tsv")

    report = import_interactions(path)

    assert (report.rows_read, report.duplicate_rows, len(report.bad_rows)) == (2101, 0, 0)
    assert report.created == DrugInteraction.objects.count() == 2101
    assert set(DrugInteraction.objects.values_list("severity", "source")) == {
        ("minor", "onc_non_interruptive")
    }
    warfarin_vitamin_e = DrugInteraction.objects.get(
        ingredient_a_key="VITAMIN E", ingredient_b_key="WARFARIN"
    )
    assert warfarin_vitamin_e.ingredient_a_name == "Vitamin E"


@pytest.mark.django_db
def test_all_three_lists_and_the_curated_one_load_into_one_index():
    # given every list imported
    for name in (
        "ndfrt_va_interactions.tsv",
        "onc_high_priority_interactions.tsv",
        "onc_non_interruptive_interactions.tsv",
    ):
        import_interactions(ddi_file(name))
    import_curated_interactions()

    # when the index is loaded
    index = load_interaction_index()

    # then it holds every stored pair, and a pair listed by two sources is found with both
    assert len(index) == DrugInteraction.objects.count() == 1868 + 1150 + 2101 + 38
    found = index.lookup("SIMVASTATIN", "CLARITHROMYCIN")
    assert [(pair.severity, pair.source) for pair in found] == [
        ("contraindicated", "curated"),
        ("major", "ndfrt"),
        ("major", "onc_high_priority"),
    ]


# --------------------------------------------------------------------------- CSV


@pytest.mark.django_db
def test_the_curated_list_imports_as_the_curated_source():
    # when the pharmacy's own list is imported by its path
    report = import_interactions(CURATED_INTERACTIONS_PATH)

    # then every pair is stored as curated, the well-known ones at their severity
    assert (report.layout, report.rows_read, report.created, report.bad_rows) == (
        "plain CSV",
        38,
        38,
        [],
    )
    assert set(DrugInteraction.objects.values_list("source", flat=True)) == {"curated"}
    well_known = [
        ("ASPIRIN", "WARFARIN"),
        ("FLUCONAZOLE", "WARFARIN"),
        ("CLARITHROMYCIN", "SIMVASTATIN"),
        ("NITROGLYCERIN", "SILDENAFIL"),
        ("LISINOPRIL", "SPIRONOLACTONE"),
        ("SERTRALINE", "TRAMADOL"),
        ("ALPRAZOLAM", "OXYCODONE"),
        ("METHOTREXATE", "TRIMETHOPRIM"),
        ("CALCIUM CARBONATE", "LEVOTHYROXINE"),
    ]
    assert [
        DrugInteraction.objects.get(ingredient_a_key=a, ingredient_b_key=b).severity
        for a, b in well_known
    ] == [
        "major",
        "major",
        "contraindicated",
        "contraindicated",
        "major",
        "major",
        "major",
        "major",
        "minor",
    ]


@pytest.mark.django_db
def test_a_csv_pair_is_stored_once_by_ingredient_key_whatever_the_salt_or_order(tmp_path):
    # given a CSV that names one pair three ways
    path = write_csv(
        tmp_path,
        "WARFARIN SODIUM,Fluconazole,Major,INR rises.\n"
        "fluconazole,warfarin,major,Listed again the other way round.\n"
        "Warfarin,FLUCONAZOLE,minor,\n",
    )

    report = import_interactions(path)

    # then it is one pair, ordered by key, with the first listing's words
    assert (report.rows_read, report.duplicate_rows, report.created) == (3, 2, 1)
    stored = DrugInteraction.objects.get()
    assert (
        stored.ingredient_a_key,
        stored.ingredient_b_key,
        stored.ingredient_a_name,
        stored.ingredient_b_name,
        stored.severity,
        stored.description,
        stored.source,
    ) == ("FLUCONAZOLE", "WARFARIN", "Fluconazole", "WARFARIN SODIUM", "major", "INR rises.", "csv")


@pytest.mark.django_db
def test_reimporting_the_same_files_never_duplicates_a_pair(tmp_path):
    # given the curated list and a public list already imported
    ndfrt = ddi_file("ndfrt_va_interactions.tsv")
    import_interactions(CURATED_INTERACTIONS_PATH)
    import_interactions(ndfrt)
    before = sorted(DrugInteraction.objects.values_list("id", "imported_at"))

    # when both are imported again
    curated_again = import_interactions(CURATED_INTERACTIONS_PATH)
    ndfrt_again = import_interactions(ndfrt)

    # then nothing was created or changed
    assert (curated_again.created, curated_again.updated, curated_again.unchanged) == (0, 0, 38)
    assert (ndfrt_again.created, ndfrt_again.updated, ndfrt_again.unchanged) == (0, 0, 1868)
    assert sorted(DrugInteraction.objects.values_list("id", "imported_at")) == before


@pytest.mark.django_db
def test_reimporting_a_changed_csv_updates_its_pairs_and_keeps_the_others(tmp_path):
    # given a CSV of two pairs imported
    import_interactions(
        write_csv(
            tmp_path, "warfarin,aspirin,moderate,Bleeding.\nlisinopril,spironolactone,major,K+\n"
        )
    )
    lisinopril_row = DrugInteraction.objects.get(ingredient_a_key="LISINOPRIL")

    # when a new version raises one pair's severity, names it the other way round, and
    # leaves the second pair out
    report = import_interactions(
        write_csv(tmp_path, "Aspirin,Warfarin,major,Serious bleeding.\n", name="pairs-v2.csv")
    )

    # then the pair is updated in place and the other one kept as it was
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    assert stored_pairs() == [
        ("ASPIRIN", "WARFARIN", "major", "csv"),
        ("LISINOPRIL", "SPIRONOLACTONE", "major", "csv"),
    ]
    assert DrugInteraction.objects.get(ingredient_a_key="ASPIRIN").description == (
        "Serious bleeding."
    )
    assert DrugInteraction.objects.get(ingredient_a_key="LISINOPRIL").imported_at == (
        lisinopril_row.imported_at
    )


@pytest.mark.django_db
def test_bad_rows_are_reported_with_their_line_numbers_and_good_rows_imported(tmp_path):
    # given a CSV mixing good rows with rows that cannot be used
    path = write_csv(
        tmp_path,
        "warfarin,aspirin,major,Bleeding.\n"  # line 2
        "warfarin,,major,No partner.\n"  # line 3
        "warfarin,fluconazole,severe,Not one of our levels.\n"  # line 4
        "\n"  # line 5: blank lines are skipped
        "Warfarin Sodium,WARFARIN,minor,Same drug twice.\n"  # line 6
        '"sertraline","tramadol","Major","Serotonin syndrome,\nseizures."\n'  # lines 7-8
        "methotrexate\n",  # line 9: cut short
    )

    report = import_interactions(path)

    assert report.bad_rows == [
        BadRow(3, "ingredient_b is empty"),
        BadRow(4, "severity 'severe' is not one of contraindicated, major, moderate, minor"),
        BadRow(6, "both ingredients are WARFARIN once salt words are removed"),
        BadRow(9, "severity '' is not one of contraindicated, major, moderate, minor"),
    ]
    assert (report.rows_read, report.created) == (6, 2)
    assert stored_pairs() == [
        ("ASPIRIN", "WARFARIN", "major", "csv"),
        ("SERTRALINE", "TRAMADOL", "major", "csv"),
    ]
    assert str(report.bad_rows[0]) == "line 3: ingredient_b is empty"


@pytest.mark.django_db
def test_bad_rows_of_the_tab_separated_layout_are_reported(tmp_path):
    # given a file in the NDF-RT/ONC layout with an unknown source, an unknown NDF-RT
    # severity and a row cut short
    header = PDDI_HEADER

    def row(object_name, precipitant, severity, source):
        values = dict.fromkeys(header, "None")
        values.update(object=object_name, precipitant=precipitant, severity=severity, source=source)
        return "\t".join(values[column] for column in header)

    path = tmp_path / "mixed.tsv"
    path.write_text(
        "\n".join(
            [
                "\t".join(header),
                row("Warfarin", "Fluconazole", "Critical", "NDF-RT"),
                row("Warfarin", "Amiodarone", "None", "NDF-RT"),
                row("Warfarin", "Aspirin", "None", "DrugBank"),
                "Warfarin\tAspirin",
                row("Simvastatin", "Clarithromycin", "None", "ONC-HighPriority"),
            ]
        )
        + "\n"
    )

    report = import_interactions(path)

    assert report.bad_rows == [
        BadRow(3, "NDF-RT severity 'None' is neither Critical nor Significant"),
        BadRow(
            4,
            "unknown source 'DrugBank'; expected NDF-RT, ONC-HighPriority or ONC-NonInteruptive",
        ),
        BadRow(5, "expected 27 tab-separated fields, found 2"),
    ]
    assert stored_pairs() == [
        ("CLARITHROMYCIN", "SIMVASTATIN", "major", "onc_high_priority"),
        ("FLUCONAZOLE", "WARFARIN", "major", "ndfrt"),
    ]


@pytest.mark.django_db
def test_an_unknown_layout_is_refused_and_nothing_is_written(tmp_path):
    # given a file whose header is neither layout
    path = tmp_path / "drugs.csv"
    path.write_text("drug_1,drug_2,level\nwarfarin,aspirin,high\n")

    with pytest.raises(UnknownInteractionLayout) as refused:
        import_interactions(path)

    assert str(refused.value) == (
        f"{path} has an unknown layout: its header row must hold the columns "
        "ingredient_a,ingredient_b,severity,description (plain CSV) or the NDF-RT/ONC list "
        "columns object, precipitant, severity, source (tab-separated); found drug_1, drug_2, "
        "level"
    )
    assert DrugInteraction.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_file_or_a_format_that_does_not_fit_is_refused(tmp_path):
    with pytest.raises(InteractionImportError) as missing:
        import_interactions(tmp_path / "nowhere.csv")
    with pytest.raises(InteractionImportError) as wrong_format:
        import_interactions(CURATED_INTERACTIONS_PATH, source_format="ndfrt")

    assert str(missing.value) == f"{tmp_path / 'nowhere.csv'} does not exist"
    assert str(wrong_format.value) == (
        f"format 'ndfrt' does not fit {CURATED_INTERACTIONS_PATH}: a file with this header "
        "takes csv or curated"
    )
    assert DrugInteraction.objects.count() == 0


# --------------------------------------------------------------------------- the command


@pytest.mark.django_db
def test_the_command_prints_counts_and_bad_rows(tmp_path, capsys):
    # given a CSV with one bad row
    path = write_csv(tmp_path, "warfarin,aspirin,major,Bleeding.\nwarfarin,aspirin,high,\n")

    # when it is imported through the command
    call_command("import_interactions", str(path))

    # then it lists the bad row and the counts
    output = capsys.readouterr().out
    assert output.splitlines()[:2] == [
        "1 bad rows were skipped:",
        "  line 3: severity 'high' is not one of contraindicated, major, moderate, minor",
    ]
    assert output.splitlines()[2].startswith(f"Imported {path}: plain CSV layout: 2 rows read in ")
    assert output.splitlines()[2].endswith(
        "s; 1 pairs (1 Imported CSV): 1 created, 0 updated, 0 unchanged; 0 rows repeated a "
        "pair; 1 bad rows."
    )
    assert stored_pairs() == [("ASPIRIN", "WARFARIN", "major", "csv")]


@pytest.mark.django_db
def test_the_command_fails_with_a_clear_message(tmp_path):
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("a,b\n")
    all_bad = write_csv(tmp_path, "warfarin,warfarin sodium,major,\n", name="all-bad.csv")

    with pytest.raises(CommandError) as missing:
        call_command("import_interactions", str(tmp_path / "missing.tsv"))
    with pytest.raises(CommandError) as unknown_layout:
        call_command("import_interactions", str(unknown))
    with pytest.raises(CommandError) as nothing_usable:
        call_command("import_interactions", str(all_bad))

    assert str(missing.value) == f"Nothing was imported: {tmp_path / 'missing.tsv'} does not exist"
    assert str(unknown_layout.value).startswith(
        f"Nothing was imported: {unknown} has an unknown layout"
    )
    assert str(nothing_usable.value) == (
        f"Nothing was imported from {all_bad}: no row held a usable pair."
    )
    assert DrugInteraction.objects.count() == 0


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_NAME_OVERRIDE": connection.settings_dict["NAME"]},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_the_command_runs_as_a_process_and_exits_non_zero_on_a_missing_file(tmp_path):
    # when the curated list and a missing file are imported by `manage.py`
    imported = manage("import_interactions", str(CURATED_INTERACTIONS_PATH))
    missing = manage("import_interactions", str(tmp_path / "missing.csv"))

    # then the first succeeds and is stored, the second fails saying why
    assert imported.returncode == 0, imported.stderr
    assert "38 pairs (38 Pharmacy's curated list): 38 created" in imported.stdout
    assert DrugInteraction.objects.filter(source="curated").count() == 38
    assert missing.returncode == 1
    assert f"Nothing was imported: {tmp_path / 'missing.csv'} does not exist" in missing.stderr


# --------------------------------------------------------------------------- the index


@pytest.mark.django_db
def test_the_index_is_empty_until_data_is_imported(tmp_path):
    assert load_interaction_index().is_empty is True

    import_interactions(write_csv(tmp_path, "warfarin,aspirin,major,Bleeding.\n"))

    index = load_interaction_index(max_age=0)
    assert (len(index), index.lookup("WARFARIN", "ASPIRIN")[0].severity) == (1, "major")


@pytest.mark.django_db
def test_the_index_is_cached_until_the_data_changes(tmp_path, django_assert_num_queries):
    # given the curated list imported and the index loaded once
    import_curated_interactions()
    first = load_interaction_index()

    # when it is loaded again, it is the same index: with no query at all within the
    # recheck time, with one query (the version) past it
    with django_assert_num_queries(0):
        within_recheck_time = load_interaction_index()
    with django_assert_num_queries(1):
        rechecked = load_interaction_index(max_age=0)

    # and once another process's import changes a pair, the next recheck builds a new one
    import_interactions(write_csv(tmp_path, "warfarin,aspirin,minor,Changed.\n"))
    changed = load_interaction_index(max_age=0)

    assert within_recheck_time is first
    assert rechecked is first
    assert changed is not first
    assert (len(first), len(changed)) == (38, 39)


@pytest.mark.django_db(transaction=True)
def test_an_import_replaces_the_cached_index_of_its_own_process_at_once(tmp_path):
    # given an index cached in this process
    import_curated_interactions()
    first = load_interaction_index()

    # when an import commits in this process
    import_interactions(write_csv(tmp_path, "warfarin,aspirin,minor,Changed.\n"))

    # then the next load, within the recheck time, already has the new pair
    assert len(load_interaction_index()) == 39
    assert len(first) == 38


# --------------------------------------------------------------------------- engine inputs


@pytest.mark.django_db
def test_a_products_profile_has_its_ingredient_keys_classes_and_schedule():
    # given an oxycodone product as the catalogue holds it
    oxycodone = ProductFactory(
        proprietary_name="Roxicodone",
        nonproprietary_name="oxycodone hydrochloride",
        dea_schedule="CII",
    )
    ProductIngredientFactory(
        product=oxycodone,
        ingredient=IngredientFactory(name="Oxycodone Hydrochloride", normalized_name="OXYCODONE"),
    )
    oxycodone.pharmacologic_classes.add(
        PharmacologicClassFactory(name="Opioid Agonist", kind="EPC"),
        PharmacologicClassFactory(name="Full Opioid Agonists", kind="MoA"),
    )

    profile = drug_profile_for_product(oxycodone)

    assert profile.name == "Roxicodone (oxycodone hydrochloride)"
    assert profile.ingredient_keys == {"OXYCODONE"}
    assert profile.class_names == {"opioid agonist [epc]", "full opioid agonists [moa]"}
    assert (profile.dea_schedule, profile.is_controlled) == ("CII", True)


def penicillin_catalogue():
    """Penicillin G and amoxicillin products with the FDA's classes, and an
    amoxicillin/clavulanate combination whose extra class must not count."""
    epc = PharmacologicClassFactory(name="Penicillin-class Antibacterial", kind="EPC")
    chemical = PharmacologicClassFactory(name="Penicillins", kind=PharmacologicClass.Kind.CHEMICAL)
    inhibitor = PharmacologicClassFactory(name="beta Lactamase Inhibitor", kind="EPC")
    penicillin_g = IngredientFactory(name="Penicillin G Potassium", normalized_name="PENICILLIN G")
    amoxicillin = IngredientFactory(name="Amoxicillin", normalized_name="AMOXICILLIN")
    clavulanate = IngredientFactory(name="Clavulanate Potassium", normalized_name="CLAVULANATE")

    pfizerpen = ProductFactory(proprietary_name="Pfizerpen", nonproprietary_name="penicillin G")
    ProductIngredientFactory(product=pfizerpen, ingredient=penicillin_g)
    pfizerpen.pharmacologic_classes.add(epc, chemical)
    amoxil = ProductFactory(proprietary_name="Amoxil", nonproprietary_name="amoxicillin")
    ProductIngredientFactory(product=amoxil, ingredient=amoxicillin)
    amoxil.pharmacologic_classes.add(epc, chemical)
    augmentin = ProductFactory(proprietary_name="Augmentin", nonproprietary_name="amox/clav")
    ProductIngredientFactory(product=augmentin, ingredient=amoxicillin)
    ProductIngredientFactory(product=augmentin, ingredient=clavulanate)
    augmentin.pharmacologic_classes.add(epc, chemical, inhibitor)
    return {"epc": epc, "penicillin_g": penicillin_g, "amoxil": amoxil}


@pytest.mark.django_db
def test_a_patients_allergies_carry_the_classes_of_their_ingredient():
    # given a patient allergic to penicillin G (coded to the ingredient) and to the
    # penicillin class, with an allergy typed as text
    catalogue = penicillin_catalogue()
    patient = PatientFactory()
    AllergyFactory(
        patient=patient,
        allergen="Penicillin G",
        ingredient=catalogue["penicillin_g"],
        severity="severe",
        reaction="anaphylaxis",
    )
    AllergyFactory(patient=patient, allergen="Penicillins", pharmacologic_class=catalogue["epc"])
    AllergyFactory(patient=patient, allergen="Sulfa drugs", reaction="")

    profiles = allergy_profiles_for_patient(patient)

    assert profiles == (
        AllergyProfile(
            allergen="Penicillin G",
            ingredient_key="PENICILLIN G",
            related_class_names=frozenset(
                {"penicillin-class antibacterial [epc]", "penicillins [cs]"}
            ),
            severity="severe",
            reaction="anaphylaxis",
        ),
        AllergyProfile(
            allergen="Penicillins",
            class_name="penicillin-class antibacterial [epc]",
            severity="moderate",
            reaction="Hives",
        ),
        AllergyProfile(allergen="Sulfa drugs", severity="moderate"),
    )


@pytest.mark.django_db
def test_allergies_never_asked_are_none_and_no_known_allergies_are_empty():
    never_asked = PatientFactory(no_known_allergies=False)
    none_known = PatientFactory(no_known_allergies=True)

    assert allergy_profiles_for_patient(never_asked) is None
    assert allergy_profiles_for_patient(none_known) == ()


@pytest.mark.django_db
def test_a_penicillin_allergic_patient_gets_an_allergy_alert_for_amoxicillin_from_the_database(
    django_assert_max_num_queries,
):
    # given the curated interactions, a patient allergic to penicillin G and a patient
    # on warfarin, and an amoxicillin product
    import_curated_interactions()
    catalogue = penicillin_catalogue()
    patient = PatientFactory()
    AllergyFactory(patient=patient, allergen="Penicillin G", ingredient=catalogue["penicillin_g"])
    warfarin = ProductFactory(proprietary_name="Coumadin", nonproprietary_name="warfarin sodium")
    ProductIngredientFactory(
        product=warfarin,
        ingredient=IngredientFactory(name="Warfarin Sodium", normalized_name="WARFARIN"),
    )

    # when the amoxicillin product is checked from what the database holds
    with django_assert_max_num_queries(8):
        alerts = check_drug(
            drug_profile_for_product(catalogue["amoxil"]),
            allergies=allergy_profiles_for_patient(patient),
            current_medications=[CurrentMedication(drug_profile_for_product(warfarin))],
            interactions=load_interaction_index(),
            quantity=21,
            days_supply=7,
            today=date(2025, 3, 1),
        )

    # then the only alert is the cross-sensitivity with penicillin G
    assert [(a.type, a.severity, a.detail["match"]) for a in alerts] == [
        (AlertType.ALLERGY, Severity.MAJOR, "cross_sensitivity")
    ]
