"""factory_boy factories of the inventory app's models."""

import datetime

import factory
from django.utils import timezone

from inventory.ingredients import normalize_ingredient_name
from inventory.models import (
    DEASchedule,
    Ingredient,
    Package,
    PharmacologicClass,
    Product,
    ProductIngredient,
    StockLot,
    StockMovement,
    Supplier,
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


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Wholesaler {n}")


class StockLotFactory(factory.django.DjangoModelFactory):
    """A lot with stock: its receipt goes through the ledger so the two always agree."""

    class Meta:
        model = StockLot

    package = factory.SubFactory(PackageFactory)
    lot_number = factory.Sequence(lambda n: f"LOT{n:05d}")
    expiry = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=400))
    location = "A-01"

    @classmethod
    def _create(cls, model_class, *args, quantity_on_hand=0, **kwargs):
        lot = super()._create(model_class, *args, **kwargs)
        if quantity_on_hand:
            StockMovement.objects.create(
                lot=lot,
                kind=StockMovement.Kind.RECEIPT,
                quantity_change=quantity_on_hand,
                reason="factory",
            )
            StockLot.objects.filter(pk=lot.pk).update(quantity_on_hand=quantity_on_hand)
            lot.refresh_from_db()
        return lot
