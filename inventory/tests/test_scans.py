"""parse_scan on what a keyboard-wedge scanner types: DataMatrix, UPC-A, GTIN, typed NDCs.

Public GS1 vectors (shared/data/gs1/) check that anything that is not an NDC-based code is
refused with a ScanError and never crashes, and, rewritten with a real drug's GTIN, that
lot and expiry come out of every symbology's framing.
"""

import csv
from datetime import date

import pytest

from inventory.ndc import GROUP_SEPARATOR as GS
from inventory.ndc import Scan, ScanError, gtin14_from_ndc, parse_scan, upc_from_ndc
from inventory.tests.shared_data import shared_path

STRATTERA = "0002-3227-30"
STRATTERA_GTIN = "00300023227300"


def _unescape(text: str) -> str:
    return text.encode("ascii").decode("unicode_escape")


def _vectors(name: str) -> list[dict]:
    with shared_path("gs1", name).open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


# --------------------------------------------------------------------------- real NDCs


@pytest.mark.parametrize(
    "text",
    [
        f"]d201{STRATTERA_GTIN}17270200" + f"10A123B{GS}21SN0001",
        f"01{STRATTERA_GTIN}17270200" + f"10A123B{GS}21SN0001",
        f"01{STRATTERA_GTIN}21SN0001{GS}10A123B{GS}17270200",
        f"]d201{STRATTERA_GTIN}17270200" + f"10A123B{GS}21SN0001\r\n",
        f"(01){STRATTERA_GTIN}(17)270200(10)A123B(21)SN0001",
    ],
    ids=["]d2 prefix", "no prefix", "fields reordered", "scanner adds Enter", "typed HRI"],
)
def test_datamatrix_of_a_real_package(text):
    assert parse_scan(text) == Scan(
        kind="datamatrix",
        ndc10="0002322730",
        gtin=STRATTERA_GTIN,
        lot="A123B",
        expiry=date(2027, 2, 28),  # day 00 is the last day of the month
        serial="SN0001",
    )


def test_expiry_day_00_in_a_leap_year_and_an_exact_day():
    leap = parse_scan(f"]d201{gtin14_from_ndc('55977-601-50')}17280200")
    assert (leap.ndc10, leap.expiry, leap.lot, leap.serial) == (
        "5597760150",
        date(2028, 2, 29),
        "",
        "",
    )
    assert parse_scan(f"01{STRATTERA_GTIN}17261215").expiry == date(2026, 12, 15)


def test_lot_as_last_field_needs_no_separator():
    scan = parse_scan(f"]d201{STRATTERA_GTIN}1726123110LOT-77/B")
    assert (scan.lot, scan.expiry, scan.serial) == ("LOT-77/B", date(2026, 12, 31), "")


def test_case_gtin_with_indicator_names_the_same_ndc():
    case_gtin = gtin14_from_ndc(STRATTERA, indicator="5")
    assert parse_scan(f"]d201{case_gtin}10L1").ndc10 == "0002322730"


def test_upc_a_from_a_bottle():
    assert parse_scan(upc_from_ndc(STRATTERA)) == Scan(
        kind="upc", ndc10="0002322730", gtin=STRATTERA_GTIN
    )
    # Read with the EAN/UPC symbology identifier a configured scanner prefixes.
    assert parse_scan("]E00" + upc_from_ndc(STRATTERA)).ndc10 == "0002322730"


def test_plain_gtin_14():
    assert parse_scan(STRATTERA_GTIN) == Scan(kind="gtin", ndc10="0002322730", gtin=STRATTERA_GTIN)


def test_typed_ndcs():
    assert parse_scan(" 0002-3227-30 ") == Scan(
        kind="ndc", ndc10="0002322730", package_ndc=STRATTERA, ndc11="00002322730"
    )
    assert parse_scan("00002322730") == Scan(kind="ndc11", ndc11="00002322730")
    assert parse_scan("00002-3227-30") == Scan(kind="ndc11", ndc11="00002322730")
    assert parse_scan("29902-0021-1").ndc11 == "29902002101"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0002322730", "ambiguous"),
        ("0002-3227", "not a package NDC"),
        ("aspirin 81", "not a barcode we can read"),
        ("300023227301", "wrong check digit"),
        ("00300023227301", "wrong check digit"),
        (f"]d201{STRATTERA_GTIN[:-1]}7" + "10LOT", "check digit"),
        ("036000291452", "starts with 3"),
        ("]d20100614141123452", "not an NDC-based"),
        (f"]d201{STRATTERA_GTIN}17271300", "not a barcode we can read"),  # month 13
        ("]d210LOTONLY", "carries no GTIN"),
        ("]d1PLAIN TEXT", "not a barcode we can read"),
        ("(01)003000232273", "not a barcode we can read"),
        ("123456789012345678901", "not a barcode we can read"),
        ("39127101230", "not an 11-digit NDC"),
        ("]", "not a barcode we can read"),
    ],
)
def test_garbage_is_refused_in_plain_words(text, message):
    with pytest.raises(ScanError, match=message):
        parse_scan(text)


# --------------------------------------------------------------------------- public vectors


def test_biip_vectors_are_refused_unless_they_have_the_shape_of_a_drug_code():
    """Of biip's 144 payloads only three look like drug codes; the rest are refused."""
    vectors = _vectors("biip_test_vectors.tsv")
    assert len(vectors) == 144
    accepted = {}
    refusals = []
    for vector in vectors:
        payload = _unescape(vector["payload_escaped"])
        try:
            scan = parse_scan(payload)
        except ScanError as refused:
            refusals.append(str(refused))
        else:
            accepted[payload] = (scan.kind, scan.ndc)
    # 11 digits with a padding zero are a typed NDC11 by the API contract, and a valid
    # UPC-A that starts with 3 is in GS1's drug number system.
    assert accepted == {
        "00600029145": ("ndc11", "00600029145"),
        "00090291451": ("ndc11", "00090291451"),
        "391097812301": ("upc", "9109781230"),
    }
    # Each refusal is a sentence, and valid GTINs of other trades are told apart from
    # unreadable text.
    assert len(refusals) == 141
    assert all(refusal.endswith(".") for refusal in refusals)
    assert sum("not an NDC-based" in refusal for refusal in refusals) == 57


def test_every_gs1_engine_vector_without_a_drug_gtin_is_refused():
    vectors = _vectors("gs1_barcode_engine_process_scandata_vectors.tsv")
    vectors += [
        {"should_succeed": "true", "scan_data_escaped": row["expected_scan_data_escaped"]}
        for row in _vectors("gs1_barcode_engine_generate_scandata_vectors.tsv")
    ]
    assert len(vectors) == 65
    for vector in vectors:
        with pytest.raises(ScanError):
            parse_scan(_unescape(vector["scan_data_escaped"]))


def _with_drug_gtin(scan_data: str, ai_data: str) -> tuple[str, str] | None:
    """The vector with its GTIN swapped for Strattera's, and the lot it carries."""
    if "|" in ai_data:  # composite codes: the linear part is not a GS1 message
        return None
    first = ai_data.split("^")[1] if ai_data.startswith("^01") else ""
    if len(first) < 16 or first[:2] != "01":
        return None
    gtin = first[2:16]
    lot = first[18:] if first[16:18] == "10" else ""
    return scan_data.replace(gtin, STRATTERA_GTIN, 1), lot


def test_gs1_engine_vectors_rewritten_with_a_drug_gtin_give_ndc_and_lot():
    """Every GS1 framing the engine's vectors use (]d2, ]Q3, ]e0, ]C1) reaches the NDC."""
    rows = [
        (row["scan_data_escaped"], row["expected_ai_data_caret_fnc1"])
        for row in _vectors("gs1_barcode_engine_process_scandata_vectors.tsv")
        if row["should_succeed"] == "true"
    ]
    rows += [
        (row["expected_scan_data_escaped"], row["input_ai_data_caret_fnc1"])
        for row in _vectors("gs1_barcode_engine_generate_scandata_vectors.tsv")
    ]
    checked = set()
    for scan_data, ai_data in rows:
        rewritten = _with_drug_gtin(_unescape(scan_data), ai_data)
        if rewritten is None:
            continue
        text, lot = rewritten
        scan = parse_scan(text)
        assert (scan.ndc10, scan.gtin, scan.lot) == ("0002322730", STRATTERA_GTIN, lot), text
        checked.add(text[:3])
    assert checked == {"]d2", "]Q3", "]e0", "]C1"}
