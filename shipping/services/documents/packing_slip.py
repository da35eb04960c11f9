"""The patient's packing slip: what it prints (``packing_slip_data``, the data its
content hash is taken over) and the PDF rendered from that.

The slip goes inside the box: what is in it and how to reach the pharmacy; the top of its
first page shows only the package id and the patient's name. It is printed and scanned
before packing (its barcode opens the packing station).
"""

from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from orders.services.labels import rx_label_data
from orders.services.pdf import thread_renderer
from shipping.models import Shipment
from shipping.services.documents._common import (
    CSS_DIR,
    _barcode,
    _city_line,
    _us_date,
    ship_to_address,
)
from shipping.services.rules import is_cold_chain_fill
from shipping.services.shipments import shipment_fills

# Part of the hashed data: a change of the template or its CSS that moves what the slip
# shows must change this name, so existing slips are made again.
PACKING_SLIP_LAYOUT = "packing-slip-letter-v2"  # v2: the ship-to address
PACKING_SLIP_CSS = CSS_DIR / "shipping_packing_slip.css"
PACKAGE_MODULE_PT = Decimal("1.2")


def _medication(drug: dict) -> str:
    """ "Atomoxetine hydrochloride 10 mg capsule (Strattera)" from the Rx label's drug."""
    text = " ".join(filter(None, [drug["generic"], drug["strength"], drug["dosage_form"].lower()]))
    text = text[:1].upper() + text[1:]
    return f"{text} ({drug['brand']})" if drug["brand"] else text


def packing_slip_data(shipment: Shipment) -> dict:
    """Everything the shipment's packing slip prints, as plain JSON values: the package
    id and patient, the address it is shipped to (so the packer can match the slip to
    the label, and the patient sees where it was meant to go), each fill in the box as
    its Rx label names it (Rx number, drug, quantity, refills left), the handling notes
    and the pharmacy's contact. Nothing the packing step decides (carrier, tracking
    number, packaging): the slip is printed and scanned before the package is packed,
    so the one in the box stays the current one."""
    order = shipment.order
    items = []
    for fill in shipment_fills(shipment):
        label = rx_label_data(fill)
        items.append(
            {
                "rx_number": label["rx_number"],
                "medication": _medication(label["drug"]),
                "quantity": f"{label['quantity']} {label['quantity_unit']}".strip(),
                "refills_remaining": label["refills_remaining"],
                "refrigerate": is_cold_chain_fill(fill),
                "is_controlled": bool(label["dea_schedule"]),
            }
        )
    return {
        "layout": PACKING_SLIP_LAYOUT,
        "package_code": shipment.package_code,
        "patient_name": order.patient.full_name,
        "order": order.pk,
        "order_date": timezone.localtime(order.created_at).date().isoformat(),
        "ship_to": ship_to_address(shipment),
        "pharmacy": {
            "name": settings.PHARMACY_NAME,
            "address": settings.PHARMACY_ADDRESS,
            "phone": settings.PHARMACY_PHONE,
        },
        "items": items,
        "cold_chain": any(item["refrigerate"] for item in items),
        "has_controlled": any(item["is_controlled"] for item in items),
    }


def _ship_to_lines(to: dict) -> list[str]:
    city = _city_line(to["city"], to["state"], to["postal_code"])
    return [line for line in (to["name"], to["line1"], to["line2"], city) if line]


def render_packing_slip_pdf(data: dict) -> bytes:
    """The packing slip as PDF bytes (US Letter, as many pages as the items need, each
    page's foot naming the package and the page), the same bytes for the same data."""
    barcode = _barcode(
        data["package_code"],
        module_pt=PACKAGE_MODULE_PT,
        height="0.45in",
        max_width_pt=Decimal(300),
    )
    html = render_to_string(
        "shipping/packing_slip.html",
        {
            "slip": data,
            "barcode": barcode["svg"],
            "barcode_width": barcode["width"],
            "order_date": _us_date(data["order_date"]),
            "ship_to_lines": _ship_to_lines(data["ship_to"]),
        },
    )
    document = thread_renderer(PACKING_SLIP_CSS, document="packing slip").render(html)
    return document.write_pdf()
