"""The address a shipment goes to: the patient's default shipping address, checked and
copied onto the shipment as it is when the shipment is made.

An address a carrier cannot take blocks the order, not the data: no shipment is made,
``blocked_orders`` lists the order "cannot ship" with the reason, and once a technician
corrects the patient's address the catch-up makes the shipment.
"""

from lib.us_addresses import address_problem_sentences, address_problems
from pharmacy.models import Patient
from shipping.services.shipments.helpers import ShippingError


def validate_ship_to_address(patient: Patient) -> dict:
    """The shipment's address snapshot from the patient's default shipping address.

    Raises ShippingError ``no_shipping_address`` or ``address_invalid`` (with the
    ``problems``, each a sentence) for an address a carrier cannot take: a missing
    street, city, state or ZIP code, a state that is not a US state or territory code,
    a ZIP code that is not 5 digits or 5+4 (12345-6789).
    """
    address = patient.default_shipping_address
    if address is None:
        raise ShippingError(
            "no_shipping_address",
            f"{patient.full_name} has no default shipping address: add one to the patient.",
            problems=["No default shipping address."],
        )
    line1, city = address.line1.strip(), address.city.strip()
    state, postal_code = address.state.strip().upper(), address.postal_code.strip()
    problems = [] if patient.full_name.strip() else ["The patient has no name to put on the label."]
    problems += address_problem_sentences(
        address_problems({"line1": line1, "city": city, "state": state, "postal_code": postal_code})
    )
    if problems:
        raise ShippingError(
            "address_invalid",
            f"The shipping address of {patient.full_name} cannot be shipped to: "
            + " ".join(problems)
            + " Correct it on the patient's record.",
            problems=problems,
        )
    return {
        "ship_to_name": patient.full_name.strip()[:200],
        "ship_to_line1": line1,
        "ship_to_line2": address.line2.strip(),
        "ship_to_city": city,
        "ship_to_state": state,
        "ship_to_postal_code": postal_code,
        "ship_to_phone": patient.phone.strip(),
    }
