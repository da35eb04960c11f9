"""factory_boy factories and helpers of the shipping app's tests.

``ready_order()`` builds an order the way the fill workflow leaves it when every fill
passed PV2 (fills ``ready_to_pack``, product dispensed through the stock ledger) for a
patient with a default shipping address; ``ShipmentFactory()`` a shipment of such an
order awaiting packing, with the address snapshot taken from the patient.
``order_awaiting_packing()`` is a ready order whose shipment shipping made the way its task
makes it once the last fill passed PV2 (``create_shipment_for_order``); reading a page or
the API never makes one. ``deliver_side_effects()`` does what the outbox's worker does
with the side effects recorded so far (the label bought, the documents made, e-mails).
"""

from decimal import Decimal

import factory
from django.utils import timezone

from inventory.models import DEASchedule, Storage
from inventory.tests.factories import ProductFactory, ProductIngredientFactory
from orders.models import Fill, Order
from orders.tests.factories import another_staff, fill_at, stocked_package, stocked_prescription
from outbox.models import OutboxMessage
from outbox.services import deliver_due_side_effects
from pharmacy.models import Patient, Role
from pharmacy.tests.factories import PatientAddressFactory, PatientFactory
from shipping.models import Carrier, CarrierService, Shipment, ShipmentEvent
from shipping.services.shipments import create_shipment_for_order


def cold_chain_package(**fields):
    """A refrigerated product (insulin pens) with a stocked lot."""
    product = ProductFactory(
        proprietary_name="Lantus",
        nonproprietary_name="insulin glargine",
        dosage_form="INJECTION, SOLUTION",
        storage=Storage.REFRIGERATED,
        **fields,
    )
    ProductIngredientFactory(
        product=product,
        ingredient__name="Insulin Glargine",
        strength="100",
        strength_unit="[iU]/mL",
    )
    return stocked_package(product=product, dosage_form="INJECTION, SOLUTION")


def controlled_package(schedule: str = DEASchedule.CII, **fields):
    """A controlled product (oxycodone, schedule II unless given) with a stocked lot."""
    product = ProductFactory(
        proprietary_name="Roxicodone",
        nonproprietary_name="oxycodone hydrochloride",
        dosage_form="TABLET",
        dea_schedule=schedule,
        **fields,
    )
    ProductIngredientFactory(
        product=product, ingredient__name="Oxycodone", strength="5", strength_unit="mg/1"
    )
    return stocked_package(product=product)


def shippable_patient(**address) -> Patient:
    """A patient with a default shipping address (``address`` overrides its fields)."""
    patient = PatientFactory(email="patient@example.org")
    PatientAddressFactory(patient=patient, **address)
    return patient


def ready_order(
    *,
    fills: int = 1,
    cold_chain: bool = False,
    controlled: bool = False,
    patient: Patient | None = None,
    status: str = Fill.Status.READY_TO_PACK,
) -> Order:
    """An order of ``fills`` fills standing at ``status`` (ready to pack unless given),
    each of its own stocked prescription, dispensed as the fill step leaves it. The first
    fill is refrigerated with ``cold_chain``, the last controlled with ``controlled``.
    The patient has a default shipping address unless one is given."""
    patient = patient or shippable_patient()
    order = Order.objects.create(patient=patient)
    for number in range(fills):
        is_cold = cold_chain and number == 0
        is_controlled = controlled and number == fills - 1
        if is_cold:
            package = cold_chain_package()
        elif is_controlled:
            package = controlled_package()
        else:
            package = stocked_package()
        prescription = stocked_prescription(product=package.product, patient=patient)
        fill_at(status, prescription=prescription, order=order, is_cold_chain=is_cold)
    # The pharmacists of PV1 and PV2, as the workflow records them.
    now = timezone.now()
    verified = {"pv1_by": _pharmacist(), "pv1_at": now}
    if status in (Fill.Status.READY_TO_PACK, Fill.Status.PACKED, Fill.Status.SHIPPED):
        verified |= {"pv2_by": _pharmacist(), "pv2_at": now}
    Fill.objects.filter(order=order).update(**verified)
    return order


def order_awaiting_packing(**ready) -> Order:
    """``ready_order(**ready)`` with its shipment, made by the service the fill workflow
    queues when an order's last fill passes PV2 (``create_shipment_for_order``)."""
    order = ready_order(**ready)
    create_shipment_for_order(order)
    return order


def _pharmacist():
    return another_staff(Role.PHARMACIST)


def _snapshot(order: Order) -> dict:
    patient = order.patient
    address = patient.default_shipping_address
    return {
        "ship_to_name": patient.full_name,
        "ship_to_line1": address.line1,
        "ship_to_line2": address.line2,
        "ship_to_city": address.city,
        "ship_to_state": address.state,
        "ship_to_postal_code": address.postal_code,
        "ship_to_phone": patient.phone,
    }


class ShipmentFactory(factory.django.DjangoModelFactory):
    """A shipment awaiting packing of a ready order (``ready_order()`` unless given), its
    address copied from the patient's default shipping address, with its first event."""

    class Meta:
        model = Shipment
        skip_postgeneration_save = True

    order = factory.LazyFunction(ready_order)
    status = Shipment.Status.AWAITING_PACKING
    ship_to_name = factory.LazyAttribute(lambda o: _snapshot(o.order)["ship_to_name"])
    ship_to_line1 = factory.LazyAttribute(lambda o: _snapshot(o.order)["ship_to_line1"])
    ship_to_line2 = factory.LazyAttribute(lambda o: _snapshot(o.order)["ship_to_line2"])
    ship_to_city = factory.LazyAttribute(lambda o: _snapshot(o.order)["ship_to_city"])
    ship_to_state = factory.LazyAttribute(lambda o: _snapshot(o.order)["ship_to_state"])
    ship_to_postal_code = factory.LazyAttribute(lambda o: _snapshot(o.order)["ship_to_postal_code"])
    ship_to_phone = factory.LazyAttribute(lambda o: _snapshot(o.order)["ship_to_phone"])

    @factory.post_generation
    def event(self, create, extracted, **kwargs):
        if create:
            ShipmentEvent.objects.create(
                shipment=self, from_status="", to_status=self.status, occurred_at=self.created_at
            )


class CarrierServiceFactory(factory.django.DjangoModelFactory):
    """A local-carrier service level (2-day, cold chain and controlled allowed); an
    existing (carrier, code), like the migration's ``TWO_DAY``, is reused as it is."""

    class Meta:
        model = CarrierService
        django_get_or_create = ("carrier", "code")

    carrier = Carrier.LOCAL
    code = factory.Sequence(lambda n: f"TEST{n}")
    name = factory.LazyAttribute(lambda o: f"Test service {o.code}")
    transit_days = 2
    allows_cold_chain = True
    allows_controlled = True


def labelled_shipment(order: Order | None = None, *, service_code: str = "TWO_DAY", **fields):
    """A shipment as packing leaves it once the carrier sold the label: labelled (unless
    ``status`` says later), its fills packed, a local-carrier service, the local carrier's
    tracking number, a weight and a pack time; cold chain, controlled and signature follow
    the fills unless given."""
    from shipping.carriers import LocalCarrier  # noqa: PLC0415 (only labelled shipments need it)
    from shipping.services.rules import is_cold_chain_fill, is_controlled_fill  # noqa: PLC0415

    order = order or ready_order(status=Fill.Status.PACKED)
    fills = list(order.fills.select_related("prescription__product"))
    controlled = any(is_controlled_fill(fill) for fill in fills)
    fields.setdefault("is_cold_chain", any(is_cold_chain_fill(fill) for fill in fills))
    fields.setdefault("is_controlled", controlled)
    fields.setdefault("signature_required", controlled)
    if "service" not in fields:
        fields["service"] = CarrierServiceFactory(
            code=service_code, name={"TWO_DAY": "Courier 2-day"}.get(service_code, service_code)
        )
    fields.setdefault("carrier", fields["service"].carrier)
    fields.setdefault("status", Shipment.Status.LABELLED)
    shipment = ShipmentFactory(
        order=order,
        weight_oz=fields.pop("weight_oz", Decimal("20.5")),
        packed_at=fields.pop("packed_at", timezone.now()),
        **fields,
    )
    if not shipment.tracking_number:
        shipment.tracking_number = LocalCarrier.tracking_number_for(shipment.pk)
        shipment.save(update_fields=["tracking_number"])
    return shipment


def deliver_side_effects() -> int:
    """Deliver every side effect that is due, and those the deliveries record in turn
    (a label bought records its documents), as the outbox's worker and sweep would;
    returns how many were delivered."""
    delivered = 0
    while batch := deliver_due_side_effects():
        delivered += batch
    return delivered


def side_effects(kind: str, **filters) -> list[OutboxMessage]:
    """The outbox messages of ``kind`` (oldest first)."""
    return list(OutboxMessage.objects.filter(kind=kind, **filters).order_by("pk"))
