"""Business writes of the inventory app: the catalogue import and the storage flag.

``import_ndc_directory`` reads the FDA NDC Directory text files (``product.txt`` and
``package.txt``, finished or unfinished layout) and brings the catalogue up to date with
them. Rows are parsed and checked in Python, outside any transaction; then, in one
transaction, they are COPYed into temporary tables and merged into the catalogue with
``INSERT ... ON CONFLICT``. Re-importing the same files changes nothing; a changed row
is updated in place; nothing is ever deleted from the catalogue (stock and fills point
at packages the FDA may since have delisted), and the staff-set ``Product.storage`` is
never written by an import.
"""

import functools
import io
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from inventory.ingredients import normalize_ingredient_name
from inventory.models import (
    DEASchedule,
    Ingredient,
    Package,
    PharmacologicClass,
    Product,
    ProductIngredient,
    Storage,
)
from inventory.ndc import InvalidNDCError, split_package_ndc, validate_product_ndc

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

PRODUCT_FILE = "product.txt"
PACKAGE_FILE = "package.txt"
PROGRESS_EVERY = 50_000

# Columns without which a file is not an NDC Directory file at all. Every other column
# is optional and read by name, so both layouts (and a reordered file) are accepted.
PRODUCT_REQUIRED = ("PRODUCTNDC", "PRODUCTTYPENAME", "NONPROPRIETARYNAME", "SUBSTANCENAME")
PACKAGE_REQUIRED = ("PRODUCTNDC", "NDCPACKAGECODE", "PACKAGEDESCRIPTION")
# Only the finished-drug product file has brand names; the unfinished (bulk) one does not.
FINISHED_MARKER = "PROPRIETARYNAME"

DEA_SCHEDULES = {choice.value for choice in DEASchedule if choice.value}
# `Name [EPC]`, `Name [MoA]`, ... separated by commas; a name may itself hold a comma.
_PHARM_CLASS = re.compile(r"\s*,?\s*([^\[\]]+?)\s*\[([^\[\]]+)\]")
_SEGMENT = re.compile(
    r"^\s*(\d*\.?\d+)\s+(.+?)\s+in\s+(\d*\.?\d+)\s+(.+?)\s*(?:\([^()]*\))?\s*$", re.IGNORECASE
)
_MAX_QUANTITY = Decimal("1e10")  # Package.quantity holds 14 digits, 4 after the point


class NDCImportError(Exception):
    """The import could not start: a file is missing, unreadable or not in NDC layout."""


@dataclass(frozen=True)
class ImportProblem:
    """One row the import skipped or could only partly use, and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did: counts of rows read and written, and every problem by line.

    A product or package is "updated" when one of its own columns changed, "unchanged"
    when the file says what the catalogue already holds (its row is then not rewritten).
    Ingredients, strengths and classes are brought up to date either way.
    """

    layout: str = ""  # "finished" or "unfinished", from product.txt's header
    product_rows: int = 0
    package_rows: int = 0
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    packages_created: int = 0
    packages_updated: int = 0
    packages_unchanged: int = 0
    ingredients_created: int = 0
    classes_created: int = 0
    packages_without_quantity: int = 0
    seconds: float = 0.0
    problems: list[ImportProblem] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.layout} layout, {self.product_rows} product rows and {self.package_rows} "
            f"package rows in {self.seconds:.1f} s. Products: {self.products_created} "
            f"created, {self.products_updated} updated, {self.products_unchanged} unchanged. "
            f"Packages: {self.packages_created} created, {self.packages_updated} updated, "
            f"{self.packages_unchanged} unchanged. {self.ingredients_created} new ingredients, "
            f"{self.classes_created} new pharmacologic classes. {len(self.problems)} problems."
        )


# --------------------------------------------------------------------------- parsing


def parse_package_description(description: str) -> tuple[Decimal | None, str]:
    """Dispensing units in one package and their unit, from PACKAGEDESCRIPTION.

    ``30 TABLET, FILM COATED in 1 BOTTLE (0002-3227-30)`` is 30 TABLET, FILM COATED;
    ``1 VIAL in 1 CARTON (0002-0800-01)  > 10 mL in 1 VIAL`` is 10 mL; each ``>`` level
    multiplies, down to the innermost unit (``2 BLISTER PACK in 1 CARTON > 15 TABLET in
    1 BLISTER PACK`` is 30 TABLET). A kit (parts joined by ``*``) counts its outer level
    only (1 KIT). ``(None, "")`` when the description does not follow the FDA's pattern.
    """
    outer = description.split("*")[0]
    quantity = Decimal(1)
    unit = ""
    for segment in outer.split(">"):
        match = _SEGMENT.match(segment)
        if not match:
            return None, ""
        count, unit, per, _container = match.groups()
        if Decimal(per) == 0:
            return None, ""
        quantity = quantity * Decimal(count) / Decimal(per)
    if not unit or quantity <= 0 or quantity >= _MAX_QUANTITY:
        return None, ""
    return quantity.quantize(Decimal("0.0001")).normalize(), unit


def parse_pharm_classes(text: str) -> list[tuple[str, str]]:
    """``(name, kind)`` pairs of PHARM_CLASSES (`Name [EPC],Name [MoA]`); unknown kinds blank."""
    kinds = {choice.value for choice in PharmacologicClass.Kind}
    pairs = []
    for name, kind in _PHARM_CLASS.findall(text or ""):
        name = " ".join(name.split())
        if name:
            pairs.append((name, kind if kind in kinds else PharmacologicClass.Kind.OTHER))
    return list(dict.fromkeys(pairs))


def _parse_date(value: str) -> date:
    if not (len(value) == 8 and value.isdigit()):
        raise ValueError(value)
    return date(int(value[:4]), int(value[4:6]), int(value[6:]))


def _clean(value: str) -> str:
    return " ".join(value.split())


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


_INGREDIENT_NAME_MAX = _max_length(Ingredient, "name")
_NORMALIZED_NAME_MAX = _max_length(Ingredient, "normalized_name")
_STRENGTH_MAX = _max_length(ProductIngredient, "strength")
_CLASS_NAME_MAX = _max_length(PharmacologicClass, "name")
# The same few thousand substance names recur across the directory's products.
_normalized_ingredient_name = functools.lru_cache(maxsize=100_000)(normalize_ingredient_name)


@dataclass
class _ProductRow:
    line: int
    values: dict
    ingredients: list[tuple[str, str, str, str]]  # normalized, name, strength, unit
    classes: list[tuple[str, str]]


@dataclass
class _PackageRow:
    line: int
    values: dict


class _Table:
    """The rows of one NDC Directory file, by line number, with its header's columns."""

    def __init__(
        self,
        path: Path,
        required: tuple[str, ...],
        problems: list[ImportProblem],
        progress: Progress,
    ):
        self.path = path
        self.name = path.name
        self.problems = problems
        self.progress = progress
        self.data_rows = 0
        try:
            self.file = path.open("rb")
        except FileNotFoundError:
            raise NDCImportError(f"{path} does not exist.") from None
        except IsADirectoryError:
            raise NDCImportError(f"{path} is a directory, not a file.") from None
        except OSError as error:
            raise NDCImportError(f"{path} cannot be read: {error.strerror}.") from None
        header = self._header()
        missing = [column for column in required if column not in header]
        if missing:
            self.file.close()
            raise NDCImportError(
                f"{path} is not an FDA NDC Directory {self.name}: its header row lacks "
                f"{', '.join(missing)}."
            )
        self.columns = {column: index for index, column in enumerate(header)}
        self.width = len(header)

    def _header(self) -> list[str]:
        try:
            raw = self.file.readline()
        except OSError as error:
            raise NDCImportError(f"{self.path} cannot be read: {error.strerror}.") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = ""
        if "\t" not in text:
            self.file.close()
            raise NDCImportError(
                f"{self.path} does not start with the tab-separated header row of an FDA NDC "
                "Directory file."
            )
        return [column.strip().upper() for column in text.rstrip("\r\n").split("\t")]

    def problem(self, line: int, reason: str) -> None:
        self.problems.append(ImportProblem(self.name, line, reason))

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of every well-formed row; bad rows become problems.

        ``self.data_rows`` counts every non-blank row after the header, good or bad.
        """
        with self.file:
            for line, raw in enumerate(self.file, start=2):
                if not raw.strip():
                    continue
                self.data_rows += 1
                if self.data_rows % PROGRESS_EVERY == 0:
                    self.progress(f"{self.name}: {self.data_rows:,} rows read")
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    self.problem(
                        line,
                        f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at position "
                        f"{error.start + 1}); row skipped.",
                    )
                    continue
                text = text.rstrip("\r\n")
                fields = text.split("\t")
                if len(fields) != self.width:
                    self.problem(
                        line,
                        f"has {len(fields)} columns where the header has {self.width}; "
                        "row skipped.",
                    )
                    continue
                yield line, fields

    def getter(self, column: str) -> Callable[[list[str]], str]:
        index = self.columns.get(column)
        if index is None:
            return lambda fields: ""
        return lambda fields: fields[index].strip()


_PRODUCT_TEXT_COLUMNS = {
    "fda_product_id": "PRODUCTID",
    "product_type": "PRODUCTTYPENAME",
    "proprietary_name": "PROPRIETARYNAME",
    "proprietary_name_suffix": "PROPRIETARYNAMESUFFIX",
    "nonproprietary_name": "NONPROPRIETARYNAME",
    "dosage_form": "DOSAGEFORMNAME",
    "route": "ROUTENAME",
    "marketing_category": "MARKETINGCATEGORYNAME",
    "application_number": "APPLICATIONNUMBER",
    "labeler_name": "LABELERNAME",
}
PRODUCT_COLUMNS = [
    "product_ndc",
    *_PRODUCT_TEXT_COLUMNS,
    "marketing_start",
    "marketing_end",
    "dea_schedule",
    "is_finished",
]
PACKAGE_COLUMNS = [
    "product_ndc",
    "package_ndc",
    "ndc10",
    "ndc11",
    "description",
    "quantity",
    "unit",
    "marketing_start",
    "marketing_end",
    "is_sample",
]


def _date_getters(table: _Table) -> list[tuple[str, str, Callable[[list[str]], str]]]:
    return [
        (key, column, table.getter(column))
        for key, column in (
            ("marketing_start", "STARTMARKETINGDATE"),
            ("marketing_end", "ENDMARKETINGDATE"),
        )
    ]


def _dates(table: _Table, line: int, fields: list[str], values: dict, getters: list) -> None:
    for key, column, getter in getters:
        text = getter(fields)
        values[key] = None
        if text:
            try:
                values[key] = _parse_date(text)
            except ValueError:
                table.problem(line, f"{column} {text!r} is not a date as YYYYMMDD; left blank.")


def _ingredients(table: _Table, line: int, fields: list[str]) -> list[tuple[str, str, str, str]]:
    names = [_clean(name) for name in table.getter("SUBSTANCENAME")(fields).split(";")]
    names = [name for name in names if name]
    strengths = [s.strip() for s in table.getter("ACTIVE_NUMERATOR_STRENGTH")(fields).split(";")]
    units = [u.strip() for u in table.getter("ACTIVE_INGRED_UNIT")(fields).split(";")]
    if not names:
        return []
    if len(strengths) != len(names) or len(units) != len(names):
        table.problem(
            line,
            f"SUBSTANCENAME lists {len(names)} ingredients but ACTIVE_NUMERATOR_STRENGTH has "
            f"{len(strengths)} values and ACTIVE_INGRED_UNIT {len(units)}; ingredients "
            "imported without strengths.",
        )
        strengths = units = [""] * len(names)
    # Two salts of one moiety (Adderall's amphetamine aspartate and sulfate) are one
    # ingredient of the product, with both strengths kept side by side.
    merged: dict[str, list] = {}
    for name, strength, unit in zip(names, strengths, units, strict=True):
        key = _normalized_ingredient_name(name)
        if key in merged:
            entry = merged[key]
            entry[2] = f"{entry[2]} + {strength}" if strength else entry[2]
            if unit and unit != entry[3]:
                entry[3] = f"{entry[3]} + {unit}"
        else:
            merged[key] = [key, _display_name(key), strength, unit]
    return [
        (
            key[:_NORMALIZED_NAME_MAX],
            display,
            strength[:_STRENGTH_MAX],
            unit[:_STRENGTH_MAX],
        )
        for key, display, strength, unit in merged.values()
    ]


def _display_name(normalized: str) -> str:
    """Warfarin for WARFARIN: capitalised words, apostrophes kept (St. John's Wort)."""
    words = (word[:1].upper() + word[1:].lower() for word in normalized.split(" "))
    return " ".join(words)[:_INGREDIENT_NAME_MAX]


def _read_products(
    path: Path, report: ImportReport, progress: Progress
) -> tuple[dict[str, _ProductRow], bool]:
    table = _Table(path, PRODUCT_REQUIRED, report.problems, progress)
    is_finished = FINISHED_MARKER in table.columns
    report.layout = "finished" if is_finished else "unfinished"
    has_classes = "PHARM_CLASSES" in table.columns
    product_ndc_of_row = table.getter("PRODUCTNDC")
    dea_of_row = table.getter("DEASCHEDULE")
    classes_of_row = table.getter("PHARM_CLASSES")
    text_getters = {key: table.getter(column) for key, column in _PRODUCT_TEXT_COLUMNS.items()}
    limits = {key: _max_length(Product, key) for key in _PRODUCT_TEXT_COLUMNS}
    date_getters = _date_getters(table)
    products: dict[str, _ProductRow] = {}
    for line, fields in table.rows():
        try:
            product_ndc = validate_product_ndc(product_ndc_of_row(fields))
        except InvalidNDCError as error:
            table.problem(line, f"PRODUCTNDC: {error} Row skipped.")
            continue
        dea = dea_of_row(fields).upper().replace("-", "").replace(" ", "")
        if dea and dea not in DEA_SCHEDULES:
            # Safety first: a product whose schedule cannot be read is left out rather
            # than imported as not controlled (DESIGN.md section 7).
            table.problem(
                line,
                f"DEASCHEDULE {dea_of_row(fields)!r} is not a DEA schedule (CI, CII, CIII, CIV, "
                f"CV or blank); product {product_ndc} skipped.",
            )
            continue
        values = {"product_ndc": product_ndc}
        for key, getter in text_getters.items():
            text = _clean(getter(fields))
            if len(text) > limits[key]:
                table.problem(
                    line,
                    f"{_PRODUCT_TEXT_COLUMNS[key]} is longer than {limits[key]} characters; "
                    "stored cut short.",
                )
                text = text[: limits[key]]
            values[key] = text
        _dates(table, line, fields, values, date_getters)
        values["dea_schedule"] = dea
        values["is_finished"] = is_finished
        row = _ProductRow(
            line=line,
            values=values,
            ingredients=_ingredients(table, line, fields),
            classes=parse_pharm_classes(classes_of_row(fields)) if has_classes else [],
        )
        if product_ndc in products:
            table.problem(
                line,
                f"product NDC {product_ndc} is also on line {products[product_ndc].line}; "
                "this row replaces it.",
            )
        products[product_ndc] = row
    report.product_rows = table.data_rows
    progress(f"{table.name}: {report.product_rows:,} rows read, {len(products):,} products")
    return products, has_classes


def _read_packages(path: Path, report: ImportReport, progress: Progress) -> dict[str, _PackageRow]:
    table = _Table(path, PACKAGE_REQUIRED, report.problems, progress)
    product_ndc_of_row = table.getter("PRODUCTNDC")
    package_ndc_of_row = table.getter("NDCPACKAGECODE")
    description_of_row = table.getter("PACKAGEDESCRIPTION")
    sample_of_row = table.getter("SAMPLE_PACKAGE")
    date_getters = _date_getters(table)
    unit_max = _max_length(Package, "unit")
    packages: dict[str, _PackageRow] = {}
    by_digits: dict[str, str] = {}
    for line, fields in table.rows():
        try:
            labeler, product, package = split_package_ndc(package_ndc_of_row(fields))
        except InvalidNDCError as error:
            table.problem(line, f"NDCPACKAGECODE: {error} Row skipped.")
            continue
        package_ndc = f"{labeler}-{product}-{package}"
        product_ndc = product_ndc_of_row(fields)
        if product_ndc != f"{labeler}-{product}":
            table.problem(
                line,
                f"package NDC {package_ndc} does not belong to PRODUCTNDC {product_ndc!r}; "
                "row skipped.",
            )
            continue
        ndc10 = labeler + product + package
        ndc11 = labeler.zfill(5) + product.zfill(4) + package.zfill(2)
        earlier = by_digits.get(ndc10) or by_digits.get(ndc11)
        if earlier and earlier != package_ndc:
            table.problem(
                line,
                f"package NDC {package_ndc} has the same digits as {earlier} on line "
                f"{packages[earlier].line}; row skipped.",
            )
            continue
        description = _clean(description_of_row(fields))
        quantity, unit = parse_package_description(description)
        if quantity is None:
            report.packages_without_quantity += 1
        values = {
            "product_ndc": product_ndc,
            "package_ndc": package_ndc,
            "ndc10": ndc10,
            "ndc11": ndc11,
            "description": description,
            "quantity": quantity,
            "unit": unit[:unit_max],
            "is_sample": sample_of_row(fields).upper() == "Y",
        }
        _dates(table, line, fields, values, date_getters)
        if package_ndc in packages:
            table.problem(
                line,
                f"package NDC {package_ndc} is also on line {packages[package_ndc].line}; this "
                "row replaces it.",
            )
        packages[package_ndc] = _PackageRow(line=line, values=values)
        by_digits[ndc10] = by_digits[ndc11] = package_ndc
    report.package_rows = table.data_rows
    progress(f"{table.name}: {report.package_rows:,} rows read, {len(packages):,} packages")
    return packages


# --------------------------------------------------------------------------- writing


def _copy_value(value) -> str:
    """One value in COPY's text format. Strings arrive without tabs or line breaks (rows
    are split on them and whitespace is collapsed), so only backslashes need escaping."""
    if type(value) is str:
        return value.replace("\\", "\\\\") if "\\" in value else value
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


def _copy(cursor, table: str, columns: list[str], rows: Iterator[tuple]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(map(_copy_value, row)))
        buffer.write("\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
    cursor.execute(f"ANALYZE {table}")


def _temp_table(cursor, name: str, columns: str) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ({columns}) ON COMMIT DROP")


def _upsert_counts(cursor, sql: str, params=()) -> tuple[int, int]:
    """(created, updated) of an INSERT ... ON CONFLICT DO UPDATE ... RETURNING xmax."""
    cursor.execute(
        f"WITH written AS ({sql} RETURNING (xmax = 0) AS created) "
        "SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) "
        "FROM written",
        params,
    )
    created, updated = cursor.fetchone()
    return created, updated


def _distinct(target: str, columns: list[str]) -> str:
    """SQL condition: the existing row differs from the incoming one in any column."""
    existing = ", ".join(f"{target}.{column}" for column in columns)
    incoming = ", ".join(f"EXCLUDED.{column}" for column in columns)
    return f"({existing}) IS DISTINCT FROM ({incoming})"


_PRODUCT_TABLE = Product._meta.db_table
_PACKAGE_TABLE = Package._meta.db_table
_INGREDIENT_TABLE = Ingredient._meta.db_table
_STRENGTH_TABLE = ProductIngredient._meta.db_table
_CLASS_TABLE = PharmacologicClass._meta.db_table
_CLASSES_FIELD = Product._meta.get_field("pharmacologic_classes")
_PRODUCT_CLASS_TABLE = _CLASSES_FIELD.remote_field.through._meta.db_table
_PRODUCT_CLASS_PRODUCT = _CLASSES_FIELD.m2m_column_name()
_PRODUCT_CLASS_CLASS = _CLASSES_FIELD.m2m_reverse_name()
_TEMPORARY_TABLES = (
    "ndc_import_product",
    "ndc_import_ingredient",
    "ndc_import_class",
    "ndc_import_package",
)


def _write_products(cursor, products: dict[str, _ProductRow], report: ImportReport) -> None:
    _temp_table(
        cursor,
        "ndc_import_product",
        "line integer, product_ndc text, "
        + ", ".join(f"{key} text" for key in _PRODUCT_TEXT_COLUMNS)
        + ", marketing_start date, marketing_end date, dea_schedule text, is_finished boolean",
    )
    _copy(
        cursor,
        "ndc_import_product",
        ["line", *PRODUCT_COLUMNS],
        ((row.line, *(row.values[key] for key in PRODUCT_COLUMNS)) for row in products.values()),
    )
    updatable = [column for column in PRODUCT_COLUMNS if column != "product_ndc"]
    # storage is set on insert only: it belongs to the staff once the product exists.
    report.products_created, report.products_updated = _upsert_counts(
        cursor,
        f"INSERT INTO {_PRODUCT_TABLE} AS p ({', '.join(PRODUCT_COLUMNS)}, storage, updated_at) "
        f"SELECT {', '.join(PRODUCT_COLUMNS)}, %s, now() FROM ndc_import_product "
        "ON CONFLICT (product_ndc) DO UPDATE SET "
        + ", ".join(f"{column} = EXCLUDED.{column}" for column in updatable)
        + ", updated_at = EXCLUDED.updated_at "
        f"WHERE {_distinct('p', updatable)}",
        [Storage.ROOM_TEMPERATURE],
    )
    report.products_unchanged = len(products) - report.products_created - report.products_updated


def _write_strengths(cursor, products: dict[str, _ProductRow], report: ImportReport) -> None:
    _temp_table(
        cursor,
        "ndc_import_ingredient",
        "product_ndc text, normalized_name text, name text, strength text, strength_unit text",
    )
    _copy(
        cursor,
        "ndc_import_ingredient",
        ["product_ndc", "normalized_name", "name", "strength", "strength_unit"],
        (
            (product_ndc, *ingredient)
            for product_ndc, row in products.items()
            for ingredient in row.ingredients
        ),
    )
    cursor.execute(
        f"INSERT INTO {_INGREDIENT_TABLE} (name, normalized_name) "
        "SELECT DISTINCT ON (normalized_name) name, normalized_name "
        "FROM ndc_import_ingredient ORDER BY normalized_name, name "
        "ON CONFLICT (normalized_name) DO NOTHING"
    )
    report.ingredients_created = cursor.rowcount
    cursor.execute(
        f"INSERT INTO {_STRENGTH_TABLE} AS pi (product_id, ingredient_id, strength, "
        "strength_unit) "
        "SELECT p.id, i.id, s.strength, s.strength_unit FROM ndc_import_ingredient s "
        f"JOIN {_PRODUCT_TABLE} p ON p.product_ndc = s.product_ndc "
        f"JOIN {_INGREDIENT_TABLE} i ON i.normalized_name = s.normalized_name "
        "ON CONFLICT (product_id, ingredient_id) DO UPDATE SET "
        "strength = EXCLUDED.strength, strength_unit = EXCLUDED.strength_unit "
        f"WHERE {_distinct('pi', ['strength', 'strength_unit'])}"
    )
    # An ingredient the file no longer lists for a product is no longer its ingredient
    # (the Ingredient itself stays: other products and allergy records may name it).
    cursor.execute(
        f"DELETE FROM {_STRENGTH_TABLE} pi USING {_PRODUCT_TABLE} p, ndc_import_product t "
        "WHERE pi.product_id = p.id AND p.product_ndc = t.product_ndc AND NOT EXISTS ("
        f"SELECT 1 FROM ndc_import_ingredient s JOIN {_INGREDIENT_TABLE} i "
        "ON i.normalized_name = s.normalized_name "
        "WHERE s.product_ndc = t.product_ndc AND i.id = pi.ingredient_id)"
    )


def _write_classes(cursor, products: dict[str, _ProductRow], report: ImportReport) -> None:
    _temp_table(cursor, "ndc_import_class", "product_ndc text, name text, kind text")
    _copy(
        cursor,
        "ndc_import_class",
        ["product_ndc", "name", "kind"],
        (
            (product_ndc, name[:_CLASS_NAME_MAX], kind)
            for product_ndc, row in products.items()
            for name, kind in row.classes
        ),
    )
    cursor.execute(
        f"INSERT INTO {_CLASS_TABLE} (name, kind) "
        "SELECT DISTINCT name, kind FROM ndc_import_class "
        "ON CONFLICT (name, kind) DO NOTHING"
    )
    report.classes_created = cursor.rowcount
    cursor.execute(
        f"INSERT INTO {_PRODUCT_CLASS_TABLE} ({_PRODUCT_CLASS_PRODUCT}, {_PRODUCT_CLASS_CLASS}) "
        "SELECT DISTINCT p.id, c.id FROM ndc_import_class s "
        f"JOIN {_PRODUCT_TABLE} p ON p.product_ndc = s.product_ndc "
        f"JOIN {_CLASS_TABLE} c ON c.name = s.name AND c.kind = s.kind "
        "ON CONFLICT DO NOTHING"
    )
    cursor.execute(
        f"DELETE FROM {_PRODUCT_CLASS_TABLE} pc USING {_PRODUCT_TABLE} p, ndc_import_product t "
        f"WHERE pc.{_PRODUCT_CLASS_PRODUCT} = p.id AND p.product_ndc = t.product_ndc "
        f"AND NOT EXISTS (SELECT 1 FROM ndc_import_class s JOIN {_CLASS_TABLE} c "
        "ON c.name = s.name AND c.kind = s.kind "
        f"WHERE s.product_ndc = t.product_ndc AND c.id = pc.{_PRODUCT_CLASS_CLASS})"
    )


def _skip_staged_packages(cursor, sql: str, reason: Callable[..., str], report) -> None:
    """Remove staged packages the query returns (line, ...) for, reporting each."""
    cursor.execute(sql)
    for line, *details in cursor.fetchall():
        report.problems.append(ImportProblem(PACKAGE_FILE, line, reason(*details)))


def _write_packages(cursor, packages: dict[str, _PackageRow], report: ImportReport) -> None:
    _temp_table(
        cursor,
        "ndc_import_package",
        "line integer, product_ndc text, package_ndc text, ndc10 text, ndc11 text, "
        "description text, quantity numeric, unit text, marketing_start date, "
        "marketing_end date, is_sample boolean",
    )
    _copy(
        cursor,
        "ndc_import_package",
        ["line", *PACKAGE_COLUMNS],
        ((row.line, *(row.values[key] for key in PACKAGE_COLUMNS)) for row in packages.values()),
    )
    _skip_staged_packages(
        cursor,
        "DELETE FROM ndc_import_package t WHERE NOT EXISTS ("
        f"SELECT 1 FROM {_PRODUCT_TABLE} p WHERE p.product_ndc = t.product_ndc) "
        "RETURNING t.line, t.package_ndc, t.product_ndc",
        lambda package_ndc, product_ndc: (
            f"package {package_ndc}: its product {product_ndc} is neither in {PRODUCT_FILE} "
            "(or its row there was skipped) nor in the catalogue; package skipped."
        ),
        report,
    )
    # Two packages with the same digits in different layouts cannot both be catalogued
    # (NDC10 and NDC11 are unique); the one already there stays. Two statements rather
    # than one with OR, so that each is a hash join.
    for column in ("ndc10", "ndc11"):
        _skip_staged_packages(
            cursor,
            f"DELETE FROM ndc_import_package t USING {_PACKAGE_TABLE} k "
            f"WHERE k.{column} = t.{column} AND k.package_ndc <> t.package_ndc "
            "RETURNING t.line, t.package_ndc, k.package_ndc",
            lambda package_ndc, existing: (
                f"package {package_ndc} has the same digits as {existing}, already in the "
                "catalogue; package skipped."
            ),
            report,
        )
    columns = PACKAGE_COLUMNS[1:]  # product_ndc becomes product_id
    updatable = ["product_id", *(column for column in columns if column != "package_ndc")]
    report.packages_created, report.packages_updated = _upsert_counts(
        cursor,
        f"INSERT INTO {_PACKAGE_TABLE} AS k (product_id, {', '.join(columns)}, updated_at) "
        f"SELECT p.id, {', '.join(f't.{column}' for column in columns)}, now() "
        f"FROM ndc_import_package t JOIN {_PRODUCT_TABLE} p ON p.product_ndc = t.product_ndc "
        "ON CONFLICT (package_ndc) DO UPDATE SET "
        + ", ".join(f"{column} = EXCLUDED.{column}" for column in updatable)
        + ", updated_at = EXCLUDED.updated_at "
        f"WHERE {_distinct('k', updatable)}",
    )
    cursor.execute("SELECT count(*) FROM ndc_import_package")
    (staged,) = cursor.fetchone()
    report.packages_unchanged = staged - report.packages_created - report.packages_updated


def _write(
    products: dict[str, _ProductRow],
    packages: dict[str, _PackageRow],
    *,
    sync_classes: bool,
    report: ImportReport,
    progress: Progress,
) -> None:
    """COPY the parsed rows into temporary tables and merge them into the catalogue."""
    with connection.cursor() as cursor:
        progress(f"Writing {len(products):,} products")
        _write_products(cursor, products, report)
        progress("Writing ingredients and strengths")
        _write_strengths(cursor, products, report)
        if sync_classes:  # the unfinished layout has no PHARM_CLASSES column
            progress("Writing pharmacologic classes")
            _write_classes(cursor, products, report)
        progress(f"Writing {len(packages):,} packages")
        _write_packages(cursor, packages, report)
        for name in _TEMPORARY_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


def import_ndc_directory(directory: Path, *, progress: Progress | None = None) -> ImportReport:
    """Bring the catalogue up to date with an FDA NDC Directory folder.

    Reads ``product.txt`` and ``package.txt`` (finished or unfinished layout, found by
    their header rows) and creates or updates products, their ingredients with strengths,
    pharmacologic classes and packages, in one transaction. Rows that cannot be used are
    skipped and listed in the report with file, line and reason; so are packages whose
    product is neither in the file nor in the catalogue. Idempotent: importing the same
    files again changes nothing. Never deletes a product or package (an ingredient or
    class the file no longer lists for a product is unlinked from it), and never writes
    ``Product.storage`` of an existing product.

    Raises NDCImportError, before writing anything, when the folder or a file is missing,
    unreadable, or not an NDC Directory file.
    """
    say = progress or (lambda message: None)
    started = time.monotonic()
    directory = Path(directory)
    if not directory.is_dir():
        raise NDCImportError(f"{directory} is not a folder.")
    report = ImportReport()
    say(f"Reading {directory / PRODUCT_FILE}")
    products, has_classes = _read_products(directory / PRODUCT_FILE, report, say)
    say(f"Reading {directory / PACKAGE_FILE}")
    packages = _read_packages(directory / PACKAGE_FILE, report, say)
    with transaction.atomic():
        _write(products, packages, sync_classes=has_classes, report=report, progress=say)
    report.problems.sort(key=lambda problem: (problem.file != PRODUCT_FILE, problem.line))
    report.seconds = time.monotonic() - started
    logger.info("NDC Directory import from %s: %s", directory, report.summary())
    return report


# --------------------------------------------------------------------------- storage


def set_product_storage(product: Product, *, storage: str, by) -> Product:
    """Record how a product must be stored (room temperature, refrigerated, frozen).

    Set by a pharmacist or manager (``inventory.change_product``); an NDC import never
    overwrites it. Raises PermissionDenied for anyone else and ValueError for an unknown
    storage value.
    """
    if not by.has_perm("inventory.change_product"):
        raise PermissionDenied("Only a pharmacist or a manager may change how a product is stored.")
    if storage not in Storage.values:
        raise ValueError(f"{storage!r} is not a storage condition.")
    if product.storage != storage:
        product.storage = storage
        product.save(update_fields=["storage", "updated_at"])
        logger.info("%s set storage of %s to %s", by, product.product_ndc, storage)
    return product
