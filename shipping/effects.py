"""How the shipping app's side effects are delivered (the outbox's deliverers, found at
start-up by ``outbox.apps``): what a worker does with a ``shipping.*`` row, recorded in the
transaction of the change that calls for it. Each is idempotent where the effect lands:
see ``outbox.registry`` for what raising means.

- ``shipping.create_shipment`` (recorded by the fill workflow, ``orders``, when a move
  leaves an order ready to pack; one per order): the order's shipment, awaiting packing
  (the unique constraint ``one_shipment_per_order``).
- ``shipping.buy_label``, ``shipping.documents``, ``shipping.shipped_email``,
  ``shipping.label_batch``: the carrier label of a packing, the label and packing slip
  PDFs, the patient's "your order shipped" e-mail, a slice of a wave of labels.
"""

from orders.models import Order
from outbox.models import OutboxMessage
from outbox.registry import PermanentFailure, delivers
from shipping.models import LabelBatch, Shipment
from shipping.services import documents, shipments


@delivers("shipping.create_shipment")
def deliver_order_shipment(message: OutboxMessage) -> None:
    """Make the ready order's shipment (``shipments.create_shipment_for_order``). An order
    no longer ready, already shipped from, or whose address cannot be shipped to is
    nothing to do: the blocked list shows the last, and the beat catch-up
    (``ensure_shipments_for_ready_orders``) makes its shipment once the address is
    corrected. Raises PermanentFailure when the order is gone."""
    order = Order.objects.filter(pk=message.target_id).first()
    if order is None:
        raise PermanentFailure(f"Order {message.target_id} does not exist.")
    shipments.create_shipment_for_order(order)


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
