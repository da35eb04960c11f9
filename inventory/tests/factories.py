"""factory_boy factories of the catalogue's models."""

import factory

from inventory.ingredients import normalize_ingredient_name
from inventory.models import (
    DEASchedule,
    Ingredient,
    Package,
    PharmacologicClass,
    Product,
    ProductIngredient,
)
from inventory.ndc import ndc10_digits, ndc11_from_package_ndc


class IngredientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ingredient
        django_get_or_create = ("normalized_name",)

    name = factory.Sequence(lambda n: f"Ingredient {n}")
    normalized_name = factory.LazyAttribute(lambda o: normalize_ingredient_name(o.name))


class PharmacologicClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PharmacologicClass
        django_get_or_create = ("name", "kind")

    name = factory.Sequence(lambda n: f"Class {n}")
    kind = PharmacologicClass.Kind.ESTABLISHED


class ProductFactory(factory.django.DjangoModelFactory):
    """A finished prescription product; labeler codes 70000 and up are fictional."""

    class Meta:
        model = Product

    product_ndc = factory.Sequence(lambda n: f"{70000 + n}-{100 + n % 900:03d}")
    product_type = "HUMAN PRESCRIPTION DRUG"
    proprietary_name = factory.Sequence(lambda n: f"Brandname{n}")
    nonproprietary_name = "atomoxetine hydrochloride"
    dosage_form = "CAPSULE"
    route = "ORAL"
    marketing_category = "NDA"
    application_number = "NDA021411"
    labeler_name = "Example Laboratories"
    dea_schedule = DEASchedule.NONE


class ProductIngredientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductIngredient

    product = factory.SubFactory(ProductFactory)
    ingredient = factory.SubFactory(IngredientFactory, name="Atomoxetine")
    strength = "10"
    strength_unit = "mg/1"


class PackageFactory(factory.django.DjangoModelFactory):
    """A bottle of 30 of its product; the package code counts up per package."""

    class Meta:
        model = Package

    product = factory.SubFactory(ProductFactory)
    package_ndc = factory.LazyAttributeSequence(
        lambda o, n: f"{o.product.product_ndc}-{n % 100:02d}"
    )
    ndc10 = factory.LazyAttribute(lambda o: ndc10_digits(o.package_ndc))
    ndc11 = factory.LazyAttribute(lambda o: ndc11_from_package_ndc(o.package_ndc))
    description = factory.LazyAttribute(lambda o: f"30 CAPSULE in 1 BOTTLE ({o.package_ndc})")
    quantity = 30
    unit = "CAPSULE"
