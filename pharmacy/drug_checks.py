"""The database side of the drug checks: building ``pharmacy.dur`` inputs from the models,
the process-wide interaction index, and the import of interaction reference lists.

``pharmacy.dur`` holds the checks themselves and never queries; this module does the
queries, once per prescription (profiles, allergies) or once per change of the reference
data (the index).

Interaction files ``import_interactions`` reads, told apart by their header row:

* the NDF-RT and ONC lists of the public PDDI data set (tab-separated, the same 27
  columns in each; ``object``, ``precipitant``, ``severity`` and ``source`` matter, an empty
  value is the string ``None``). Which list a row belongs to is its ``source`` value:
  ``NDF-RT`` (severity ``Critical`` or ``Significant``), ``ONC-HighPriority`` or
  ``ONC-NonInteruptive`` (sic);
* a plain CSV ``ingredient_a,ingredient_b,severity,description`` with severities named as
  in ``pharmacy.dur.Severity``. The pharmacy's own curated list
  (``pharmacy/data/curated_interactions.csv``) has this layout and is recorded as source
  ``curated``; any other CSV as ``csv``.

How source severities map onto ours is documented on ``pharmacy.dur.Severity``.
"""

import csv
import io
import threading
import time
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef
from django.utils import timezone

from inventory.models import PharmacologicClass, Product, ProductIngredient
from pharmacy.dur import (
    SEVERITY_RANK,
    AllergyProfile,
    DrugProfile,
    InteractionIndex,
    InteractionPair,
    Severity,
    ingredient_key,
)
from pharmacy.models import Allergy, DrugInteraction, Patient

Source = DrugInteraction.Source

CURATED_INTERACTIONS_PATH = Path(__file__).resolve().parent / "data" / "curated_interactions.csv"

# --------------------------------------------------------------------------- engine inputs


def drug_profile_for_product(product: Product) -> DrugProfile:
    """What the checks know about a catalogue product: its ingredients, its
    pharmacologic classes and its DEA schedule. Two queries, none when the product was
    fetched with ``prefetch_related("ingredients", "pharmacologic_classes")``."""
    return DrugProfile.build(
        product.display_name,
        ingredients=[ingredient.normalized_name for ingredient in product.ingredients.all()],
        classes=[
            str(pharmacologic_class) for pharmacologic_class in product.pharmacologic_classes.all()
        ],
        dea_schedule=product.dea_schedule,
    )


# How long a process trusts the ingredients and classes it read for a product (as for the
# interaction index below): intake reads them for each prescription and each of the
# patient's current medications, and a catalogue change reaches every process within this.
PROFILE_RECHECK_SECONDS = 2.0


@dataclass(frozen=True)
class _CachedComposition:
    # A profile without name or schedule: its ingredient and class keys, normalised once.
    keys: DrugProfile
    checked_at: float


# Product id -> composition; an entry is replaced whole, never changed in place.
_cached_compositions: dict[int, _CachedComposition] = {}


def cached_drug_profile(
    product: Product, *, max_age: float = PROFILE_RECHECK_SECONDS
) -> DrugProfile:
    """``drug_profile_for_product`` with the product's ingredients and classes remembered
    by this process for ``max_age`` seconds. The name and the DEA schedule are always
    those of the ``product`` row given. No query when the composition was read less than
    ``max_age`` seconds ago, else two."""
    now = time.monotonic()
    cached = _cached_compositions.get(product.pk)
    if cached is None or now - cached.checked_at >= max_age:
        cached = _CachedComposition(
            keys=DrugProfile.build(
                "",
                ingredients=ProductIngredient.objects.filter(product_id=product.pk)
                .order_by()
                .values_list("ingredient__normalized_name", flat=True),
                classes=[
                    str(pharmacologic_class)
                    for pharmacologic_class in PharmacologicClass.objects.filter(
                        products__pk=product.pk
                    ).order_by()
                ],
            ),
            checked_at=now,
        )
        _cached_compositions[product.pk] = cached
    return replace(cached.keys, name=product.display_name, dea_schedule=product.dea_schedule or "")


# Classes an allergy to one ingredient extends to (cross-sensitivity): what the ingredient
# is (EPC) and its chemical structure (CS). Mechanism and effect classes are too broad.
_CROSS_SENSITIVITY_KINDS = (PharmacologicClass.Kind.ESTABLISHED, PharmacologicClass.Kind.CHEMICAL)


@cache
def _allergy_rows():
    """Every allergy as the checks read it, in ``Allergy.Meta.ordering``: built once per
    process and filtered per patient (each filter is a copy), because resolving its
    joins on every prescription cost more than running it."""
    return Allergy.objects.values_list(
        "allergen",
        "ingredient_id",
        "ingredient__normalized_name",
        "pharmacologic_class__name",
        "pharmacologic_class__kind",
        "severity",
        "reaction",
    )


def allergy_profiles_for_patient(patient: Patient) -> tuple[AllergyProfile, ...] | None:
    """The patient's allergies as the checks see them, or ``None`` when the patient's
    allergies were never recorded (no allergy and "no known allergies" not ticked), which
    ``dur.check_allergies`` reports rather than taking for "no allergies". One query, two
    when an allergy is to an ingredient."""
    allergies = list(_allergy_rows().filter(patient_id=patient.pk))
    if not allergies:
        return () if patient.no_known_allergies else None
    related = _classes_of_ingredients({row[1] for row in allergies if row[1]})
    profiles = []
    for (
        allergen,
        ingredient_id,
        ingredient,
        class_name,
        class_kind,
        severity,
        reaction,
    ) in allergies:
        profiles.append(
            AllergyProfile.build(
                allergen,
                ingredient=ingredient or "",
                pharmacologic_class=(
                    str(PharmacologicClass(name=class_name, kind=class_kind)) if class_name else ""
                ),
                related_classes=related.get(ingredient_id, ()),
                severity=severity,
                reaction=reaction,
            )
        )
    return tuple(profiles)


def _classes_of_ingredients(ingredient_ids: set[int]) -> dict[int, list[str]]:
    """EPC and CS classes of each ingredient, read from its single-ingredient products
    (a combination product's classes belong to its other ingredient as much)."""
    if not ingredient_ids:
        return {}
    other_ingredient = ProductIngredient.objects.filter(product_id=OuterRef("product_id")).exclude(
        ingredient_id=OuterRef("ingredient_id")
    )
    rows = (
        ProductIngredient.objects.filter(ingredient_id__in=ingredient_ids)
        .exclude(Exists(other_ingredient))
        .filter(product__pharmacologic_classes__kind__in=_CROSS_SENSITIVITY_KINDS)
        .values_list(
            "ingredient_id",
            "product__pharmacologic_classes__name",
            "product__pharmacologic_classes__kind",
        )
        .order_by()
        .distinct()
    )
    classes: dict[int, list[str]] = {}
    for ingredient_id, name, kind in rows:
        classes.setdefault(ingredient_id, []).append(str(PharmacologicClass(name=name, kind=kind)))
    return classes


# --------------------------------------------------------------------------- the index

# How long a process trusts its cached index before asking the database whether the
# interaction data changed: an aggregate per prescription would slow intake, and an import
# reaches the process that ran it at once (on commit), every other one within this time.
INDEX_RECHECK_SECONDS = 2.0


@dataclass(frozen=True)
class _CachedIndex:
    version: tuple
    index: InteractionIndex
    checked_at: float


# Replaced whole, never changed in place: a reader in another thread sees the old or the
# new cache entry, never half of one.
_cached_index: _CachedIndex | None = None
_index_lock = threading.Lock()


def interaction_data_version() -> tuple:
    """What changes whenever the interaction table does: its row count and the newest
    ``imported_at`` (every write sets it). One aggregate query over a small table."""
    result = DrugInteraction.objects.aggregate(count=Count("id"), latest=Max("imported_at"))
    return (result["count"], result["latest"])


def load_interaction_index(*, max_age: float = INDEX_RECHECK_SECONDS) -> InteractionIndex:
    """The interaction index of every stored pair, built once per process and rebuilt when
    ``interaction_data_version`` changes (an import in any process).

    No query when the cached index was checked less than ``max_age`` seconds ago, one
    query to check it, one more to rebuild it. An empty index when nothing is imported,
    which the checks report as ``no_data``.
    """
    global _cached_index
    cached = _cached_index
    now = time.monotonic()
    if cached is not None and now - cached.checked_at < max_age:
        return cached.index
    version = interaction_data_version()
    with _index_lock:
        cached = _cached_index
        if cached is None or cached.version != version:
            rows = DrugInteraction.objects.order_by().values_list(
                "ingredient_a_key", "ingredient_b_key", "severity", "description", "source"
            )
            index = InteractionIndex((InteractionPair(*row) for row in rows), version=version)
            cached = _CachedIndex(version, index, now)
        else:
            cached = _CachedIndex(version, cached.index, now)
        _cached_index = cached
        return cached.index


def invalidate_interaction_index() -> None:
    """Forget this process's cached index (other processes notice by the version)."""
    global _cached_index
    _cached_index = None


# --------------------------------------------------------------------------- import


class InteractionImportError(Exception):
    """Nothing was imported: the file is missing, unreadable, or its layout is unknown."""


class UnknownInteractionLayout(InteractionImportError):
    """The header row is neither the NDF-RT/ONC layout nor the plain CSV layout."""


LAYOUT_PDDI = "NDF-RT/ONC list"
LAYOUT_CSV = "plain CSV"
_PDDI_COLUMNS = ("object", "precipitant")
_CSV_COLUMNS = ("ingredient_a", "ingredient_b", "severity")
_PDDI_SOURCES = (Source.NDFRT, Source.ONC_HIGH_PRIORITY, Source.ONC_NON_INTERRUPTIVE)
_CSV_SOURCES = (Source.CSV, Source.CURATED)
_SOURCE_LABELS = {
    "ndf-rt": Source.NDFRT,
    "onc-highpriority": Source.ONC_HIGH_PRIORITY,
    "onc-noninteruptive": Source.ONC_NON_INTERRUPTIVE,  # sic, as the published file spells it
    "onc-noninterruptive": Source.ONC_NON_INTERRUPTIVE,
}
NDFRT_SEVERITY = {"critical": Severity.MAJOR, "significant": Severity.MODERATE}
ONC_HIGH_PRIORITY_SEVERITY = Severity.MAJOR
ONC_NON_INTERRUPTIVE_SEVERITY = Severity.MINOR
_SOURCE_DESCRIPTIONS = {
    Source.ONC_HIGH_PRIORITY: "On the ONC list of high-priority drug-drug interactions "
    "(Phansalkar et al., 2012).",
    Source.ONC_NON_INTERRUPTIVE: "On the ONC list of interactions that deserve a note, not "
    "an interruption (Phansalkar et al., 2013).",
}
_MAX_NAME = 255


@dataclass(frozen=True)
class BadRow:
    """A row the import skipped, and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class InteractionImportReport:
    """What an import did: rows read, pairs created, updated or unchanged, bad rows."""

    path: Path
    layout: str = ""
    rows_read: int = 0
    duplicate_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    pairs_by_source: dict[str, int] = field(default_factory=dict)
    bad_rows: list[BadRow] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def pairs_imported(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self) -> str:
        sources = ", ".join(
            f"{count} {Source(source).label}"
            for source, count in sorted(self.pairs_by_source.items())
        )
        return (
            f"{self.layout} layout: {self.rows_read} rows read in {self.seconds:.2f} s; "
            f"{self.pairs_imported} pairs ({sources or 'none'}): {self.created} created, "
            f"{self.updated} updated, {self.unchanged} unchanged; {self.duplicate_rows} rows "
            f"repeated a pair; {len(self.bad_rows)} bad rows."
        )


@dataclass
class _ParsedPair:
    a_key: str
    b_key: str
    a_name: str
    b_name: str
    severity: str
    description: str
    source: str


def import_curated_interactions() -> InteractionImportReport:
    """Import the pharmacy's own curated interaction list (the demo data)."""
    return import_interactions(CURATED_INTERACTIONS_PATH, source_format=Source.CURATED)


def import_interactions(path: Path, *, source_format: str | None = None) -> InteractionImportReport:
    """Import drug-drug interaction pairs from ``path`` (layouts in the module docstring).

    ``source_format`` (a ``DrugInteraction.Source`` value) forces the source of every row;
    by default it comes from the file. Re-importing updates a pair, never duplicates it
    (a pair is unordered and unique per source); pairs absent from the file are kept.
    Bad rows are skipped and reported with their line numbers. One transaction, under a
    lock that makes concurrent imports wait for each other. Raises
    ``InteractionImportError`` (``UnknownInteractionLayout``) when nothing can be read.
    """
    started = time.perf_counter()
    path = Path(path)
    report = InteractionImportReport(path=path)
    if source_format is not None and source_format not in Source.values:
        raise InteractionImportError(
            f"unknown format {source_format!r}; use one of {', '.join(Source.values)}"
        )
    pairs = _read_pairs(path, source_format, report)
    _write_pairs(pairs, report)
    report.seconds = time.perf_counter() - started
    return report


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InteractionImportError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise InteractionImportError(f"{path} is a folder, not an interaction file") from None
    except OSError as error:
        raise InteractionImportError(f"{path} cannot be read: {error.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InteractionImportError(
            f"{path} is not UTF-8 text (byte {error.start} cannot be decoded)"
        ) from None


def _read_pairs(
    path: Path, source_format: str | None, report: InteractionImportReport
) -> list[_ParsedPair]:
    text = _read_text(path)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line else ","
    # The public lists are tab-separated with no quoting: a quote is part of a value.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    header = [column.strip().lower() for column in next(reader, [])]
    columns = {name: position for position, name in reversed(list(enumerate(header)))}

    if all(name in columns for name in _PDDI_COLUMNS):
        report.layout = LAYOUT_PDDI
        if source_format is None and "source" not in columns:
            raise UnknownInteractionLayout(
                f"{path} has object and precipitant columns but no source column: say which "
                "list it is with --format ndfrt, onc_high_priority or onc_non_interruptive"
            )
        _check_format(path, source_format, _PDDI_SOURCES)
        parse_row = _pddi_row_parser(columns, len(header), source_format)
    elif all(name in columns for name in _CSV_COLUMNS):
        report.layout = LAYOUT_CSV
        _check_format(path, source_format, _CSV_SOURCES)
        if source_format is None:
            is_curated = path.resolve() == CURATED_INTERACTIONS_PATH
            source_format = Source.CURATED if is_curated else Source.CSV
        parse_row = _csv_row_parser(columns, source_format)
    else:
        raise UnknownInteractionLayout(
            f"{path} has an unknown layout: its header row must hold the columns "
            f"{','.join(_CSV_COLUMNS)},description (plain CSV) or the NDF-RT/ONC list "
            f"columns object, precipitant, severity, source (tab-separated); found "
            f"{', '.join(header[:8]) or 'an empty file'}"
        )

    pairs: dict[tuple[str, str, str], _ParsedPair] = {}
    for row in reader:
        if not any(value.strip() for value in row):
            continue
        report.rows_read += 1
        try:
            pair = parse_row(row)
        except _BadRowError as error:
            report.bad_rows.append(BadRow(reader.line_num, str(error)))
            continue
        identity = (pair.a_key, pair.b_key, pair.source)
        seen = pairs.get(identity)
        if seen is None:
            pairs[identity] = pair
            continue
        report.duplicate_rows += 1
        # A pair listed twice keeps its most severe listing.
        if SEVERITY_RANK[pair.severity] > SEVERITY_RANK[seen.severity]:
            pairs[identity] = pair
    return list(pairs.values())


def _check_format(path: Path, source_format: str | None, allowed: tuple[str, ...]) -> None:
    if source_format is not None and source_format not in allowed:
        raise InteractionImportError(
            f"format {source_format!r} does not fit {path}: a file with this header takes "
            f"{' or '.join(allowed)}"
        )


class _BadRowError(Exception):
    pass


def _pddi_row_parser(columns: dict[str, int], width: int, source_format: str | None):
    def value(row: list[str], column: str) -> str:
        position = columns.get(column)
        text = row[position].strip() if position is not None else ""
        return "" if text == "None" else text

    def parse(row: list[str]) -> _ParsedPair:
        if len(row) != width:
            raise _BadRowError(f"expected {width} tab-separated fields, found {len(row)}")
        source = source_format
        if source is None:
            label = value(row, "source")
            source = _SOURCE_LABELS.get(label.casefold())
            if source is None:
                raise _BadRowError(
                    f"unknown source {label or 'None'!r}; expected NDF-RT, ONC-HighPriority "
                    "or ONC-NonInteruptive"
                )
        description = _SOURCE_DESCRIPTIONS.get(source, "")
        if source == Source.NDFRT:
            raw = value(row, "severity")
            severity = NDFRT_SEVERITY.get(raw.casefold())
            if severity is None:
                raise _BadRowError(
                    f"NDF-RT severity {raw or 'None'!r} is neither Critical nor Significant"
                )
            description = f"VA NDF-RT: {raw.capitalize()} drug interaction."
        elif source == Source.ONC_HIGH_PRIORITY:
            severity = ONC_HIGH_PRIORITY_SEVERITY
        else:
            severity = ONC_NON_INTERRUPTIVE_SEVERITY
        return _make_pair(
            ("object", value(row, "object")),
            ("precipitant", value(row, "precipitant")),
            severity=severity,
            description=description,
            source=source,
        )

    return parse


def _csv_row_parser(columns: dict[str, int], source: str):
    def value(row: list[str], column: str) -> str:
        position = columns.get(column)
        return row[position].strip() if position is not None and position < len(row) else ""

    def parse(row: list[str]) -> _ParsedPair:
        raw = value(row, "severity")
        try:
            severity = Severity(raw.casefold())
        except ValueError:
            raise _BadRowError(
                f"severity {raw!r} is not one of {', '.join(Severity.values)}"
            ) from None
        return _make_pair(
            ("ingredient_a", value(row, "ingredient_a")),
            ("ingredient_b", value(row, "ingredient_b")),
            severity=severity,
            description=value(row, "description"),
            source=source,
        )

    return parse


def _make_pair(
    first: tuple[str, str], second: tuple[str, str], *, severity: str, description: str, source: str
) -> _ParsedPair:
    named = []
    for column, raw_name in (first, second):
        name = " ".join(raw_name.replace("_", " ").split())
        if not name:
            raise _BadRowError(f"{column} is empty")
        if len(name) > _MAX_NAME:
            raise _BadRowError(f"{column} is longer than {_MAX_NAME} characters")
        named.append((ingredient_key(name), name))
    (a_key, a_name), (b_key, b_name) = sorted(named)
    if a_key == b_key:
        raise _BadRowError(f"both ingredients are {a_key} once salt words are removed")
    return _ParsedPair(a_key, b_key, a_name, b_name, severity, description, source)


def _write_pairs(pairs: list[_ParsedPair], report: InteractionImportReport) -> None:
    sources = sorted({pair.source for pair in pairs})
    for pair in pairs:
        report.pairs_by_source[pair.source] = report.pairs_by_source.get(pair.source, 0) + 1
    if not pairs:
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Two imports at once would both see a pair as new and one would fail on the
            # unique constraint; the second waits for the first instead.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('pharmacy.import_interactions'))")
        existing = {
            (row.ingredient_a_key, row.ingredient_b_key, row.source): row
            for row in DrugInteraction.objects.filter(source__in=sources).only(
                "id",
                "ingredient_a_key",
                "ingredient_b_key",
                "ingredient_a_name",
                "ingredient_b_name",
                "severity",
                "description",
                "source",
            )
        }
        to_create, to_update = [], []
        for pair in pairs:
            row = existing.get((pair.a_key, pair.b_key, pair.source))
            if row is None:
                to_create.append(
                    DrugInteraction(
                        ingredient_a_key=pair.a_key,
                        ingredient_b_key=pair.b_key,
                        ingredient_a_name=pair.a_name,
                        ingredient_b_name=pair.b_name,
                        severity=pair.severity,
                        description=pair.description,
                        source=pair.source,
                    )
                )
                continue
            new_values = {
                "ingredient_a_name": pair.a_name,
                "ingredient_b_name": pair.b_name,
                "severity": pair.severity,
                "description": pair.description,
            }
            if all(getattr(row, name) == new for name, new in new_values.items()):
                report.unchanged += 1
                continue
            for name, new in new_values.items():
                setattr(row, name, new)
            to_update.append(row)
        DrugInteraction.objects.bulk_create(to_create, batch_size=1000)
        if to_update:
            now = timezone.now()
            for row in to_update:
                row.imported_at = now  # auto_now is not applied by bulk_update
            DrugInteraction.objects.bulk_update(
                to_update,
                [
                    "ingredient_a_name",
                    "ingredient_b_name",
                    "severity",
                    "description",
                    "imported_at",
                ],
                batch_size=500,
            )
        report.created = len(to_create)
        report.updated = len(to_update)
        transaction.on_commit(invalidate_interaction_index)
