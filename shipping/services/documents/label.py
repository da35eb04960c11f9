"""The 4 x 6 inch carrier label: what it prints (``shipping_label_data``, the data its
content hash is taken over) and the PDF rendered from that.

The label goes on the outside of the box: addresses, carrier and service, the tracking
number (Code 128 and text), the package id and the cold-chain or signature marks, and
nothing about what is inside (no drug name, nothing that says "controlled").
"""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from orders.services.pdf import thread_renderer
from shipping.models import Shipment
from shipping.services.documents._common import (
    CSS_DIR,
    HAS_LABEL,
    _barcode,
    _carrier_name,
    _city_line,
    _us_date,
    _weight,
    ship_to_address,
)
from shipping.services.shipments import ShippingError

# Part of the hashed data: a change of the template or its CSS that moves what the label
# shows must change this name, so existing labels are made again.
LABEL_LAYOUT = "shipping-label-4x6in-v1"
LABEL_CSS = CSS_DIR / "shipping_label.css"

# Code 128 of the tracking number: bars of 1.4 pt (19 mil, inside the 13-21 mil carriers
# scan best) unless the code is too long for the label's width; then as wide as fits.
TRACKING_MODULE_PT = Decimal("1.4")
TRACKING_MAX_WIDTH_PT = Decimal(255)
# The longest ship-to line printed in the large type, and in the middle one.
ADDRESS_LINE = 28
LONG_ADDRESS_LINE = 36

COLD_CHAIN_MARK = {
    "title": "REFRIGERATE - PERISHABLE",
    "note": "Deliver today. Do not leave in heat or sun.",
}
SIGNATURE_MARK = {
    "title": "SIGNATURE REQUIRED",
    "note": "Do not leave the package without a signature.",
}


def _printed_carrier(shipment: Shipment) -> str:
    """Who carries the package: through an aggregator (EasyPost) the carrier of the
    service ("USPS:Priority" -> "USPS"), else the carrier itself."""
    service_code = shipment.service.code if shipment.service else ""
    if ":" in service_code:
        return service_code.split(":")[0]
    return _carrier_name(shipment.carrier)


def _shipment_date(shipment: Shipment) -> date:
    """The day printed as the ship date: the first day the rules allow it to ship, else
    the day it was packed; fixed, so the same label made again prints the same."""
    if shipment.ship_on:
        return shipment.ship_on
    return timezone.localtime(shipment.packed_at or shipment.created_at).date()


def _refuse_unless_labelled(shipment: Shipment) -> None:
    if shipment.status in HAS_LABEL and shipment.tracking_number and shipment.service_id:
        return
    raise ShippingError(
        "label_not_ready",
        f"Package {shipment.package_code} has no carrier label yet: the carrier sells it "
        "when the package is packed.",
        package_codes=[shipment.package_code],
    )


def shipping_label_data(shipment: Shipment) -> dict:
    """Everything the shipment's carrier label prints, as plain JSON values, from the
    shipment as given (``generate_shipping_label`` reads it fresh). The content hash is
    taken over exactly this. Nothing of the order's contents is in it."""
    ship_from = settings.SHIP_FROM
    marks = []
    if shipment.is_cold_chain:
        marks.append(COLD_CHAIN_MARK)
    if shipment.signature_required:
        marks.append(SIGNATURE_MARK)
    return {
        "layout": LABEL_LAYOUT,
        "ship_date": _shipment_date(shipment).isoformat(),
        "from": {
            "name": ship_from["name"],
            "line1": ship_from["line1"],
            "line2": ship_from.get("line2", ""),
            "city": ship_from["city"],
            "state": ship_from["state"],
            "postal_code": ship_from["postal_code"],
            "phone": ship_from.get("phone", ""),
        },
        "to": ship_to_address(shipment),
        "carrier": _printed_carrier(shipment),
        "service": shipment.service.name if shipment.service else "",
        "service_code": shipment.service.code if shipment.service else "",
        "tracking_number": shipment.tracking_number,
        "package_code": shipment.package_code,
        "weight": _weight(shipment.weight_oz),
        "marks": marks,
    }


def _grouped(code: str) -> str:
    """A tracking number in groups of four, as carriers print it for people to read."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def _address_size(lines: list[str]) -> str:
    """The type of the ship-to address: large while its longest line fits the label's
    width in it (28 wide capitals at 13 pt, 36 at 10.5 pt), else smaller; longer
    still wraps inside its box."""
    longest = max(len(line) for line in lines)
    if longest > LONG_ADDRESS_LINE:
        return "longer"
    if longest > ADDRESS_LINE:
        return "long"
    return ""


def render_shipping_label_pdf(data: dict) -> bytes:
    """The label as PDF bytes: one 4 x 6 inch page, the same bytes for the same data (its
    creation date is the ship date, no clock time; no random file identifier)."""
    barcode = _barcode(
        data["tracking_number"],
        module_pt=TRACKING_MODULE_PT,
        height="0.85in",
        max_width_pt=TRACKING_MAX_WIDTH_PT,
    )
    ship_from, to = data["from"], data["to"]
    from_lines = [
        ship_from["name"],
        ship_from["line1"],
        ship_from["line2"],
        _city_line(ship_from["city"], ship_from["state"], ship_from["postal_code"]),
        ship_from["phone"],
    ]
    to_lines = [
        to["name"],
        to["line1"],
        to["line2"],
        f"{to['city']} {to['state']} {to['postal_code']}",
    ]
    facts = [
        f"Ship date {_us_date(data['ship_date'])}",
        f"Weight {data['weight']}" if data["weight"] else "",
        data["service_code"],
    ]
    html = render_to_string(
        "shipping/label_4x6.html",
        {
            "label": data,
            "from_text": "\n".join(filter(None, from_lines)),
            # Capitals here, not by CSS (the same look for less layout work).
            "service_text": f"{data['carrier'] or '-'}\n{data['service']}".upper(),
            "to_text": "\n".join(filter(None, to_lines)).upper(),
            "to_size": _address_size(to_lines),
            "barcode": barcode["svg"],
            "barcode_width": barcode["width"],
            "tracking_text": _grouped(data["tracking_number"]),
            "facts": "\t".join(filter(None, facts)),
        },
    )
    renderer = thread_renderer(LABEL_CSS, document="shipping label", user_agent_stylesheet=False)
    document = renderer.render(html)
    return document.write_pdf()
