"""NDC, UPC-A and GTIN-14 conversions: every direction, check digits, bad input."""

import csv

import pytest
from biip.gtin import Gtin

from inventory.ndc import (
    InvalidNDCError,
    ScanError,
    gs1_check_digit,
    gtin14_from_ndc,
    is_package_ndc,
    is_product_ndc,
    ndc10_digits,
    ndc10_from_gtin,
    ndc10_from_upc,
    ndc11_from_package_ndc,
    normalize_ndc_input,
    package_ndc_from_digits,
    package_ndc_layout,
    package_ndcs_from_ndc11,
    product_ndc_of,
    upc_from_ndc,
    validate_product_ndc,
)
from inventory.tests.shared_data import shared_path

# Strattera 10 mg x 30 (4-4-2), a 5-3-2 and a 5-4-1 bulk package of the FDA's directory.
STRATTERA = "0002-3227-30"


@pytest.mark.parametrize(
    ("package_ndc", "layout", "ndc11"),
    [
        ("0002-3227-30", "4-4-2", "00002322730"),
        ("55977-601-50", "5-3-2", "55977060150"),
        ("29902-0021-1", "5-4-1", "29902002101"),
    ],
)
def test_package_ndc_layouts_and_ndc11(package_ndc, layout, ndc11):
    assert package_ndc_layout(package_ndc) == layout
    assert ndc11_from_package_ndc(package_ndc) == ndc11
    assert package_ndc in package_ndcs_from_ndc11(ndc11)
    assert ndc10_digits(package_ndc) == package_ndc.replace("-", "")
    assert package_ndc_from_digits(package_ndc.replace("-", ""), layout) == package_ndc


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0002322730",
        "0002-3227-3",
        "002-3227-30",
        "00002-3227-30",
        "0002-3227-30-1",
        "0002--3227",
        "abcd-efgh-ij",
        "0002 3227 30",
        "٠٠٠٢-٣٢٢٧-٣٠",
    ],
)
def test_bad_package_ndcs_are_refused(text):
    assert not is_package_ndc(text)
    with pytest.raises(InvalidNDCError, match="not a package NDC"):
        package_ndc_layout(text)


def test_product_ndc_layouts():
    assert [is_product_ndc(t) for t in ("0002-3227", "55977-601", "29902-0021")] == [True] * 3
    assert [is_product_ndc(t) for t in ("0002-32", "000232-27", "0002-3227-30", "")] == [False] * 4
    assert product_ndc_of("29902-0021-1") == "29902-0021"
    with pytest.raises(InvalidNDCError, match="not a product NDC"):
        validate_product_ndc("0002-32270")


def test_ndc11_gives_every_possible_ten_digit_form():
    assert package_ndcs_from_ndc11("00002322730") == ("0002-3227-30",)
    assert package_ndcs_from_ndc11("01234012301") == (
        "1234-0123-01",
        "01234-123-01",
        "01234-0123-1",
    )
    assert package_ndcs_from_ndc11("12345678911") == ()
    with pytest.raises(InvalidNDCError, match="11 digits"):
        package_ndcs_from_ndc11("0002322730")


def test_normalize_ndc_input_takes_hyphenated_ten_or_plain_eleven_digits():
    assert normalize_ndc_input("0002-3227-30") == "00002322730"
    assert normalize_ndc_input(" 00002322730 ") == "00002322730"
    assert normalize_ndc_input("00002-3227-30") == "00002322730"
    assert normalize_ndc_input("29902-0021-1") == "29902002101"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0002322730", "ambiguous"),
        ("", "is not an NDC"),
        ("0002-3227", "is not an NDC"),
        ("000023227300", "is not an NDC"),
        ("aspirin", "is not an NDC"),
    ],
)
def test_normalize_ndc_input_refuses_anything_else(text, message):
    with pytest.raises(InvalidNDCError, match=message):
        normalize_ndc_input(text)


def test_gs1_check_digit_of_known_codes():
    # Worked by hand: 3-0002-3227-30 -> weighted sum 50 -> 0; 3-55977-601-50 -> 92 -> 8.
    assert gs1_check_digit("30002322730") == "0"
    assert gs1_check_digit("35597760150") == "8"
    # GS1's own example GTIN 0 0614141 12345 2.
    assert gs1_check_digit("0061414112345") == "2"


def test_upc_a_both_ways():
    assert upc_from_ndc(STRATTERA) == "300023227300"
    assert upc_from_ndc("55977-601-50") == "355977601508"
    assert upc_from_ndc("5597760150") == "355977601508"
    assert ndc10_from_upc("355977601508") == "5597760150"


@pytest.mark.parametrize(
    ("upc", "message"),
    [
        ("355977601507", "wrong check digit"),
        ("036000291452", "starts with 3"),  # a grocery UPC-A, valid but not a drug
        ("35597760150", "12 digits"),
        ("3559776015O8", "12 digits"),
    ],
)
def test_bad_upc_a_is_refused(upc, message):
    with pytest.raises(InvalidNDCError, match=message):
        ndc10_from_upc(upc)


def test_gtin14_both_ways():
    assert gtin14_from_ndc(STRATTERA) == "00300023227300"
    assert gtin14_from_ndc("55977-601-50") == "00355977601508"
    assert gtin14_from_ndc(STRATTERA, indicator="5")[:1] == "5"
    case = gtin14_from_ndc(STRATTERA, indicator="5")
    assert ndc10_from_gtin(case) == "0002322730"
    assert ndc10_from_gtin("00300023227300") == "0002322730"
    # GTIN-12 and GTIN-13 are the same number padded with zeros.
    assert ndc10_from_gtin("300023227300") == "0002322730"
    assert ndc10_from_gtin("0300023227300") == "0002322730"


@pytest.mark.parametrize(
    ("gtin", "message"),
    [
        ("00300023227301", "wrong check digit"),
        ("00614141123452", "not an NDC-based"),
        ("0030002322730", "wrong check digit"),
        ("300023227301", "wrong check digit"),
        ("0030002322730X", "12, 13 or 14 digits"),
        ("003000232273000", "12, 13 or 14 digits"),
    ],
)
def test_bad_gtins_are_refused(gtin, message):
    with pytest.raises(InvalidNDCError, match=message):
        ndc10_from_gtin(gtin)


def test_invalid_ndc_is_a_scan_error_and_a_value_error():
    assert issubclass(InvalidNDCError, ScanError)
    assert issubclass(ScanError, ValueError)
    with pytest.raises(InvalidNDCError, match="indicator"):
        gtin14_from_ndc(STRATTERA, indicator="10")


def test_every_real_ndc11_of_the_va_list_round_trips():
    """646 real NDC11s: each possible 10-digit form maps back, and biip accepts its GTIN."""
    path = shared_path("ndc", "va_hazardous_pharmaceuticals.csv")
    with path.open(encoding="utf-8", newline="") as file:
        ndc11s = [row["NDC Number"] for row in csv.DictReader(file)]
    assert len(ndc11s) == 646
    # Two rows are Ensure Plus under Abbott's UPC prefix, 11 digits that no NDC can give.
    not_ndcs = [ndc11 for ndc11 in ndc11s if not package_ndcs_from_ndc11(ndc11)]
    assert not_ndcs == ["70074407180", "70074606980"]
    for ndc11 in ndc11s:
        forms = package_ndcs_from_ndc11(ndc11)
        for form in forms:
            assert ndc11_from_package_ndc(form) == ndc11
            gtin = gtin14_from_ndc(form)
            assert Gtin.parse(gtin).as_gtin_14() == gtin  # an independent check-digit check
            assert ndc10_from_gtin(gtin) == ndc10_digits(form)
            assert ndc10_from_upc(upc_from_ndc(form)) == ndc10_digits(form)


def test_every_real_ndc_of_the_lilly_packages_converts():
    """100 real package NDCs: digits + layout give the NDC printed in the description."""
    path = shared_path("ndc", "fda_finished_lilly_joined.csv")
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 100
    for row in rows:
        package_ndc = package_ndc_from_digits(row["NDC"], row["FORMAT"])
        assert f"({package_ndc})" in row["PACKAGEDESCRIPTION"]
        assert package_ndc_layout(package_ndc) == row["FORMAT"]


def test_every_product_ndc_of_pillbox_is_valid():
    path = shared_path("ndc", "nlm_pillbox_ingredients_subset.csv")
    with path.open(encoding="utf-8", newline="") as file:
        codes = {row["product_code"] for row in csv.DictReader(file)}
    assert len(codes) > 1000
    assert all(is_product_ndc(code) for code in codes)
