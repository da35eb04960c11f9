"""The shipping part of the demo pharmacy that ``manage.py seed_demo`` loads.

It runs after the pharmacy, inventory and orders demos. Ten prescriptions, phoned in (the
schedule II one mailed in) for patients and prescribers of the demo pharmacy (prescriber's
order numbers ``DEMO-SHIP-nnnn``), are taken by the demo staff through the fill workflow
(``orders.services.workflow``: PV1, the scan-verified fill, PV2) and then through the
shipping services, exactly as people and carriers would:

* orders ready to pack: one room-temperature, one refrigerated (insulin: an insulated box,
  cold packs and a ship day that never leaves it in transit over a weekend, shown to the
  packer as instructions);
* a controlled substance (oxycodone, schedule II) packed in a plain box with a signature
  required, its label still to buy (a worker buys it once the seed is committed);
* packages labelled, handed to the carrier, in transit and delivered (the tracking events
  come through the local carrier's signed webhook, ``record_carrier_event``);
* delivery exceptions: one the carrier reported (damaged, open), one returned to the
  pharmacy and reshipped as it came back, and one lost that a pharmacist resolved with a
  reship and a replacement fill, now waiting at the fill step.

Each scenario runs only in the seed that receives its prescription: running the seed
again creates nothing. The orders demo's own fills are left exactly as it made them.
"""

import json
from dataclasses import dataclass
from io import TextIOBase

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders.demo import (
    CAPSULE,
    TABLET,
    DemoPrescription,
    demo_patient,
    demo_prescriber,
    incoming_prescription,
    pass_pv1,
    verbal_order_of,
)
from orders.models import Channel, Fill, Prescription
from orders.services.intake import receive_prescription
from orders.services.workflow import (
    approve_pv2,
    fill_with_scan,
    suggest_lot,
)
from pharmacy.demo import DemoSummary
from pharmacy.models import User
from shipping.carriers import hmac_hex
from shipping.models import DeliveryException, Shipment
from shipping.services.shipments import (
    create_shipment_for_order,
    ensure_shipments_for_ready_orders,
    hand_over_to_carrier,
    pack_shipment,
    purchase_label,
    record_carrier_event,
    report_delivery_exception,
    resolve_delivery_exception,
    shipment_fills,
)

# How far each shipment goes.
READY, PACKED, LABELLED, HANDED, IN_TRANSIT, DELIVERED, DAMAGED, RETURNED, LOST = (
    "ready", "packed", "labelled", "handed", "in_transit", "delivered", "damaged",
    "returned", "lost",
)  # fmt: skip


@dataclass(frozen=True)
class ShippingScenario:
    prescription: DemoPrescription
    stage: str
    weight_oz: str = "8.0"


def _rx(key, patient, prescriber, drug, ndc, quantity, unit, days, sig, *, channel=None, **more):
    """A prescription phoned in (a schedule II one mailed in: 21 CFR 1306.11)."""
    channel = channel or (Channel.WRITTEN if more.get("dea_schedule") == "CII" else Channel.PHONE)
    return DemoPrescription(
        key, channel, demo_patient(patient), demo_prescriber(prescriber), drug, ndc,
        quantity, unit, days, 0 if more.get("dea_schedule") == "CII" else 1, sig, 2, **more,
    )  # fmt: skip


DAILY = "Take 1 tablet by mouth once daily"
SCENARIOS = (
    ShippingScenario(
        _rx("DEMO-SHIP-0001", "Hassan", "Chen", "Atorvastatin Calcium 40 MG Oral Tablet",
            "59762-0157-1", "90", TABLET, 90, DAILY),
        READY,
    ),
    ShippingScenario(
        _rx("DEMO-SHIP-0002", "Yoon", "Park", "Insulin Glargine 100 UNT/ML Injectable Solution",
            "0088-2220-33", "10", "mL", 30,
            "Inject 20 units under the skin once daily at bedtime"),
        READY,
    ),
    ShippingScenario(
        _rx("DEMO-SHIP-0003", "Dubois", "Whitfield",
            "Oxycodone Hydrochloride 5 MG / Acetaminophen 325 MG Oral Tablet", "0406-0512-01",
            "20", TABLET, 5, "Take 1 tablet by mouth every 6 hours as needed for severe pain",
            dea_schedule="CII", note="After shoulder surgery"),
        PACKED,
    ),
    ShippingScenario(
        _rx("DEMO-SHIP-0004", "Thompson", "Raman", "Lisinopril 10 MG Oral Tablet",
            "68180-514-01", "90", TABLET, 90, DAILY),
        LABELLED,
    ),
    ShippingScenario(
        _rx("DEMO-SHIP-0005", "Carter", "O'Brien", "Amlodipine Besylate 5 MG Oral Tablet",
            "31722-238-90", "90", TABLET, 90, DAILY),
        HANDED,
    ),
    ShippingScenario(
        _rx("DEMO-SHIP-0006", "Price", "Raman", "Metformin Hydrochloride 500 MG Oral Tablet",
            "68382-028-01", "60", TABLET, 30, "Take 1 tablet by mouth twice daily with meals"),
        IN_TRANSIT,
    ),
    ShippingScenario(
        _rx("DEMO-SHIP-0007", "Hassan", "Chen", "Losartan Potassium 50 MG Oral Tablet",
            "13668-409-90", "90", TABLET, 90, DAILY),
        DELIVERED,
    ),
    ShippingScenario(
        _rx("DEMO-SHIP-0008", "Thompson", "Raman", "Hydrochlorothiazide 25 MG Oral Tablet",
            "29300-128-01", "90", TABLET, 90, "Take 1 tablet by mouth every morning"),
        DAMAGED,
    ),
    ShippingScenario(
        _rx("DEMO-SHIP-0009", "Carter", "Park",
            "Pantoprazole Sodium 40 MG Delayed Release Oral Tablet", "0093-0012-98", "90",
            TABLET, 90, "Take 1 tablet by mouth once daily before breakfast"),
        RETURNED,
    ),
    ShippingScenario(
        _rx("DEMO-SHIP-0010", "Price", "Raman", "Omeprazole 20 MG Delayed Release Oral Capsule",
            "55111-158-30", "30", CAPSULE, 30,
            "Take 1 capsule by mouth once daily before breakfast"),
        LOST,
    ),
)  # fmt: skip

# Where each stage ends up.
SHIPMENT_STATUS = {
    READY: Shipment.Status.AWAITING_PACKING,
    PACKED: Shipment.Status.PACKED,
    LABELLED: Shipment.Status.LABELLED,
    HANDED: Shipment.Status.HANDED_TO_CARRIER,
    IN_TRANSIT: Shipment.Status.IN_TRANSIT,
    DELIVERED: Shipment.Status.DELIVERED,
    DAMAGED: Shipment.Status.EXCEPTION,
    RETURNED: Shipment.Status.RETURNED,
    LOST: Shipment.Status.EXCEPTION,
}


class DemoStaff:
    def __init__(self):
        found = {
            user.username: user
            for user in User.objects.filter(
                username__in=["technician", "technician2", "pharmacist", "pharmacist2", "manager"]
            )
        }
        self.technician = found.get("technician")
        self.packer = found.get("technician2")
        self.pharmacist = found.get("pharmacist")
        self.checker = found.get("pharmacist2")
        self.manager = found.get("manager")

    @property
    def complete(self) -> bool:
        return None not in (
            self.technician, self.packer, self.pharmacist, self.checker, self.manager
        )  # fmt: skip


def _existing(rx: DemoPrescription) -> Prescription | None:
    return Prescription.objects.filter(channel=rx.channel, prescriber_order_number=rx.key).first()


def _bottle_scan(lot) -> str:
    from inventory.ndc import gtin14_from_ndc  # noqa: PLC0415

    return f"]d201{gtin14_from_ndc(lot.package.package_ndc)}17{lot.expiry:%y%m%d}10{lot.lot_number}"


def _to_ready_to_pack(fill: Fill, staff: DemoStaff) -> bool:
    """PV1 (every alert overridden), the fill from the suggested lot, PV2 by another
    pharmacist. False, leaving the fill where it is, when no lot holds its quantity."""
    if fill.status != Fill.Status.PV1:
        return False
    lot = suggest_lot(fill)
    if lot is None or lot.quantity_on_hand < fill.quantity:
        return False
    pass_pv1(fill, by=staff.pharmacist)
    fill_with_scan(fill, by=staff.technician, scan=_bottle_scan(lot), quantity=fill.quantity)
    approve_pv2(
        Fill.objects.get(pk=fill.pk), by=staff.checker, scan=fill.label_code, entry="scanned"
    )
    return True


def _carrier_event(shipment: Shipment, status: str, detail: str) -> None:
    """The local carrier's tracking webhook, signed as the courier's system signs it."""
    body = json.dumps(
        {
            "event_id": f"demo-{shipment.package_code}-{status}",
            "tracking_number": shipment.tracking_number,
            "status": status,
            "occurred_at": timezone.now().isoformat(),
            "detail": detail,
        }
    ).encode()
    record_carrier_event(
        "local", body=body, signature=hmac_hex(settings.LOCAL_CARRIER_WEBHOOK_SECRET, body)
    )


def _ship(scenario: ShippingScenario, fill: Fill, staff: DemoStaff) -> Shipment | None:
    """Take the order's shipment as far as the scenario goes."""
    # What the task queued by PV2 approval does, done now: the demo goes on packing it.
    create_shipment_for_order(fill.order)
    shipment = Shipment.objects.filter(order_id=fill.order_id).first()
    stage = scenario.stage
    if shipment is None or stage == READY:
        return shipment
    scans = [shipment.package_code, *(f.label_code for f in shipment_fills(shipment))]
    shipment = pack_shipment(
        shipment, by=staff.packer, scans=scans, weight_oz=scenario.weight_oz, entry="scanned"
    )
    if stage == PACKED:
        return shipment
    # What the worker does once the packing commits, done now: the demo goes on with it.
    shipment = purchase_label(shipment)
    if stage == LABELLED:
        return shipment
    hand_over_to_carrier([shipment], by=staff.packer)
    if stage == HANDED:
        return shipment
    if stage == LOST:
        problem = report_delivery_exception(
            shipment,
            by=staff.technician,
            kind=DeliveryException.Kind.LOST,
            description="The patient called: no delivery and no tracking scan for 6 days.",
        )
        resolve_delivery_exception(
            problem,
            by=staff.pharmacist,
            resolution="The courier confirmed the loss. Replaced and reshipped at no charge.",
            reship=True,
            replace_fills=shipment_fills(shipment),
        )
        return shipment
    _carrier_event(shipment, "in_transit", "Picked up by the courier")
    if stage == IN_TRANSIT:
        return shipment
    if stage == DELIVERED:
        _carrier_event(shipment, "out_for_delivery", "On the van")
        _carrier_event(shipment, "delivered", "Left with the patient at the front door")
    elif stage == DAMAGED:
        _carrier_event(shipment, "exception", "Box crushed in the depot; contents may be damaged")
    elif stage == RETURNED:
        _carrier_event(shipment, "returned", "Refused at the door: patient moved")
        problem = DeliveryException.objects.filter(shipment=shipment).latest("pk")
        resolve_delivery_exception(
            problem,
            by=staff.manager,
            resolution="The patient gave their new address by phone; the sealed package "
            "came back intact and goes out again.",
            reship=True,
        )
    return shipment


def seed_demo(*, stdout: TextIOBase) -> dict[str, int]:
    """Load the shipping part of the demo pharmacy, in one transaction (after the other
    demos: it needs their staff, patients, prescribers, catalogue and stock). Returns how
    many rows of each kind were created; a second run creates none."""
    summary = DemoSummary()
    staff = DemoStaff()
    today = timezone.localdate()
    created = shipped = 0
    with transaction.atomic():
        if staff.complete:
            for scenario in SCENARIOS:
                rx = scenario.prescription
                if _existing(rx) is not None:
                    continue
                result = receive_prescription(
                    incoming_prescription(rx, today=today),
                    channel=rx.channel,
                    by=staff.technician,
                    today=today,
                    verbal_order=verbal_order_of(rx),
                )
                if not result.created:
                    continue
                created += 1
                fill = result.prescription.fills.get(fill_number=0)
                if _to_ready_to_pack(fill, staff):
                    shipped += _ship(scenario, fill, staff) is not None
        # Orders the other demos left ready to pack: made now, as the catch-up would, so
        # the seeded pharmacy is whole before any worker runs.
        ensure_shipments_for_ready_orders()
        summary.count("shipping prescriptions", total=len(SCENARIOS), created=created)
        summary.count("shipping scenarios", total=len(SCENARIOS), created=shipped)
    stdout.write("Demo shipments:")
    for line in summary.lines():
        stdout.write(line)
    return summary.created
