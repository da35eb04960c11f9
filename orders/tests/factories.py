"""factory_boy factories of the orders app's models.

``PrescriptionFactory()`` is an active, non-controlled prescription for a new patient,
prescriber and product, written a week ago with 3 refills; ``FillFactory()`` its first
fill waiting for PV1 in an order of the prescription's patient. Tests that need a
prescription the way intake stores it call ``orders.services.intake.receive_prescription``.
"""

import datetime
import itertools
import struct
import zlib

import factory
from django.utils import timezone

from inventory.models import Package, PharmacologicClass, Product, StockLot
from inventory.ndc import GROUP_SEPARATOR, gtin14_from_ndc
from inventory.services.stock import dispense_from_lot
from inventory.tests.factories import (
    IngredientFactory,
    PackageFactory,
    PharmacologicClassFactory,
    ProductFactory,
    ProductIngredientFactory,
    StockLotFactory,
)
from orders.models import (
    Channel,
    DurAlert,
    Fill,
    FillEvent,
    FillHold,
    HoldReason,
    Order,
    Prescription,
)
from pharmacy.models import Allergy, Patient, Role, User
from pharmacy.tests.factories import (
    AllergyFactory,
    PatientFactory,
    PrescriberFactory,
    make_staff,
)


def _received_data(prescription) -> dict:
    """What a message naming this prescription's patient, prescriber and drug would hold."""
    patient, prescriber = prescription.patient, prescription.prescriber
    return {
        "patient": {
            "first_name": patient.first_name if patient else "Ada",
            "middle_name": patient.middle_name if patient else "",
            "last_name": patient.last_name if patient else "Lovelace",
            "date_of_birth": patient.date_of_birth.isoformat() if patient else "1960-12-10",
            "sex": patient.sex if patient else "F",
            "phone": patient.phone if patient else "",
            "address": {"line1": "", "line2": "", "city": "", "state": "", "postal_code": ""},
        },
        "prescriber": {
            "first_name": prescriber.first_name if prescriber else "",
            "last_name": prescriber.last_name if prescriber else "",
            "npi": prescriber.npi if prescriber else "",
            "dea_number": prescriber.dea_number if prescriber else "",
            "phone": "",
            "fax": "",
        },
        "drug": {
            "description": prescription.drug_description,
            "ndc": prescription.prescribed_ndc or None,
            "strength": "",
            "dosage_form": "",
            "dea_schedule": prescription.dea_schedule,
        },
        "warnings": [],
    }


class PrescriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prescription

    # Far above the database sequence (which starts at 1000001), so the two never meet.
    rx_number = factory.Sequence(lambda n: str(9_000_000 + n))
    status = Prescription.Status.ACTIVE
    channel = Channel.PHONE
    patient = factory.SubFactory(PatientFactory)
    prescriber = factory.SubFactory(PrescriberFactory)
    product = factory.SubFactory(ProductFactory)
    drug_description = factory.LazyAttribute(
        lambda o: o.product.display_name if o.product else "Unmatched drug 10 mg tablet"
    )
    prescribed_ndc = factory.LazyAttribute(
        lambda o: package.ndc11 if o.product and (package := o.product.packages.first()) else ""
    )
    dea_schedule = factory.LazyAttribute(lambda o: o.product.dea_schedule if o.product else "")
    quantity = 30
    quantity_unit = "tablet"
    days_supply = 30
    refills_authorized = 3
    sig_text = "1 PO QD"
    directions = "Take 1 tablet by mouth once daily"
    written_date = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=7))
    expires_on = factory.LazyAttribute(
        lambda o: o.written_date + datetime.timedelta(days=183 if o.dea_schedule else 365)
    )
    received_data = factory.LazyAttribute(_received_data)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    patient = factory.SubFactory(PatientFactory)


class FillFactory(factory.django.DjangoModelFactory):
    """A fill of its prescription in an order of the prescription's patient (none while
    the prescription has no patient), with the event that created it."""

    class Meta:
        model = Fill
        skip_postgeneration_save = True

    prescription = factory.SubFactory(PrescriptionFactory)
    order = factory.LazyAttribute(
        lambda o: (
            Order.objects.create(patient=o.prescription.patient) if o.prescription.patient else None
        )
    )
    fill_number = 0
    status = Fill.Status.PV1
    quantity = factory.LazyAttribute(lambda o: o.prescription.quantity)
    days_supply = factory.LazyAttribute(lambda o: o.prescription.days_supply)

    @factory.post_generation
    def event(self, create, extracted, **kwargs):
        if create:
            FillEvent.objects.create(fill=self, from_status="", to_status=self.status)


class DurAlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DurAlert

    fill = factory.SubFactory(FillFactory)
    prescription = factory.LazyAttribute(lambda o: o.fill.prescription)
    type = DurAlert.Type.ALLERGY
    severity = "major"
    message = "Allergy: the patient is allergic to Penicillin, and this drug is a penicillin."


# --------------------------------------------------------------------------- intake helpers


def penicillin_class():
    return PharmacologicClassFactory(
        name="Penicillin-class Antibacterial", kind=PharmacologicClass.Kind.ESTABLISHED
    )


def amoxicillin_product(**fields) -> Product:
    """Amoxil (amoxicillin) 500 mg capsules, a Penicillin-class Antibacterial [EPC], with one
    bottle of 30 in the catalogue."""
    product = ProductFactory(
        proprietary_name="Amoxil",
        nonproprietary_name="amoxicillin",
        dosage_form="CAPSULE",
        **fields,
    )
    ProductIngredientFactory(
        product=product,
        ingredient=IngredientFactory(name="Amoxicillin"),
        strength="500",
        strength_unit="mg/1",
    )
    product.pharmacologic_classes.add(penicillin_class())
    PackageFactory(product=product)
    return product


def penicillin_allergic_patient(**fields) -> Patient:
    """A patient allergic to the whole penicillin class (recorded as the class)."""
    patient = PatientFactory(**fields)
    AllergyFactory(
        patient=patient,
        allergen="Penicillin",
        pharmacologic_class=penicillin_class(),
        reaction="Hives",
        severity=Allergy.Severity.MODERATE,
    )
    return patient


def tiny_png() -> bytes:
    """A valid 1x1 white PNG: enough for an upload that must look like an image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- workflow helpers

_staff_numbers = itertools.count(1)


def another_staff(role: str = Role.TECHNICIAN, **fields) -> User:
    """One more staff member of a role (a second pharmacist for PV2, a second technician)."""
    number = next(_staff_numbers)
    fields = {"first_name": role.title(), "last_name": f"No{number}", **fields}
    return make_staff(f"{role}-{number}", role, **fields)


def stocked_package(
    *,
    name: str = "Lipitor",
    generic: str = "atorvastatin calcium",
    ingredient: str = "Atorvastatin",
    strength: str = "10",
    dosage_form: str = "TABLET",
    units: int = 300,
    product: Product | None = None,
) -> Package:
    """A bottle-of-30 package of a product (made here unless given: one ingredient at
    ``strength`` mg), with one lot of ``units`` on the shelf expiring in 400 days."""
    if product is None:
        product = ProductFactory(
            proprietary_name=name, nonproprietary_name=generic, dosage_form=dosage_form
        )
        ProductIngredientFactory(
            product=product,
            ingredient=IngredientFactory(name=ingredient),
            strength=strength,
            strength_unit="mg/1",
        )
    package = PackageFactory(
        product=product, description=f"30 {dosage_form} in 1 BOTTLE", unit=dosage_form
    )
    if units:
        StockLotFactory(package=package, quantity_on_hand=units)
    return package


def stocked_prescription(**fields) -> Prescription:
    """An active prescription (30 tablets, 30 days) of a product with stock on the shelf."""
    if "product" not in fields:
        fields["product"] = stocked_package().product
    return PrescriptionFactory(**fields)


def datamatrix(
    package: Package | str,
    *,
    lot: str,
    expiry: datetime.date | None = None,
    serial: str = "",
) -> str:
    """What a keyboard-wedge scanner types for a package's GS1 DataMatrix (]d2 prefix,
    GTIN, expiry, lot, then the serial after a group separator)."""
    ndc = package.package_ndc if isinstance(package, Package) else package
    expiry = expiry or timezone.localdate() + datetime.timedelta(days=400)
    text = f"]d201{gtin14_from_ndc(ndc)}17{expiry:%y%m%d}10{lot}"
    return text + (f"{GROUP_SEPARATOR}21{serial}" if serial else "")


def bottle_scan(fill: Fill) -> str:
    """The DataMatrix of a bottle of the lot the fill station suggests for ``fill``
    (first expiring first): what a technician scans when taking the stock shown."""
    from orders.services.workflow import suggest_lot  # noqa: PLC0415

    lot = suggest_lot(fill)
    return datamatrix(lot.package, lot=lot.lot_number, expiry=lot.expiry)


# The steps after the fill step: a fill there holds dispensed product.
FILLED_STEPS = (
    Fill.Status.PV2,
    Fill.Status.READY_TO_PACK,
    Fill.Status.PACKED,
    Fill.Status.SHIPPED,
)


def fill_at(
    status: str,
    *,
    held_from: str = "",
    hold_reason: str = HoldReason.CLARIFICATION,
    filled_by: User | None = None,
    prescription: Prescription | None = None,
    **fields,
) -> Fill:
    """A fill standing at ``status`` the way the workflow leaves it there.

    Past the fill step it holds product dispensed through the stock ledger by
    ``filled_by`` (a new technician unless given) from the prescription's first lot; on
    hold it was held at ``held_from`` with an open hold for ``hold_reason``. Its
    prescription is a stocked one unless given.
    """
    prescription = prescription or stocked_prescription()
    step = held_from if status == Fill.Status.ON_HOLD else status
    fill = FillFactory(
        prescription=prescription,
        status=status,
        held_from_status=held_from if status == Fill.Status.ON_HOLD else "",
        **fields,
    )
    if step in FILLED_STEPS:
        filled_by = filled_by or another_staff(Role.TECHNICIAN)
        lot = StockLot.objects.filter(package__product=prescription.product).earliest("pk")
        dispense_from_lot(
            lot,
            quantity=fill.quantity,
            by=filled_by,
            reference=fill.stock_reference,
            usable_until=timezone.localdate(),
        )
        Fill.objects.filter(pk=fill.pk).update(
            dispensed_package=lot.package,
            dispensed_ndc=lot.package.package_ndc,
            dispensed_quantity=fill.quantity,
            stock_lot=lot,
            lot_number=lot.lot_number,
            expiry=lot.expiry,
            filled_by=filled_by,
            filled_at=timezone.now(),
        )
    if status == Fill.Status.ON_HOLD:
        FillHold.objects.create(
            fill=fill,
            reason_code=hold_reason,
            note="Directions unclear",
            from_status=held_from,
            placed_by=filled_by or another_staff(Role.PHARMACIST),
        )
    fill.refresh_from_db()
    return fill
