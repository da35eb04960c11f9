"""Drug utilisation review (DUR): the drug checks a pharmacist resolves at PV1.

Pure functions over small frozen dataclasses. The caller hands over everything a check
needs (the candidate drug's ingredients and classes, the patient's allergies, the current
medication list, an ``InteractionIndex``, the quantity and days supply) and gets back a
list of ``DurAlert``. Nothing here queries the database: ``pharmacy.drug_checks`` builds
these inputs from the models, and intake runs the checks for every incoming prescription,
so every check is an in-memory set or dict lookup.

A check that cannot run is itself an alert (type ``no_data``), never a silent pass: an
empty interaction index, a drug with no ingredients on file, an allergy recorded as text
only. (OpenEMR's interaction checks once stopped working for everyone without anyone
noticing, because "no data" looked the same as "no interaction".)

Alert types, fixed by the API (DESIGN.md section 6), and their severities:

* ``interaction``: the pair's severity, the most severe any source gives it.
* ``allergy``: an ingredient of the drug is ``major``, ``contraindicated`` when the
  recorded reaction was severe; the drug's class, or a class shared with the allergic
  ingredient (cross-sensitivity), ``major``; an allergy recorded as text that could not
  be checked, or allergies never asked, ``moderate``.
* ``duplicate_therapy``: ``moderate``.
* ``early_refill``: ``moderate``, ``major`` for a controlled substance.
* ``dose``: a quantity or days supply of zero ``major``; days supply over the limit
  ``moderate``, ``major`` for Schedule II; an absurd quantity a day ``moderate``.
* ``no_data``: no interaction data, or a drug without ingredients, ``major``; a current
  medication without ingredients ``moderate``.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import models

from inventory.ingredients import normalize_ingredient_name


class AlertType(models.TextChoices):
    """What a DUR alert is about; the values are part of the API."""

    INTERACTION = "interaction", "Drug interaction"
    ALLERGY = "allergy", "Allergy"
    DUPLICATE_THERAPY = "duplicate_therapy", "Duplicate therapy"
    EARLY_REFILL = "early_refill", "Early refill"
    DOSE = "dose", "Dose or quantity"
    NO_DATA = "no_data", "Check could not run"


class Severity(models.TextChoices):
    """How serious an alert or an interaction is, most serious first.

    How the reference sources map onto it (``pharmacy.drug_checks``):

    * VA NDF-RT ``Critical`` -> ``major``; ``Significant`` -> ``moderate``. NDF-RT's
      Critical level marks pairs the VA makes a pharmacist override at order entry, many
      of which are managed by monitoring or dose change; it does not say "never together",
      so ``contraindicated`` is kept for sources that say exactly that (our curated list,
      a CSV).
    * ONC high-priority list (Phansalkar 2012) -> ``major``: every pair deserves an
      interruption.
    * ONC non-interruptive list (Phansalkar 2013) -> ``minor``: worth a note.
    """

    CONTRAINDICATED = "contraindicated", "Contraindicated"
    MAJOR = "major", "Major"
    MODERATE = "moderate", "Moderate"
    MINOR = "minor", "Minor"


SEVERITY_RANK = {
    Severity.CONTRAINDICATED: 4,
    Severity.MAJOR: 3,
    Severity.MODERATE: 2,
    Severity.MINOR: 1,
}
_ALERT_TYPE_ORDER = {alert_type: position for position, alert_type in enumerate(AlertType)}

# When several sources list the same ingredient pair at the same severity, the alert
# quotes the first of these (ours and a CSV carry written descriptions; the public lists
# only their name).
PREFERRED_SOURCES = ("curated", "csv", "ndfrt", "onc_high_priority", "onc_non_interruptive")
_SOURCE_RANK = {source: position for position, source in enumerate(PREFERRED_SOURCES)}


# --------------------------------------------------------------------------- names as keys

# International (INN, BAN) and DrugBank names used by the interaction lists, mapped to the
# United States adopted names the FDA NDC Directory uses for the same active moiety, so a
# pair listed for "Rifampicin" matches a product of RIFAMPIN. Left and right are written
# as a person would; both sides go through ``normalize_ingredient_name`` below.
_SYNONYMS = {
    "Acetylsalicylic acid": "Aspirin",
    "Aciclovir": "Acyclovir",
    "Adrenaline": "Epinephrine",
    "Amfetamine": "Amphetamine",
    "Azilsartan kamedoxomil": "Azilsartan",
    "Azilsartan medoxomil": "Azilsartan",
    "Benzatropine": "Benztropine",
    "Ciclosporin": "Cyclosporine",
    "Clomifene": "Clomiphene",
    "Colecalciferol": "Cholecalciferol",
    "Conjugated estrogens": "Estrogens, conjugated",
    "Dexamfetamine": "Dextroamphetamine",
    "Dicoumarol": "Dicumarol",
    "Divalproex": "Valproic acid",
    "Frusemide": "Furosemide",
    "Glibenclamide": "Glyburide",
    "Glycerol": "Glycerin",
    "Hyoscine": "Scopolamine",
    "Isoprenaline": "Isoproterenol",
    "L-dopa": "Levodopa",
    "L-tryptophan": "Tryptophan",
    "Lidocaine patch": "Lidocaine",
    "Lignocaine": "Lidocaine",
    "Mesalazine": "Mesalamine",
    "Methylergometrine": "Methylergonovine",
    "Methylphenobarbital": "Mephobarbital",
    "Mycophenolate": "Mycophenolic acid",
    "Mycophenolate mofetil": "Mycophenolic acid",
    "Nicotinamide": "Niacinamide",
    "Noradrenaline": "Norepinephrine",
    "Paracetamol": "Acetaminophen",
    "Pethidine": "Meperidine",
    "Phylloquinone": "Phytonadione",
    "Rifampicin": "Rifampin",
    "Salbutamol": "Albuterol",
    "Salicylate-sodium": "Sodium salicylate",
    "TAK-390MR": "Dexlansoprazole",
    "Thyroxine": "Levothyroxine",
    "Torasemide": "Torsemide",
    "Valproate": "Valproic acid",
    "Vitamin C": "Ascorbic acid",
    "Zoledronate": "Zoledronic acid",
}
INGREDIENT_SYNONYMS: Mapping[str, str] = {
    normalize_ingredient_name(other): normalize_ingredient_name(adopted)
    for other, adopted in _SYNONYMS.items()
}


def ingredient_key(name: str) -> str:
    """The key an ingredient is matched by: ``inventory.ingredients`` normalisation (case,
    salt words) after turning underscores into spaces (``Valproic_Acid`` in the public
    lists), then the US adopted name for an international one.

    ``ingredient_key("WARFARIN SODIUM") == ingredient_key("Warfarin") == "WARFARIN"``;
    ``ingredient_key("Acetylsalicylic_acid") == "ASPIRIN"``.
    """
    normalized = normalize_ingredient_name((name or "").replace("_", " "))
    return INGREDIENT_SYNONYMS.get(normalized, normalized)


def class_key(name: str) -> str:
    """The key a pharmacologic class is matched by: ``Penicillin-class Antibacterial [EPC]``
    as written by the FDA, in lower case with single spaces."""
    return " ".join((name or "").split()).casefold()


def _class_words(key: str) -> str:
    """``penicillin-class antibacterial`` for ``penicillin-class antibacterial [epc]``."""
    return key.rsplit(" [", 1)[0] if key.endswith("]") else key


def _ingredient_words(key: str) -> str:
    return key.lower()


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class DrugProfile:
    """What the checks know about a drug: its ingredient keys, its pharmacologic class keys
    (``class_key`` of ``Name [KIND]``) and its DEA schedule (blank when not controlled)."""

    name: str
    ingredient_keys: frozenset[str]
    class_names: frozenset[str] = frozenset()
    dea_schedule: str = ""

    @classmethod
    def build(
        cls,
        name: str,
        *,
        ingredients: Iterable[str],
        classes: Iterable[str] = (),
        dea_schedule: str = "",
    ) -> "DrugProfile":
        """A profile from ingredient and class names as anyone writes them."""
        return cls(
            name=name,
            ingredient_keys=frozenset(filter(None, map(ingredient_key, ingredients))),
            class_names=frozenset(filter(None, map(class_key, classes))),
            dea_schedule=dea_schedule or "",
        )

    @property
    def is_controlled(self) -> bool:
        return bool(self.dea_schedule)

    @property
    def therapeutic_classes(self) -> frozenset[str]:
        """The established pharmacologic classes ([EPC]) only: what duplicate therapy
        compares. Chemical structure, mechanism and effect classes are too broad for
        that ("Amines", "Increased Diuresis") but do count for allergies."""
        return frozenset(name for name in self.class_names if name.endswith("[epc]"))


@dataclass(frozen=True)
class AllergyProfile:
    """One allergy of the patient as the checks see it.

    ``ingredient_key`` or ``class_name`` is what it was coded to; an allergy with neither
    was recorded as text only and is matched by its text where possible, otherwise it is
    reported as not checked. ``related_class_names`` are the classes of the allergic
    ingredient (its own single-ingredient products' classes), for cross-sensitivity:
    an allergy coded to penicillin G also matches amoxicillin through "Penicillins [CS]".
    ``severity`` takes the values of ``Allergy.Severity``.
    """

    allergen: str
    ingredient_key: str = ""
    class_name: str = ""
    related_class_names: frozenset[str] = frozenset()
    severity: str = "unknown"
    reaction: str = ""

    @classmethod
    def build(
        cls,
        allergen: str,
        *,
        ingredient: str = "",
        pharmacologic_class: str = "",
        related_classes: Iterable[str] = (),
        severity: str = "unknown",
        reaction: str = "",
    ) -> "AllergyProfile":
        """A profile from names as anyone writes them (ingredient, ``Name [KIND]``)."""
        return cls(
            allergen=allergen,
            ingredient_key=ingredient_key(ingredient) if ingredient else "",
            class_name=class_key(pharmacologic_class) if pharmacologic_class else "",
            related_class_names=frozenset(filter(None, map(class_key, related_classes))),
            severity=severity,
            reaction=reaction,
        )

    @property
    def is_coded(self) -> bool:
        return bool(self.ingredient_key or self.class_name)


@dataclass(frozen=True)
class CurrentMedication:
    """A drug the patient is taking now (an active prescription), with its last fill."""

    profile: DrugProfile
    last_fill_date: date | None = None
    days_supply: int | None = None


@dataclass(frozen=True)
class LastFill:
    """The previous fill of the prescription being refilled."""

    filled_on: date
    days_supply: int


@dataclass(frozen=True)
class InteractionPair:
    """One drug-drug interaction between two ingredient keys, from one source.

    The pair is unordered; ``between`` orders the keys so that ``ingredient_a`` sorts first.
    """

    ingredient_a: str
    ingredient_b: str
    severity: str
    description: str = ""
    source: str = ""

    @classmethod
    def between(
        cls, first: str, second: str, *, severity: str, description: str = "", source: str = ""
    ) -> "InteractionPair":
        """A pair from two ingredient names as anyone writes them."""
        a, b = sorted((ingredient_key(first), ingredient_key(second)))
        return cls(a, b, severity, description, source)


class InteractionIndex:
    """Interaction pairs by ingredient key, both ways round: ``lookup(a, b)`` is two dict
    lookups. Pairs of one ingredient pair are kept most severe first (then by
    ``PREFERRED_SOURCES``), so the first is the one an alert quotes.

    An empty index is not "no interactions": ``check_drug`` reports it as ``no_data``.
    """

    __slots__ = ("_partners", "pair_count", "version")

    def __init__(self, pairs: Iterable[InteractionPair] = (), *, version: object = None):
        partners: dict[str, dict[str, list[InteractionPair]]] = {}
        count = 0
        for pair in pairs:
            count += 1
            partners.setdefault(pair.ingredient_a, {}).setdefault(pair.ingredient_b, []).append(
                pair
            )
            if pair.ingredient_b != pair.ingredient_a:
                partners.setdefault(pair.ingredient_b, {}).setdefault(pair.ingredient_a, []).append(
                    pair
                )
        self._partners: dict[str, dict[str, tuple[InteractionPair, ...]]] = {
            key: {other: tuple(sorted(found, key=_pair_order)) for other, found in row.items()}
            for key, row in partners.items()
        }
        self.pair_count = count
        self.version = version

    def __len__(self) -> int:
        return self.pair_count

    @property
    def is_empty(self) -> bool:
        return self.pair_count == 0

    def lookup(self, first_key: str, second_key: str) -> tuple[InteractionPair, ...]:
        """Every pair between the two ingredient keys, most severe first; ``()`` if none."""
        return self._partners.get(first_key, {}).get(second_key, ())


def _pair_order(pair: InteractionPair) -> tuple:
    return (
        -SEVERITY_RANK.get(pair.severity, 0),
        _SOURCE_RANK.get(pair.source, len(_SOURCE_RANK)),
        pair.description,
    )


@dataclass(frozen=True)
class DurLimits:
    """Thresholds of the early-refill and quantity checks (pharmacy policy, per call).

    * A refill is early until ``refill_share`` of the last fill's days supply has passed
      (75 %), ``controlled_refill_share`` for a controlled substance (90 %).
    * Days supply above ``max_days_supply`` (90) is flagged, above
      ``max_days_supply_schedule_ii`` (30) for Schedule II: federal rules set no CII days
      supply limit, but many states and payers cap it at 30 days.
    * More than ``max_quantity_per_day`` dispensing units a day is taken for a typing
      error (3000 tablets for 30 days).
    """

    refill_share: Decimal = Decimal("0.75")
    controlled_refill_share: Decimal = Decimal("0.90")
    max_days_supply: int = 90
    max_days_supply_schedule_ii: int = 30
    max_quantity_per_day: Decimal = Decimal("100")


DEFAULT_LIMITS = DurLimits()


# --------------------------------------------------------------------------- output


@dataclass(frozen=True)
class DurAlert:
    """One finding for the pharmacist: its type (``AlertType``), its severity
    (``Severity``), a plain-English message and JSON-ready details."""

    type: str
    severity: str
    message: str
    detail: dict = field(default_factory=dict, hash=False)


# --------------------------------------------------------------------------- checks


def check_drug(
    candidate: DrugProfile,
    *,
    allergies: Sequence[AllergyProfile] | None,
    current_medications: Sequence[CurrentMedication],
    interactions: InteractionIndex,
    quantity: Decimal | int,
    days_supply: int,
    today: date,
    last_fill: LastFill | None = None,
    limits: DurLimits = DEFAULT_LIMITS,
) -> list[DurAlert]:
    """Every DUR alert for dispensing ``candidate`` now, most severe first.

    ``allergies`` is ``None`` when the patient's allergies were never asked (no allergy
    recorded and "no known allergies" not ticked); an empty sequence means none known.
    ``current_medications`` must not include the prescription being refilled: its
    previous fill is ``last_fill``.
    """
    alerts = [
        *check_data_present(candidate, current_medications, interactions),
        *check_interactions(candidate, current_medications, interactions),
        *check_allergies(candidate, allergies),
        *check_duplicate_therapy(candidate, current_medications),
        *check_early_refill(candidate, last_fill, today=today, limits=limits),
        *check_quantity(candidate, quantity=quantity, days_supply=days_supply, limits=limits),
    ]
    return sorted(alerts, key=_alert_order)


def _alert_order(alert: DurAlert) -> tuple:
    return (-SEVERITY_RANK.get(alert.severity, 0), _ALERT_TYPE_ORDER[alert.type], alert.message)


def check_data_present(
    candidate: DrugProfile,
    current_medications: Sequence[CurrentMedication],
    interactions: InteractionIndex,
) -> list[DurAlert]:
    """``no_data`` alerts for every check that cannot run on what it was given."""
    alerts = []
    if interactions.is_empty:
        alerts.append(
            DurAlert(
                AlertType.NO_DATA,
                Severity.MAJOR,
                "No drug interaction data is loaded, so drug interactions were NOT checked. "
                "Check interactions by hand, and have the interaction data imported "
                "(manage.py import_interactions).",
                {"missing": "interaction_data"},
            )
        )
    if not candidate.ingredient_keys:
        alerts.append(
            DurAlert(
                AlertType.NO_DATA,
                Severity.MAJOR,
                f"{candidate.name} has no active ingredients on file, so interaction, allergy "
                "and duplicate therapy checks could NOT run for it.",
                {"missing": "drug_ingredients", "drug": candidate.name},
            )
        )
    for medication in current_medications:
        if not medication.profile.ingredient_keys:
            alerts.append(
                DurAlert(
                    AlertType.NO_DATA,
                    Severity.MODERATE,
                    f"The current medication {medication.profile.name} has no active "
                    f"ingredients on file, so it was NOT checked against {candidate.name} "
                    "for interactions or duplicate therapy.",
                    {"missing": "medication_ingredients", "medication": medication.profile.name},
                )
            )
    return alerts


def check_interactions(
    candidate: DrugProfile,
    current_medications: Sequence[CurrentMedication],
    interactions: InteractionIndex,
) -> list[DurAlert]:
    """One ``interaction`` alert per interacting ingredient pair of the candidate and a
    current medication, at the most severe level any source gives the pair."""
    alerts = []
    for medication in current_medications:
        for own in sorted(candidate.ingredient_keys):
            for other in sorted(medication.profile.ingredient_keys):
                pairs = interactions.lookup(own, other)
                if not pairs:
                    continue
                worst = pairs[0]
                severity = Severity(worst.severity)
                description = f" {worst.description}" if worst.description else ""
                alerts.append(
                    DurAlert(
                        AlertType.INTERACTION,
                        severity,
                        f"{severity.label} interaction: {_ingredient_words(own)} "
                        f"({candidate.name}) with {_ingredient_words(other)} (current "
                        f"medication {medication.profile.name}).{description}",
                        {
                            "ingredient": own,
                            "interacting_ingredient": other,
                            "medication": medication.profile.name,
                            "sources": sorted({pair.source for pair in pairs}),
                        },
                    )
                )
    return alerts


def check_allergies(
    candidate: DrugProfile, allergies: Sequence[AllergyProfile] | None
) -> list[DurAlert]:
    """``allergy`` alerts: an ingredient of the candidate the patient is allergic to, a
    class of the candidate the patient is allergic to (penicillin allergy, amoxicillin),
    a class shared with the allergic ingredient (cross-sensitivity), an allergy recorded
    as text that could not be checked, or allergies never asked."""
    if allergies is None:
        return [
            DurAlert(
                AlertType.ALLERGY,
                Severity.MODERATE,
                "The patient's allergies are not on file (neither an allergy nor \"no known "
                'allergies" is recorded), so allergies were NOT checked. Ask the patient.',
                {"match": "allergies_unknown"},
            )
        ]
    alerts = []
    for allergy in allergies:
        alert = _allergy_alert(candidate, allergy)
        if alert:
            alerts.append(alert)
    return alerts


def _allergy_alert(candidate: DrugProfile, allergy: AllergyProfile) -> DurAlert | None:
    reaction = f" (reaction: {allergy.reaction})" if allergy.reaction else ""
    detail = {"allergen": allergy.allergen}
    ingredient = allergy.ingredient_key
    allergy_class = allergy.class_name
    if not allergy.is_coded:
        # Recorded as text only: match the text as an ingredient or a class name.
        text_key, text_class = ingredient_key(allergy.allergen), class_key(allergy.allergen)
        if text_key in candidate.ingredient_keys:
            ingredient = text_key
        else:
            allergy_class = next(
                (
                    name
                    for name in sorted(candidate.class_names)
                    if text_class in (name, _class_words(name))
                ),
                "",
            )
    if ingredient and ingredient in candidate.ingredient_keys:
        return DurAlert(
            AlertType.ALLERGY,
            Severity.CONTRAINDICATED if allergy.severity == "severe" else Severity.MAJOR,
            f"Allergy: the patient is allergic to {allergy.allergen}{reaction}, and "
            f"{candidate.name} contains {_ingredient_words(ingredient)}.",
            {**detail, "match": "ingredient", "ingredient": ingredient},
        )
    if allergy_class and allergy_class in candidate.class_names:
        return DurAlert(
            AlertType.ALLERGY,
            Severity.MAJOR,
            f"Allergy: the patient is allergic to {allergy.allergen}{reaction}, and "
            f"{candidate.name} is a {_class_words(allergy_class)}.",
            {**detail, "match": "class", "class": allergy_class},
        )
    shared = sorted(allergy.related_class_names & candidate.class_names)
    if shared:
        classes = ", ".join(_class_words(name) for name in shared)
        return DurAlert(
            AlertType.ALLERGY,
            Severity.MAJOR,
            f"Possible cross-sensitivity: the patient is allergic to {allergy.allergen}"
            f"{reaction}, which shares a class with {candidate.name} ({classes}).",
            {**detail, "match": "cross_sensitivity", "classes": shared},
        )
    if not allergy.is_coded:
        return DurAlert(
            AlertType.ALLERGY,
            Severity.MODERATE,
            f'The allergy "{allergy.allergen}" is recorded as text only, not as an '
            f"ingredient or class, so it could NOT be checked against {candidate.name}. "
            "Check it by hand and code the allergy.",
            {**detail, "match": "not_coded"},
        )
    return None


def check_duplicate_therapy(
    candidate: DrugProfile, current_medications: Sequence[CurrentMedication]
) -> list[DurAlert]:
    """A ``duplicate_therapy`` alert for each current medication that has an ingredient or
    an established pharmacologic class in common with the candidate."""
    alerts = []
    own_classes = candidate.therapeutic_classes
    for medication in current_medications:
        profile = medication.profile
        ingredients = sorted(candidate.ingredient_keys & profile.ingredient_keys)
        classes = sorted(own_classes & profile.therapeutic_classes)
        if not ingredients and not classes:
            continue
        if ingredients:
            what = "the same ingredient, " + ", ".join(map(_ingredient_words, ingredients))
        else:
            what = "the same class, " + ", ".join(map(_class_words, classes))
        last_fill = (
            f" (last filled {medication.last_fill_date.isoformat()}"
            f"{_for_days(medication.days_supply)})"
            if medication.last_fill_date
            else ""
        )
        alerts.append(
            DurAlert(
                AlertType.DUPLICATE_THERAPY,
                Severity.MODERATE,
                f"Duplicate therapy: {candidate.name} and the current medication "
                f"{profile.name}{last_fill} are {what}.",
                {"medication": profile.name, "ingredients": ingredients, "classes": classes},
            )
        )
    return alerts


def _for_days(days_supply: int | None) -> str:
    return f" for {days_supply} days" if days_supply else ""


def check_early_refill(
    candidate: DrugProfile, last_fill: LastFill | None, *, today: date, limits: DurLimits
) -> list[DurAlert]:
    """An ``early_refill`` alert when less than the limit's share of the last fill's days
    supply has passed (a stricter share for controlled substances)."""
    if last_fill is None or last_fill.days_supply <= 0:
        return []
    share = limits.controlled_refill_share if candidate.is_controlled else limits.refill_share
    due_after_days = math.ceil(last_fill.days_supply * share)
    due_on = last_fill.filled_on + timedelta(days=due_after_days)
    if today >= due_on:
        return []
    elapsed = (today - last_fill.filled_on).days
    passed = "1 day has" if elapsed == 1 else f"{elapsed} days have"
    what = (
        f"a refill of this Schedule {candidate.dea_schedule[1:]} drug"
        if candidate.is_controlled
        else "a refill"
    )
    return [
        DurAlert(
            AlertType.EARLY_REFILL,
            Severity.MAJOR if candidate.is_controlled else Severity.MODERATE,
            f"Early refill: {candidate.name} was last filled on {last_fill.filled_on.isoformat()}"
            f" for {last_fill.days_supply} days and only {passed} passed; {what} is due once "
            f"{share * 100:.0f} % of the supply is used, on {due_on.isoformat()}.",
            {
                "last_fill_date": last_fill.filled_on.isoformat(),
                "last_days_supply": last_fill.days_supply,
                "days_elapsed": elapsed,
                "due_on": due_on.isoformat(),
                "threshold_percent": int(share * 100),
            },
        )
    ]


def check_quantity(
    candidate: DrugProfile, *, quantity: Decimal | int, days_supply: int, limits: DurLimits
) -> list[DurAlert]:
    """``dose`` alerts: a quantity or days supply of zero or less, a days supply over the
    limit (stricter for Schedule II), or a quantity absurd for the days supply."""
    quantity = Decimal(str(quantity))
    detail = {"quantity": str(quantity), "days_supply": days_supply}
    alerts = []
    if quantity <= 0:
        alerts.append(
            DurAlert(
                AlertType.DOSE,
                Severity.MAJOR,
                f"Quantity {quantity} of {candidate.name} is not a quantity that can be dispensed.",
                {**detail, "problem": "quantity_not_positive"},
            )
        )
    if days_supply <= 0:
        alerts.append(
            DurAlert(
                AlertType.DOSE,
                Severity.MAJOR,
                f"Days supply {days_supply} of {candidate.name} is not a valid days supply.",
                {**detail, "problem": "days_supply_not_positive"},
            )
        )
        return alerts
    schedule_ii = candidate.dea_schedule == "CII"
    limit = limits.max_days_supply_schedule_ii if schedule_ii else limits.max_days_supply
    if days_supply > limit:
        what = "limit for Schedule II drugs" if schedule_ii else "limit"
        alerts.append(
            DurAlert(
                AlertType.DOSE,
                Severity.MAJOR if schedule_ii else Severity.MODERATE,
                f"Days supply {days_supply} of {candidate.name} is over the {limit}-day {what}.",
                {**detail, "problem": "days_supply_over_limit", "limit": limit},
            )
        )
    per_day = quantity / days_supply
    if per_day > limits.max_quantity_per_day:
        alerts.append(
            DurAlert(
                AlertType.DOSE,
                Severity.MODERATE,
                f"Quantity {quantity} of {candidate.name} for {days_supply} days is "
                f"{per_day.quantize(Decimal('0.01')).normalize():f} units a day, more than "
                f"{limits.max_quantity_per_day} a day: check the quantity and days supply.",
                {
                    **detail,
                    "problem": "quantity_per_day_over_limit",
                    "limit": str(limits.max_quantity_per_day),
                },
            )
        )
    return alerts
