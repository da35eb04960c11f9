"""What the shipping documents share: who may print them, how dates, weights, addresses
and carriers are printed, and the Code 128 barcodes."""

import re
from datetime import date
from decimal import Decimal

from django.conf import settings

from orders.services.labels import code128_svg
from pharmacy.models import Role, User
from shipping.models import Carrier, Shipment
from shipping.services.shipments import ShippingError

CSS_DIR = settings.BASE_DIR / "static" / "css"

# The carrier sells the label (tracking number) once the package is packed; before that,
# or after a pharmacist unpacked it, there is no label to print.
HAS_LABEL = frozenset(Shipment.Status) - {Shipment.Status.AWAITING_PACKING}
STAFF_ROLES = frozenset({Role.TECHNICIAN, Role.PHARMACIST, Role.MANAGER})


def _refuse_unless_staff(by: User, what: str) -> None:
    if by.role not in STAFF_ROLES:
        who = by.role_label.lower() if by.role else "user without a role"
        raise ShippingError("role_not_allowed", f"A {who} cannot {what}.", status=403)


def _us_date(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%m/%d/%Y")


def _carrier_name(code: str) -> str:
    """The carrier as printed: "Local delivery", not the admin's "(built in)"."""
    return Carrier(code).label.split(" (")[0] if code else ""


def _weight(weight_oz: Decimal | None) -> str:
    """12.0 -> "12 oz", 20.5 -> "1 lb 4.5 oz"."""
    if weight_oz is None:
        return ""
    pounds, ounces = divmod(Decimal(weight_oz), 16)
    ounces_text = f"{ounces.normalize():f} oz" if ounces else ""
    return " ".join(filter(None, [f"{pounds} lb" if pounds else "", ounces_text])) or "0 oz"


def _city_line(city: str, state: str, postal_code: str) -> str:
    return f"{city}, {state} {postal_code}".strip(" ,")


def ship_to_address(shipment) -> dict:
    """The shipment's ship-to address as it was when the shipment was made: what the
    carrier label and the packing slip print."""
    return {
        "name": shipment.ship_to_name,
        "line1": shipment.ship_to_line1,
        "line2": shipment.ship_to_line2,
        "city": shipment.ship_to_city,
        "state": shipment.ship_to_state,
        "postal_code": shipment.ship_to_postal_code,
    }


def _barcode(code: str, *, module_pt: Decimal, height: str, max_width_pt: Decimal) -> dict:
    """The Code 128 of ``code`` (``orders.services.labels.code128_svg``) and the width it
    is printed at: ``module_pt`` a module, narrower when that would not fit."""
    svg = code128_svg(code, height=height)
    modules = int(re.search(r'viewBox="0 0 (\d+) 1"', svg)[1])
    width = min(modules * module_pt, max_width_pt)
    return {"svg": svg, "width": f"{width:.2f}pt"}
