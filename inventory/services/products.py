"""What pharmacists record about a catalogue product that the NDC Directory does not
hold: what one dosage unit looks like (shape, colour, imprint), checked against the
stock bottle at the fill station and at PV2."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError

from inventory.models import Product
from lib.text import stored, text_problem

logger = logging.getLogger(__name__)

# Only pharmacists verify prescriptions; the look of a tablet is what they verify against.
DESCRIBE_UNITS = "pharmacy.verify_prescriptions"


def set_unit_description(product: Product, *, description: str, by) -> Product:
    """Record what one unit of the product looks like ("white, oval, film-coated tablet,
    imprint 'M L 50'"); an empty text clears it. An NDC import never writes it.

    Raises PermissionDenied for anyone but a pharmacist, and ValidationError (writing
    nothing) for a text longer than the field or holding control or direction
    characters.
    """
    if not by.has_perm(DESCRIBE_UNITS):
        raise PermissionDenied("Only a pharmacist may describe what a product's units look like.")
    text = stored(description)
    problem = text_problem(text)
    if problem:
        raise ValidationError(f"The description {problem}.", code="invalid_text")
    limit = Product._meta.get_field("unit_description").max_length
    if len(text) > limit:
        raise ValidationError(
            f"The description is {len(text)} characters long; at most {limit} fit.",
            code="too_long",
        )
    if product.unit_description != text:
        product.unit_description = text
        product.save(update_fields=["unit_description", "updated_at"])
        logger.info("%s described the units of %s", by, product.product_ndc)
    return product
