"""Shipments: made when an order is ready, packed by scan, labelled by a carrier, handed
over, tracked by the carrier's webhooks, and reshipped after a delivery exception.

Every write here is one business step. Each locks the shipment row (SELECT ... FOR
UPDATE) and re-reads its status in its own transaction, checks the move against
``SHIPMENT_MOVES`` and the actor's role, writes a ``ShipmentEvent`` for every status
change in the same transaction, and records its side effects (the carrier label's
purchase, the documents, the patient's e-mail) in the outbox in that transaction: a
worker delivers them (``shipping.effects``). One module per part:

``helpers``: ``ShippingError``, locking a shipment, checking and making a move.
``addresses``: the address a shipment goes to, checked.
``contents``: what goes in a package, and the packaging rules' plan written on it.
``creation``: making an order's shipment once it is ready to pack, and the orders that
cannot ship.
``moves``: moves without checks of their own (a carrier's, back to packing).
``packing``: packing by scan, handing packages over.
``label_purchase``: buying the carrier label of a packed package.
``patient_email``: the patient's e-mail when the package is handed over.
``carrier_events``: the carriers' tracking events.
``delivery_exceptions``: delivery exceptions and reships.

The names below are what other modules import from ``shipping.services.shipments``.
"""

from shipping.services.shipments.addresses import (
    validate_ship_to_address,
)
from shipping.services.shipments.carrier_events import (
    CARRIER_EVENT_SHIPMENT_STATUS,
    PROGRESS,
    record_carrier_event,
)
from shipping.services.shipments.contents import shipment_fills
from shipping.services.shipments.creation import (
    BlockedOrder,
    blocked_orders,
    create_shipment_for_order,
    ensure_shipments_for_ready_orders,
    ready_orders_without_shipment,
)
from shipping.services.shipments.delivery_exceptions import (
    report_delivery_exception,
    resolve_delivery_exception,
)
from shipping.services.shipments.helpers import BEFORE_HANDOVER, ShippingError
from shipping.services.shipments.label_purchase import (
    LABEL_PURCHASE,
    label_purchase_problem,
    purchase_label,
    retry_label_purchase,
)
from shipping.services.shipments.moves import STEP_SERVICES, transition_shipment
from shipping.services.shipments.packing import (
    MAX_WEIGHT_OZ,
    hand_over_to_carrier,
    pack_shipment,
)
from shipping.services.shipments.patient_email import (
    SHIPPED_EMAIL,
    notify_patient_of_shipment,
    shipped_email_message_id,
)

__all__ = [
    "BEFORE_HANDOVER",
    "CARRIER_EVENT_SHIPMENT_STATUS",
    "LABEL_PURCHASE",
    "MAX_WEIGHT_OZ",
    "PROGRESS",
    "SHIPPED_EMAIL",
    "STEP_SERVICES",
    "BlockedOrder",
    "ShippingError",
    "blocked_orders",
    "create_shipment_for_order",
    "ensure_shipments_for_ready_orders",
    "hand_over_to_carrier",
    "label_purchase_problem",
    "notify_patient_of_shipment",
    "pack_shipment",
    "purchase_label",
    "ready_orders_without_shipment",
    "record_carrier_event",
    "report_delivery_exception",
    "resolve_delivery_exception",
    "retry_label_purchase",
    "shipment_fills",
    "shipped_email_message_id",
    "transition_shipment",
    "validate_ship_to_address",
]
