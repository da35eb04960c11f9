"""Deliverers of the shipping app's side effects (``outbox``): what a worker does with a
``shipping.*`` row, recorded in the transaction of the change that calls for it.

- ``shipping.create_shipment`` (recorded by the fill workflow, ``orders``, when a move
  leaves an order ready to pack; one per order): make the order's shipment, awaiting
  packing. Idempotent where it lands: the unique constraint ``one_shipment_per_order``.
"""

from orders.models import Order
from outbox.models import OutboxMessage
from outbox.registry import PermanentFailure, delivers
from shipping.services import shipments


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
