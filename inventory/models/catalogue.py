"""The drug catalogue, shaped like the FDA NDC Directory it is imported from: products,
their packages, active ingredients, pharmacologic classes, DEA schedules and storage."""

import re
from collections.abc import Iterable
from decimal import Decimal

from django.contrib.postgres.aggregates import JSONBAgg
from django.db import models
from django.db.models import Q, Subquery
from django.db.models.functions import JSONObject

from inventory.ndc import (
    Scan,
    ScanError,
    gtin14_from_ndc,
    gtin_at_start,
    ndc10_from_gtin,
    parse_scan,
)


class DEASchedule(models.TextChoices):
    """Controlled Substances Act schedules (21 CFR 1308); blank for non-controlled."""

    NONE = "", "Not controlled"
    CI = "CI", "Schedule I"
    CII = "CII", "Schedule II"
    CIII = "CIII", "Schedule III"
    CIV = "CIV", "Schedule IV"
    CV = "CV", "Schedule V"


class Storage(models.TextChoices):
    ROOM_TEMPERATURE = "room", "Room temperature"
    REFRIGERATED = "refrigerated", "Refrigerated (2-8 °C)"
    FROZEN = "frozen", "Frozen"


class Ingredient(models.Model):
    """An active ingredient, named once whatever salt form a product lists it in.

    ``normalized_name`` is the matching key (upper case, salt words removed, see
    ``inventory.ingredients``): WARFARIN SODIUM and Warfarin are one ingredient.
    """

    name = models.CharField(max_length=255)
    normalized_name = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["normalized_name"]

    def __str__(self):
        return self.name


class PharmacologicClass(models.Model):
    """An FDA Established Pharmacologic Class or related class (`Name [EPC]`, `[MoA]`, ...)."""

    class Kind(models.TextChoices):
        ESTABLISHED = "EPC", "Established pharmacologic class"
        MECHANISM = "MoA", "Mechanism of action"
        PHYSIOLOGIC = "PE", "Physiologic effect"
        CHEMICAL = "CS", "Chemical structure"
        OTHER = "", "Other"

    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=3, choices=Kind.choices, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "kind"], name="pharmacologic_class_unique")
        ]
        verbose_name_plural = "pharmacologic classes"

    def __str__(self):
        return f"{self.name} [{self.kind}]" if self.kind else self.name


# A drug search's trailing strength: "lisinopril 10", "atorvastatin 40 mg", "Cymbalta 60",
# "amoxicillin 250mg/5ml" (the number, then an optional unit as people type it).
_STRENGTH_AT_END = re.compile(
    r"^(?P<name>.*?[^\d\s.].*?)\s+(?P<number>\d+(?:\.\d+)?|\.\d+)\s*"
    r"(?P<unit>mg|mcg|µg|ug|g|ml|meq|units?|iu|%)?(?:\s*/\s*\d*\s*(?:ml|g|l|actuat\w*|hr?))?$",
    re.IGNORECASE,
)
# How people type a unit -> how the FDA NDC Directory starts it (strength_unit "MG/1").
_UNIT_PREFIXES = {"µg": "ug", "mcg": "ug", "unit": "[iu]", "units": "[iu]", "iu": "[iu]"}


def _strength_spellings(number: str) -> list[str]:
    """The ways the FDA NDC Directory may write one strength: 10, 10.0; 0.5, .5; 2.50, 2.5."""
    value = Decimal(number)
    plain = format(value.normalize(), "f")
    spellings = {plain, f"{plain}.0" if "." not in plain else plain}
    if plain.startswith("0."):
        spellings.add(plain[1:])
    if "." in plain:
        spellings.add(plain + "0")
    return sorted(spellings)


class ProductQuerySet(models.QuerySet):
    def search(self, text: str) -> "ProductQuerySet":
        """Products whose brand, generic or ingredient name contains the text; a trailing
        strength ("lisinopril 10", "atorvastatin 40 mg", "Cymbalta 60") narrows them to
        products with an ingredient of that strength (and unit, when typed). The one
        drug search: the catalogue page, the API's ``search`` and the intake drug picker
        use it."""
        text = " ".join((text or "").split())
        strength = _STRENGTH_AT_END.match(text)
        if strength is None:
            return self._named(text)
        # One filter() call: the number and the unit must be those of the same ingredient.
        same_ingredient = Q(strengths__strength__in=_strength_spellings(strength["number"]))
        unit = (strength["unit"] or "").lower()
        if unit:
            prefix = _UNIT_PREFIXES.get(unit, unit)
            same_ingredient &= (
                Q(strengths__strength_unit__istartswith="u")
                | Q(strengths__strength_unit__istartswith="[iu]")
                if prefix == "[iu]"
                else Q(strengths__strength_unit__istartswith=prefix)
            )
        return self._named(strength["name"]).filter(same_ingredient).distinct()

    def _named(self, text: str) -> "ProductQuerySet":
        return self.filter(
            Q(proprietary_name__icontains=text)
            | Q(nonproprietary_name__icontains=text)
            | Q(ingredients__name__icontains=text)
        ).distinct()

    def with_ndc_starting(self, text: str) -> "ProductQuerySet":
        """Products whose product NDC or one of whose package NDCs starts with the text."""
        return self.filter(
            Q(product_ndc__startswith=text) | Q(packages__package_ndc__startswith=text)
        ).distinct()

    def controlled(self) -> "ProductQuerySet":
        return self.exclude(dea_schedule=DEASchedule.NONE)

    def with_strength(self) -> "ProductQuerySet":
        """Annotated with ``strength_pairs``, so ``Product.strength`` and
        ``Product.full_description`` cost no query per product."""
        return self.annotate(strength_pairs=strength_pairs_of(models.OuterRef("pk")))


def format_strength(pairs: Iterable[tuple[str, str]]) -> str:
    """ "10 mg", "5 mg/5 mL", "5 mg / 325 mg" from the FDA's (strength, unit) pairs, in the
    order of the product's ingredients. The one way a strength is written, on screen and
    on the Rx label (``orders.services.labels``)."""
    parts = []
    for strength, strength_unit in pairs:
        if not strength:
            continue
        try:
            amount = f"{Decimal(strength).normalize():f}"
        except ArithmeticError:
            amount = strength
        # "mg/1" is per tablet or capsule: "mg"; "mg/5mL" reads "mg/5 mL".
        unit = re.sub(r"/(\d+)\s*", r"/\1 ", re.sub(r"/1$", "", strength_unit.strip()))
        parts.append(f"{amount} {unit}".strip())
    return " / ".join(parts)


def strength_pairs_of(product_id) -> Subquery:
    """The product's (strength, unit) pairs in the order of its ingredients, as one JSON
    array of ``{"strength", "unit"}``: ``product_id`` is an ``OuterRef`` to the product's id
    in the outer query. Read by ``ProductQuerySet.with_strength``, the fill queues and the
    Rx label, so a list of products costs one statement."""
    return Subquery(
        ProductIngredient.objects.filter(product_id=product_id)
        .order_by()
        .values("product_id")
        .annotate(
            pairs=JSONBAgg(JSONObject(strength="strength", unit="strength_unit"), order_by="id")
        )
        .values("pairs")
    )


class Product(models.Model):
    """A drug product (one FDA NDC Directory product row): labeler + product code.

    Imported and updated by ``import_ndc``; ``storage`` is set by staff and never
    overwritten by an import.
    """

    product_ndc = models.CharField("product NDC", max_length=10, unique=True)
    fda_product_id = models.CharField("FDA product ID", max_length=80, blank=True)
    product_type = models.CharField(max_length=100, blank=True)
    proprietary_name = models.CharField(max_length=255, blank=True)
    proprietary_name_suffix = models.CharField(max_length=255, blank=True)
    nonproprietary_name = models.CharField(max_length=512, blank=True)
    dosage_form = models.CharField(max_length=100, blank=True)
    route = models.CharField(max_length=255, blank=True)
    marketing_category = models.CharField(max_length=100, blank=True)
    application_number = models.CharField(max_length=50, blank=True)
    labeler_name = models.CharField(max_length=255, blank=True)
    marketing_start = models.DateField(null=True, blank=True)
    marketing_end = models.DateField(null=True, blank=True)
    dea_schedule = models.CharField(
        "DEA schedule", max_length=4, choices=DEASchedule.choices, blank=True
    )
    is_finished = models.BooleanField(
        default=True, help_text="False for unfinished (bulk) products of the NDC Directory."
    )
    storage = models.CharField(
        max_length=12, choices=Storage.choices, default=Storage.ROOM_TEMPERATURE
    )
    # Set by pharmacists; the NDC import neither writes nor clears it (db_default: its
    # INSERT names only the Directory's columns).
    unit_description = models.CharField(
        "what one unit looks like",
        max_length=255,
        blank=True,
        default="",
        db_default="",
        help_text="Shape, colour and imprint of one tablet or capsule, or the look of the "
        "liquid, as checked at the fill station and at PV2.",
    )
    ingredients = models.ManyToManyField(
        Ingredient, through="ProductIngredient", related_name="products"
    )
    pharmacologic_classes = models.ManyToManyField(
        PharmacologicClass, related_name="products", blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["proprietary_name", "nonproprietary_name", "product_ndc"]
        indexes = [
            models.Index(fields=["proprietary_name"], name="product_proprietary_idx"),
            models.Index(fields=["nonproprietary_name"], name="product_nonproprietary_idx"),
        ]

    def __str__(self):
        return f"{self.display_name} ({self.product_ndc})"

    @property
    def display_name(self) -> str:
        brand = " ".join(filter(None, [self.proprietary_name, self.proprietary_name_suffix]))
        if brand and self.nonproprietary_name and brand.lower() != self.nonproprietary_name.lower():
            return f"{brand} ({self.nonproprietary_name})"
        return brand or self.nonproprietary_name or self.product_ndc

    @property
    def strength(self) -> str:
        """ "50 mg", "5 mg / 325 mg": from the ``strength_pairs`` annotation when read with
        ``ProductQuerySet.with_strength`` (or set by the caller), else from the product's
        prefetched or queried ingredients."""
        pairs = getattr(self, "strength_pairs", None)
        if pairs is not None:
            return format_strength((pair["strength"], pair["unit"]) for pair in pairs)
        return format_strength(
            (row.strength, row.strength_unit)
            for row in sorted(self.strengths.all(), key=lambda row: row.pk)
        )

    @property
    def full_description(self) -> str:
        """The product as a person checks it: name, strength, dosage form and unit,
        "Losartan Potassium 50 mg tablet, film coated". The one description shown wherever
        a product is checked or chosen (fill station, PV1, PV2, queues, intake, Rx page,
        packing) and in the API's ``drug`` names."""
        parts = [self.display_name, self.strength, self.dosage_form.lower()]
        return " ".join(part for part in parts if part)

    @property
    def is_controlled(self) -> bool:
        return self.dea_schedule != DEASchedule.NONE


class ProductIngredient(models.Model):
    """One active ingredient of a product with its strength as the FDA lists it."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="strengths")
    ingredient = models.ForeignKey(Ingredient, on_delete=models.PROTECT)
    strength = models.CharField(max_length=50, blank=True)
    strength_unit = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["product", "ingredient__normalized_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "ingredient"], name="product_ingredient_unique"
            )
        ]

    def __str__(self):
        return f"{self.ingredient} {self.strength} {self.strength_unit}".strip()


class PackageQuerySet(models.QuerySet):
    def by_ndc_digits(self, ndc10_digits: str) -> "PackageQuerySet":
        return self.filter(ndc10=ndc10_digits)

    def by_ndc11(self, ndc11: str) -> "PackageQuerySet":
        """The package of an 11-digit billing NDC (5-4-2 digits, as prescriptions carry it).

        The one way a prescription's NDC names a package: relied on by intake's drug match
        (``orders.services.intake.receiving._match_drug``) and by the Rx label, which names the
        prescribed package until the fill dispenses one (``orders.services.labels``).
        """
        return self.filter(ndc11=ndc11)

    def for_code(self, text: str) -> "PackageQuerySet":
        """The package a search box's full code names: a scan, a typed NDC, a GTIN or UPC.
        Raises ScanError (with the reason) when the text is not such a code."""
        if text.isdigit() and len(text) == 10:
            # Unhyphenated NDC10s are ambiguous in general, but unique in the catalogue.
            return self.filter(ndc10=text)
        try:
            return self.for_scan(parse_scan(text))
        except ScanError:
            gtin = gtin_at_start(text)
            if gtin is None:
                raise
            return self.filter(ndc10=ndc10_from_gtin(gtin))

    def for_scan(self, scan: Scan) -> "PackageQuerySet":
        """The package a parsed scan or typed NDC names (``inventory.ndc.parse_scan``).

        A typed hyphenated NDC must match exactly (its layout is part of it); a GTIN or
        UPC-A carries only the 10 digits, which are unique in the catalogue.
        """
        if scan.package_ndc:
            return self.filter(package_ndc=scan.package_ndc)
        if scan.ndc10:
            return self.filter(ndc10=scan.ndc10)
        return self.filter(ndc11=scan.ndc11)


class Package(models.Model):
    """A package of a product as sold: package NDC, its 11-digit billing form and contents.

    ``package_ndc`` keeps the hyphenated 10-digit form (the layout matters: an
    unhyphenated 10-digit NDC is ambiguous); ``ndc10`` holds its digits to match
    GTIN and UPC scans, ``ndc11`` the 5-4-2 billing form.
    """

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="packages")
    package_ndc = models.CharField("package NDC", max_length=12, unique=True)
    ndc10 = models.CharField("NDC digits", max_length=10, unique=True)
    ndc11 = models.CharField("NDC11", max_length=11, unique=True)
    description = models.TextField(blank=True)
    quantity = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Dispensing units in one package, parsed from the description.",
    )
    unit = models.CharField(max_length=60, blank=True)
    marketing_start = models.DateField(null=True, blank=True)
    marketing_end = models.DateField(null=True, blank=True)
    is_sample = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PackageQuerySet.as_manager()

    class Meta:
        ordering = ["package_ndc"]

    def __str__(self):
        return f"{self.package_ndc} {self.description}"

    @property
    def gtin(self) -> str:
        return gtin14_from_ndc(self.package_ndc)
