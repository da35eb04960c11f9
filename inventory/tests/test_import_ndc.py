"""import_ndc_directory on every FDA NDC Directory file of shared/data/ndc/.

Fixture files are copied into a temporary folder under the names the import expects
(product.txt, package.txt); rows are edited in the copy to make the corrupted rows a
real download can hold.
"""

import csv
from datetime import date
from decimal import Decimal

import pytest

from inventory.models import (
    Ingredient,
    Package,
    PharmacologicClass,
    Product,
    ProductIngredient,
    Storage,
)
from inventory.services import catalogue as services
from inventory.services.catalogue import (
    ImportProblem,
    NDCImportError,
    import_ndc_directory,
    parse_package_description,
    parse_pharm_classes,
)
from inventory.tests.shared_data import (
    finished_fixture,
    fixture,
    joined,
    ndc_folder,
    shared_path,
)

pytestmark = pytest.mark.django_db


def edit(header: bytes, row: bytes, **columns: str) -> bytes:
    """The tab-separated row with the named columns replaced."""
    names = header.decode().split("\t")
    fields = row.split(b"\t")
    for name, value in columns.items():
        fields[names.index(name)] = value.encode()
    return b"\t".join(fields)


def where(problems: list[ImportProblem]) -> list[tuple[str, int]]:
    return [(problem.file, problem.line) for problem in problems]


# --------------------------------------------------------------------------- FDA fixtures


def test_finished_fixture_imports_and_reports_the_corrupted_row(tmp_path):
    products, packages = finished_fixture()
    report = import_ndc_directory(ndc_folder(tmp_path, joined(products), joined(packages)))

    assert report.layout == "finished"
    assert (report.product_rows, report.package_rows) == (3, 3)
    assert (report.products_created, report.packages_created) == (2, 1)
    # Line 3 is Amyvid, whose DEASCHEDULE says "DEA": not a schedule, so the product is
    # left out (never imported as not controlled) and so are its two packages.
    assert where(report.problems) == [("product.txt", 3), ("package.txt", 3), ("package.txt", 4)]
    assert "DEASCHEDULE 'DEA' is not a DEA schedule" in report.problems[0].reason
    assert "product 0002-1200 is neither in product.txt" in report.problems[1].reason
    assert str(report.problems[2]).startswith("package.txt:4: package 0002-1200-50")

    diluent = Product.objects.get(product_ndc="0002-0800")
    assert (diluent.proprietary_name, diluent.nonproprietary_name, diluent.product_type) == (
        "Sterile Diluent",
        "diluent",
        "HUMAN OTC DRUG",
    )
    assert (diluent.route, diluent.marketing_start, diluent.marketing_end) == (
        "SUBCUTANEOUS",
        date(1987, 7, 10),
        None,
    )
    assert (diluent.dea_schedule, diluent.is_finished, diluent.storage) == ("", True, "room")
    assert [str(s) for s in diluent.strengths.all()] == ["Water 1 mL/mL"]
    quinidine = Product.objects.get(product_ndc="0002-1407")
    assert [str(s) for s in quinidine.strengths.all()] == ["Quinidine 80 mg/mL"]
    assert sorted(str(c) for c in quinidine.pharmacologic_classes.all()) == [
        "Antiarrhythmic [EPC]",
        "Cytochrome P450 2D6 Inhibitor [EPC]",
        "Cytochrome P450 2D6 Inhibitors [MoA]",
    ]
    vial = Package.objects.get()
    assert (vial.package_ndc, vial.ndc10, vial.ndc11, vial.gtin) == (
        "0002-0800-01",
        "0002080001",
        "00002080001",
        "00300020800018",
    )
    assert (vial.quantity, vial.unit, vial.is_sample, vial.marketing_start) == (
        Decimal("10"),
        "mL",
        False,
        date(1987, 7, 10),
    )
    assert vial.product == diluent


def test_unfinished_fixture_imports_bulk_products(tmp_path):
    folder = ndc_folder(
        tmp_path,
        fixture("ndc__tests__unfinished_product_trimmed.txt"),
        fixture("ndc__tests__unfinished_package_trimmed.txt"),
    )
    report = import_ndc_directory(folder)

    assert report.layout == "unfinished"
    assert (report.products_created, report.packages_created, report.problems) == (3, 3, [])
    dulaglutide = Product.objects.get(product_ndc="0002-1401")
    assert (dulaglutide.is_finished, dulaglutide.product_type, dulaglutide.proprietary_name) == (
        False,
        "DRUG FOR FURTHER PROCESSING",
        "",
    )
    assert [
        (s.ingredient.normalized_name, s.strength, s.strength_unit)
        for s in dulaglutide.strengths.all()
    ] == [("DULAGLUTIDE", ".75", "mg/.5mL")]
    four_bottles = Package.objects.get(package_ndc="0002-0485-04")
    assert (four_bottles.quantity, four_bottles.unit) == (Decimal("8000"), "g")
    assert four_bottles.product.nonproprietary_name == "Insulin human"


def test_viagra_product_file_with_classes(tmp_path):
    _products, packages = finished_fixture()
    product = fixture(
        "annotation_table__tests__data__multi_upc_test__annotation__ndc__extracted__product.txt"
    )
    report = import_ndc_directory(ndc_folder(tmp_path, product, packages[0] + b"\n"))

    assert (report.products_created, report.package_rows, report.problems) == (3, 0, [])
    strengths = ProductIngredient.objects.filter(product__proprietary_name="Viagra")
    assert sorted(
        (s.product.product_ndc, s.ingredient.normalized_name, s.strength) for s in strengths
    ) == [
        ("0069-4200", "SILDENAFIL", "25"),
        ("0069-4210", "SILDENAFIL", "50"),
        ("0069-4220", "SILDENAFIL", "100"),
    ]
    assert Ingredient.objects.get().name == "Sildenafil"
    assert sorted(PharmacologicClass.objects.values_list("name", "kind")) == [
        ("Phosphodiesterase 5 Inhibitor", "EPC"),
        ("Phosphodiesterase 5 Inhibitors", "MoA"),
    ]
    assert Product.objects.get(product_ndc="0069-4210").pharmacologic_classes.count() == 2


def test_unfinished_sample_of_the_real_directory(tmp_path):
    report = import_ndc_directory(shared_path("ndc", "fda_unfinished_sample"))

    assert (report.product_rows, report.package_rows) == (3000, 5113)
    assert (report.products_created, report.packages_created) == (2986, 5113)
    # Fourteen product NDCs are listed twice (under two SPLs): the later row wins, and
    # each is reported.
    assert len(report.problems) == 14
    assert all(
        p.file == "product.txt" and p.reason.endswith("this row replaces it.")
        for p in report.problems
    )
    assert report.problems[0] == ImportProblem(
        "product.txt", 432, "product NDC 14639-2367 is also on line 431; this row replaces it."
    )
    magnesium = Product.objects.get(product_ndc="14639-2367")
    assert [(str(s), magnesium.marketing_start) for s in magnesium.strengths.all()] == [
        ("Magnesium Chloride 5 kg/5kg", date(2015, 2, 26))
    ]
    assert Product.objects.controlled().count() == 733
    assert Product.objects.filter(dea_schedule="CII").count() == 304
    assert Package.objects.get(package_ndc="29902-0021-1").ndc11 == "29902002101"
    # Adderall-like mixed salts: one ingredient per moiety, both strengths kept.
    mixed = ProductIngredient.objects.get(
        product__product_ndc="63552-129", ingredient__normalized_name="AMPHETAMINE"
    )
    assert (mixed.strength, mixed.strength_unit) == ("5 + 5", "mg/1")
    assert report.packages_without_quantity == 9
    assert Package.objects.filter(quantity__isnull=True).count() == 9


# --------------------------------------------------------------------------- idempotency


def test_reimport_changes_nothing_and_keeps_the_storage_staff_set(tmp_path):
    folder = shared_path("ndc", "fda_unfinished_sample")
    import_ndc_directory(folder)
    ertapenem = Product.objects.get(product_ndc="0006-3340")
    ertapenem.storage = Storage.REFRIGERATED
    ertapenem.save(update_fields=["storage"])
    before = {
        "products": list(Product.objects.order_by("pk").values_list("pk", "updated_at")),
        "packages": list(Package.objects.order_by("pk").values_list("pk", "updated_at")),
        "strengths": list(ProductIngredient.objects.order_by("pk").values_list("pk", flat=True)),
        "ingredients": Ingredient.objects.count(),
    }

    report = import_ndc_directory(folder)

    assert (report.products_created, report.products_updated, report.products_unchanged) == (
        0,
        0,
        2986,
    )
    assert (report.packages_created, report.packages_updated, report.packages_unchanged) == (
        0,
        0,
        5113,
    )
    assert (report.ingredients_created, len(report.problems)) == (0, 14)
    assert (
        list(Product.objects.order_by("pk").values_list("pk", "updated_at")) == before["products"]
    )
    assert (
        list(Package.objects.order_by("pk").values_list("pk", "updated_at")) == before["packages"]
    )
    assert (
        list(ProductIngredient.objects.order_by("pk").values_list("pk", flat=True))
        == (before["strengths"])
    )
    assert Ingredient.objects.count() == before["ingredients"]
    ertapenem.refresh_from_db()
    assert ertapenem.storage == Storage.REFRIGERATED


def test_reimport_updates_changed_rows_in_place(tmp_path):
    products, packages = finished_fixture()
    import_ndc_directory(ndc_folder(tmp_path / "first", joined(products), joined(packages)))
    Product.objects.filter(product_ndc="0002-1407").update(storage=Storage.FROZEN)
    vial_pk = Package.objects.get().pk

    products[3] = edit(
        products[0],
        products[3],
        PROPRIETARYNAME="Quinidine Gluconate Injection",
        SUBSTANCENAME="QUINIDINE GLUCONATE; WATER",
        ACTIVE_NUMERATOR_STRENGTH="200; 1",
        ACTIVE_INGRED_UNIT="mg/mL; mL/mL",
        PHARM_CLASSES="Antiarrhythmic [EPC]",
    )
    packages[1] = packages[1].replace(b"> 10 mL in 1 VIAL", b"> 20 mL in 1 VIAL")
    report = import_ndc_directory(
        ndc_folder(tmp_path / "second", joined(products), joined(packages))
    )

    assert (report.products_created, report.products_updated, report.products_unchanged) == (
        0,
        1,
        1,
    )
    assert (report.packages_created, report.packages_updated, report.packages_unchanged) == (
        0,
        1,
        0,
    )
    quinidine = Product.objects.get(product_ndc="0002-1407")
    assert (quinidine.proprietary_name, quinidine.storage) == (
        "Quinidine Gluconate Injection",
        Storage.FROZEN,
    )
    assert [str(s) for s in quinidine.strengths.all()] == ["Quinidine 200 mg/mL", "Water 1 mL/mL"]
    assert [str(c) for c in quinidine.pharmacologic_classes.all()] == ["Antiarrhythmic [EPC]"]
    vial = Package.objects.get()
    assert (vial.pk, vial.quantity, Product.objects.count()) == (vial_pk, Decimal("20"), 2)


def test_an_ingredient_dropped_from_a_product_is_removed_from_it(tmp_path):
    products, packages = finished_fixture()
    import_ndc_directory(ndc_folder(tmp_path / "first", joined(products), joined(packages)))
    products[2] = edit(products[0], products[2], DEASCHEDULE="CII")  # Amyvid now imports
    import_ndc_directory(ndc_folder(tmp_path / "second", joined(products), joined(packages)))
    assert Product.objects.get(product_ndc="0002-1200").strengths.count() == 4

    products[2] = edit(
        products[0],
        products[2],
        SUBSTANCENAME="ALENDRONATE SODIUM",
        ACTIVE_NUMERATOR_STRENGTH="70",
        ACTIVE_INGRED_UNIT="mg/1",
    )
    report = import_ndc_directory(
        ndc_folder(tmp_path / "third", joined(products), joined(packages))
    )

    amyvid = Product.objects.get(product_ndc="0002-1200")
    assert [str(s) for s in amyvid.strengths.all()] == ["Alendronate 70 mg/1"]
    assert (amyvid.dea_schedule, report.problems) == ("CII", [])
    # The ingredients themselves stay: other products and allergy records may name them.
    assert Ingredient.objects.filter(normalized_name="CHOLECALCIFEROL").exists()


def test_packages_of_a_product_already_in_the_catalogue_are_linked_to_it(tmp_path):
    products, packages = finished_fixture()
    import_ndc_directory(ndc_folder(tmp_path / "first", joined(products), joined(packages)))

    report = import_ndc_directory(
        ndc_folder(tmp_path / "second", products[0] + b"\n", joined(packages[:2]))
    )

    assert (report.packages_unchanged, report.problems) == (1, [])
    assert Package.objects.get().product.product_ndc == "0002-0800"


# --------------------------------------------------------------------------- bad rows


def test_corrupted_rows_are_reported_with_line_numbers_and_the_rest_imported(tmp_path):
    products, packages = finished_fixture()
    header = products[0]
    short_row = b"\t".join(products[1].split(b"\t")[:-1])
    products = [
        header,
        products[1],  # line 2
        short_row,  # line 3: a column missing
        edit(header, products[3], PRODUCTNDC="0002-14O7"),  # line 4: letter O for zero
        b"",  # line 5: blank, ignored
        products[3],  # line 6
        edit(
            header,
            products[2],
            DEASCHEDULE="CII",
            ACTIVE_INGRED_UNIT="mg/1",
            STARTMARKETINGDATE="2012-06-01",
        ),  # line 7: lists misaligned, a bad date
    ]
    packages = [
        packages[0],
        packages[1],  # line 2
        edit(packages[0], packages[2], NDCPACKAGECODE="0002-1200-3"),  # line 3: 4-4-1
        edit(packages[0], packages[3], PRODUCTNDC="0002-1407"),  # line 4: wrong product
        packages[2] + b"\textra",  # line 5: a column too many
        packages[3],  # line 6
    ]
    report = import_ndc_directory(ndc_folder(tmp_path, joined(products), joined(packages)))

    assert [str(problem) for problem in report.problems] == [
        "product.txt:3: has 19 columns where the header has 20; row skipped.",
        "product.txt:4: PRODUCTNDC: '0002-14O7' is not a product NDC: expected labeler-product "
        "digits with a hyphen as 4-4, 5-3 or 5-4 (for example 0002-3227). Row skipped.",
        "product.txt:7: STARTMARKETINGDATE '2012-06-01' is not a date as YYYYMMDD; left blank.",
        "product.txt:7: SUBSTANCENAME lists 4 ingredients but ACTIVE_NUMERATOR_STRENGTH has 3 "
        "values and ACTIVE_INGRED_UNIT 1; ingredients imported without strengths.",
        "package.txt:3: NDCPACKAGECODE: '0002-1200-3' is not a package NDC: expected 10 digits "
        "with hyphens as 4-4-2, 5-3-2 or 5-4-1 (for example 0002-3227-30). Row skipped.",
        "package.txt:4: package NDC 0002-1200-50 does not belong to PRODUCTNDC '0002-1407'; row "
        "skipped.",
        "package.txt:5: has 9 columns where the header has 8; row skipped.",
    ]
    assert (report.product_rows, report.package_rows) == (5, 5)
    assert sorted(Product.objects.values_list("product_ndc", flat=True)) == [
        "0002-0800",
        "0002-1200",
        "0002-1407",
    ]
    amyvid = Product.objects.get(product_ndc="0002-1200")
    assert (amyvid.dea_schedule, amyvid.marketing_start, amyvid.route) == (
        "CII",
        None,
        "INTRALESIONAL; INTRAMUSCULAR; INTRASYNOVIAL; SOFT TISSUE",
    )
    assert sorted((s.ingredient.normalized_name, s.strength) for s in amyvid.strengths.all()) == [
        ("ALENDRONATE", ""),
        ("CHOLECALCIFEROL", ""),
        ("FLUORIDE", ""),
        ("ZINC", ""),
    ]
    assert sorted(Package.objects.values_list("package_ndc", "is_sample")) == [
        ("0002-0800-01", False),
        ("0002-1200-50", False),
    ]


def test_a_row_that_is_not_utf8_is_reported_and_the_rest_imported(tmp_path):
    products, packages = finished_fixture()
    bad_bytes = fixture("ndc__tests__badutf8.txt")  # 'This is a "bad" UTF-8 file.\x80'
    latin1 = edit(products[0], products[3], LABELERNAME="Laboratoires Pi\xe8rre")
    latin1 = latin1.replace("Pièrre".encode(), "Pièrre".encode("latin-1"))
    product = joined([products[0], products[1], bad_bytes, latin1])

    report = import_ndc_directory(ndc_folder(tmp_path, product, joined(packages[:2])))

    assert [str(problem) for problem in report.problems] == [
        "product.txt:3: not valid UTF-8 (byte 0x80 at position 28); row skipped.",
        "product.txt:4: not valid UTF-8 (byte 0xe8 at position 183); row skipped.",
    ]
    assert list(Product.objects.values_list("product_ndc", flat=True)) == ["0002-0800"]
    assert Package.objects.count() == 1


def test_the_bad_utf8_fixture_as_a_whole_file_is_refused(tmp_path):
    _products, packages = finished_fixture()
    folder = ndc_folder(tmp_path, fixture("ndc__tests__badutf8.txt"), joined(packages))
    with pytest.raises(NDCImportError, match="does not start with the tab-separated header row"):
        import_ndc_directory(folder)
    assert Product.objects.count() == 0


def test_files_that_are_not_ndc_directory_files_are_refused(tmp_path):
    products, packages = finished_fixture()
    rxnorm = fixture(
        "annotation_table__tests__data__multi_upc_test__annotation__rxnorm__extracted__"
        "rxnorm_mappings.txt"
    )
    with pytest.raises(NDCImportError, match="does not start with the tab-separated header"):
        import_ndc_directory(ndc_folder(tmp_path / "a", rxnorm, joined(packages)))
    with pytest.raises(NDCImportError, match="lacks PRODUCTTYPENAME, NONPROPRIETARYNAME"):
        import_ndc_directory(ndc_folder(tmp_path / "b", joined(packages), joined(packages)))
    with pytest.raises(NDCImportError, match=r"package.txt: its header row lacks NDCPACKAGECODE"):
        import_ndc_directory(ndc_folder(tmp_path / "c", joined(products), joined(products)))
    assert Product.objects.count() == 0


def test_missing_folder_or_file_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(NDCImportError, match="is not a folder"):
        import_ndc_directory(tmp_path / "nowhere")
    products, _packages = finished_fixture()
    (tmp_path / "product.txt").write_bytes(joined(products))
    with pytest.raises(NDCImportError, match=r"package.txt does not exist"):
        import_ndc_directory(tmp_path)
    assert Product.objects.count() == 0


def test_a_failed_import_leaves_nothing_half_written(tmp_path, monkeypatch):
    products, packages = finished_fixture()
    folder = ndc_folder(tmp_path, joined(products), joined(packages))
    upsert = services._upsert_counts
    calls = []

    def products_then_failure(cursor, sql, params=()):
        calls.append(sql)
        if len(calls) == 2:  # the packages
            raise RuntimeError("the database went away")
        return upsert(cursor, sql, params)

    monkeypatch.setattr(services, "_upsert_counts", products_then_failure)
    with pytest.raises(RuntimeError):
        import_ndc_directory(folder)
    assert (Product.objects.count(), Ingredient.objects.count(), Package.objects.count()) == (
        0,
        0,
        0,
    )


# --------------------------------------------------------------------------- descriptions


@pytest.mark.parametrize(
    ("description", "quantity", "unit"),
    [
        ("30 TABLET, FILM COATED in 1 BOTTLE (0002-3227-30)", "30", "TABLET, FILM COATED"),
        ("1 VIAL in 1 CARTON (0002-0800-01)  > 10 mL in 1 VIAL", "10", "mL"),
        ("1 BLISTER PACK in 1 CARTON > 10 TABLET in 1 BLISTER PACK", "10", "TABLET"),
        (
            "2 BLISTER PACK in 1 CARTON (0002-4462-34)  > 15 TABLET, FILM COATED in 1 BLISTER PACK "
            "(0002-4462-79)",
            "30",
            "TABLET, FILM COATED",
        ),
        (
            "30 DOSE PACK in 1 CARTON (0002-4453-85)  > 1 BLISTER PACK in 1 DOSE PACK "
            "(0002-4453-01)  > 1 TABLET, ORALLY DISINTEGRATING in 1 BLISTER PACK",
            "30",
            "TABLET, ORALLY DISINTEGRATING",
        ),
        (
            "1 BAG in 1 DRUM (17337-0063-1)  > 1 CONTAINER in 1 BAG > 1 CANISTER in 1 CONTAINER > "
            "10 kg in 1 CANISTER",
            "10",
            "kg",
        ),
        (
            "5 CARTRIDGE in 1 CARTON (0002-7516-59)  > 3 mL in 1 CARTRIDGE (0002-7516-01)",
            "15",
            "mL",
        ),
        (
            "1 KIT in 1 CARTON (0002-7335-11)  *  5 mL in 1 VIAL (0002-7349-01)  *  5 mL in 1 VIAL",
            "1",
            "KIT",
        ),
        (".5 mL in 1 SYRINGE (0000-0000-00)", "0.5", "mL"),
        ("1 [hp_X] in 1 BOTTLE, GLASS (0220-3987-12)", "1", "[hp_X]"),
        ("0 TABLET in 1 NOT APPLICABLE (67433-381-99)", None, ""),
        ("50000000000 U in 1 BAG (62263-783-54)", None, ""),
        ("see insert", None, ""),
        ("", None, ""),
    ],
)
def test_package_description_quantity(description, quantity, unit):
    expected = None if quantity is None else Decimal(quantity)
    assert parse_package_description(description) == (expected, unit)


def test_every_real_lilly_package_description_has_a_quantity():
    path = shared_path("ndc", "fda_finished_lilly_joined.csv")
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    parsed = {row["NDC"]: parse_package_description(row["PACKAGEDESCRIPTION"]) for row in rows}
    assert all(quantity is not None and unit for quantity, unit in parsed.values())
    assert parsed["0002324033"] == (Decimal("100"), "CAPSULE, DELAYED RELEASE")
    assert parsed["0002300475"] == (Decimal("4"), "CAPSULE, DELAYED RELEASE")
    assert parsed["0002751659"] == (Decimal("15"), "mL")
    assert parsed["0002763511"] == (Decimal("1"), "KIT")


def test_pharm_classes():
    assert parse_pharm_classes(
        "Radioactive Diagnostic Agent [EPC],Positron Emitting Activity [MoA]"
    ) == [("Radioactive Diagnostic Agent", "EPC"), ("Positron Emitting Activity", "MoA")]
    assert parse_pharm_classes("Hormones, Synthetic [CS], Estrogens [Chemical/Ingredient]") == [
        ("Hormones, Synthetic", "CS"),
        ("Estrogens", ""),
    ]
    assert parse_pharm_classes("") == []
