"""How the shipping app's side effects are delivered (the outbox's deliverers, found at
start-up by ``outbox.apps``). Each is idempotent where the effect lands: see
``outbox.registry`` for what raising means."""

from outbox.registry import PermanentFailure, delivers
from shipping.models import LabelBatch, Shipment
from shipping.services import documents, shipments

# The carrier's refusals that trying again cannot cure: someone must change the
# configuration, the service or the package first, then send the purchase again.
_CARRIER_REFUSALS_FOR_GOOD = frozenset(
    {"carrier_not_configured", "unknown_service", "no_rate", "tracking_overflow"}
)


def _shipment(message) -> Shipment:
    shipment = Shipment.objects.filter(pk=message.target_id).first()
    if shipment is None:
        raise PermanentFailure(f"Shipment {message.target_id} does not exist.")
    return shipment


@delivers(shipments.LABEL_PURCHASE)
def buy_carrier_label(message) -> None:
    """Buy the label of the packing that recorded the message; a carrier that failed is
    tried again with back-off, one that refused for good waits for a person."""
    try:
        shipments.purchase_label(_shipment(message), packing=message.payload["packing"])
    except shipments.ShippingError as error:
        if error.code in {"no_carrier", "carrier_not_configured"} or (
            error.extra.get("carrier_code") in _CARRIER_REFUSALS_FOR_GOOD
        ):
            raise PermanentFailure(error.detail) from None
        raise


@delivers(documents.SHIPPING_DOCUMENTS)
def make_shipping_documents(message) -> None:
    """The shipment's label (once bought) and packing slip, made once per content."""
    documents.generate_shipping_documents(_shipment(message))


@delivers(shipments.SHIPPED_EMAIL)
def send_shipped_email(message) -> None:
    """The patient's "your order shipped" e-mail, under a Message-ID of this message."""
    shipments.notify_patient_of_shipment(
        _shipment(message), message_id=shipments.shipped_email_message_id(message)
    )


@delivers(documents.LABEL_BATCH)
def print_label_batch(message) -> None:
    """A slice of a wave of labels; the rest is recorded as the next message."""
    batch = LabelBatch.objects.filter(pk=message.target_id).first()
    if batch is None:
        raise PermanentFailure(f"Label batch {message.target_id} does not exist.")
    documents.print_label_batch(batch, seconds=documents.label_batch_slice_seconds())
