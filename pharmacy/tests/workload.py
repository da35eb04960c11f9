"""Orders driven from PV1 to the carrier over HTTP, as staff and their scanners would,
and a count of the side effects they caused: which were lost, which landed twice.

Each order is one fill of a stocked drug at PV1, for a patient with an e-mail address and
a shipping address; the drug's reorder rule asks for more than the shelf holds, so its
first dispensing raises a reorder alert. Driving one through the API records every kind
of side effect the workflow has: its Rx label (PV1, and again after the fill step), the
reorder e-mail, the order's shipment (PV2), the carrier label and the documents
(packing), and the patient's "shipped" e-mail (hand-over). Each lands once: a label per
content, one shipment per order, one purchase per packing, an e-mail per Message-ID.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.db.models import Count

from inventory.models import ReorderAlert, ReorderRule, StockLot
from inventory.services.reorder import reorder_alert_message_id
from orders.models import Fill, RxLabel
from orders.tests.factories import datamatrix
from outbox.models import OutboxMessage
from pharmacy.models import Role
from pharmacy.tests.factories import make_api_key, make_staff
from pharmacy.tests.servers import Response, request
from pharmacy.tests.stack import wait_until
from shipping.models import Shipment, ShipmentEvent, ShippingDocument
from shipping.services.shipments import shipped_email_message_id
from shipping.tests.factories import ready_order

SIDE_EFFECT_KINDS = (
    "orders.rx_label",
    "inventory.reorder_email",
    "shipping.create_shipment",
    "shipping.buy_label",
    "shipping.documents",
    "shipping.shipped_email",
)


class Callers:
    """A technician's and a pharmacist's API tokens, sending each request to the next web
    server in turn and keeping how long each one took (``calls``, thread-safe)."""

    def __init__(self, ports: list[int]):
        self._ports = itertools.cycle(ports)
        self._lock = threading.Lock()
        self.calls: list[tuple[float, str]] = []  # (seconds, "METHOD path status")
        self.tokens = {}
        for role in (Role.TECHNICIAN, Role.PHARMACIST, Role.MANAGER):
            staff = make_staff(f"load-{role}", role, email=f"load-{role}@example.org")
            self.tokens[role] = make_api_key(staff)

    def send(self, method: str, path: str, *, role: str, body: dict | None = None) -> Response:
        with self._lock:
            port = next(self._ports)
        headers = {"Authorization": f"Token {self.tokens[role]}"}
        answer = request(port, method, path, body=body, headers=headers, timeout=30)
        with self._lock:
            self.calls.append((answer.seconds, f"{method} {path} {answer.status}"))
        return answer

    def expect(self, status: int, method: str, path: str, *, role: str, body=None) -> dict:
        answer = self.send(method, path, role=role, body=body)
        assert answer.status == status, f"{method} {path}: {answer.status} {answer.body[:300]!r}"
        return answer.json()


@dataclass
class OrderInFlight:
    """One order of one fill, and what driving it learnt on the way."""

    fill: Fill
    lot: StockLot
    label_code: str = ""
    shipment_id: int | None = None


def prepare_orders(count: int) -> list[OrderInFlight]:
    """``count`` orders at PV1 (see the module docstring), committed for the servers."""
    orders = []
    for _ in range(count):
        order = ready_order(status=Fill.Status.PV1)
        fill = order.fills.select_related("prescription").get()
        product_id = fill.prescription.product_id
        ReorderRule.objects.create(
            product_id=product_id, reorder_point=Decimal(100_000), reorder_quantity=Decimal(300)
        )
        lot = StockLot.objects.select_related("package").get(package__product_id=product_id)
        orders.append(OrderInFlight(fill=fill, lot=lot))
    return orders


def drive(callers: Callers, orders: list[OrderInFlight], *, timeout: float = 180) -> None:
    """PV1, fill, PV2 for each order; then, once a worker made its shipment, pack it;
    once its label is bought, hand every package over. Waits at most ``timeout`` seconds
    for each thing a worker does (a broker outage delays them)."""
    for order in orders:
        fill = order.fill.pk
        callers.expect(
            200,
            "POST",
            f"/api/v1/fills/{fill}/pv1/",
            role=Role.PHARMACIST,
            body={"decision": "approve"},
        )
        scan = datamatrix(order.lot.package, lot=order.lot.lot_number)
        filled = callers.expect(
            200,
            "POST",
            f"/api/v1/fills/{fill}/fill/",
            role=Role.TECHNICIAN,
            body={"scan": scan, "quantity": str(order.fill.quantity)},
        )
        order.label_code = filled["label_code"]
        callers.expect(
            200,
            "POST",
            f"/api/v1/fills/{fill}/pv2/",
            role=Role.PHARMACIST,
            body={"decision": "approve", "entry": "scanned", "scan": order.label_code},
        )
    for order in orders:
        order.shipment_id = wait_until(
            f"the shipment of fill {order.fill.pk}",
            lambda order=order: (
                Shipment.objects.filter(order_id=order.fill.order_id)
                .values_list("pk", flat=True)
                .first()
            ),
            timeout=timeout,
        )
        callers.expect(
            200,
            "POST",
            f"/api/v1/shipments/{order.shipment_id}/pack/",
            role=Role.TECHNICIAN,
            body={"entry": "scanned", "scans": [order.label_code], "weight_oz": "6.5"},
        )
    ids = [order.shipment_id for order in orders]
    wait_until(
        "every package labelled",
        lambda: (
            Shipment.objects.filter(pk__in=ids, status=Shipment.Status.LABELLED).count() == len(ids)
        ),
        timeout=timeout,
    )
    callers.expect(
        200, "POST", "/api/v1/shipments/hand-over/", role=Role.TECHNICIAN, body={"shipments": ids}
    )


def wait_until_delivered(*, since: int, timeout: float = 180) -> None:
    """Every side effect recorded after outbox message ``since`` delivered (or failed:
    then the count shows it lost)."""
    wait_until(
        "every side effect delivered",
        lambda: (
            not OutboxMessage.objects.filter(
                pk__gt=since, status=OutboxMessage.Status.PENDING
            ).exists()
        ),
        timeout=timeout,
    )


def last_outbox_id() -> int:
    return OutboxMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def sent_message_ids(mail_directory: Path) -> Counter:
    """How often each Message-ID was written by the workers' file e-mail backend."""
    sent = Counter()
    for path in mail_directory.glob("*.log") if mail_directory.exists() else []:
        for line in path.read_text(errors="replace").splitlines():
            if line.lower().startswith("message-id:"):
                sent[line.split(":", 1)[1].strip()] += 1
    return sent


@dataclass
class Tally:
    """Side effects that never landed, or landed more than once, by kind."""

    lost: Counter = field(default_factory=Counter)
    doubled: Counter = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.lost.update(other.lost)
        self.doubled.update(other.doubled)


def count_side_effects(orders: list[OrderInFlight], *, since: int, mail: Path) -> Tally:
    """What landed for ``orders`` (side effects recorded after outbox message ``since``)."""
    tally = Tally()
    for message in OutboxMessage.objects.filter(pk__gt=since).exclude(
        status=OutboxMessage.Status.DELIVERED
    ):
        tally.lost[message.kind] += 1
    fills = [order.fill.pk for order in orders]
    shipments = [order.shipment_id for order in orders]
    sent = sent_message_ids(mail)
    labelled = RxLabel.objects.filter(fill__in=fills, is_current=True).values("fill")
    tally.lost["orders.rx_label"] += len(fills) - labelled.count()
    same_content = RxLabel.objects.filter(fill__in=fills).values("fill", "content_hash")
    tally.doubled["orders.rx_label"] += same_content.annotate(n=Count("pk")).filter(n__gt=1).count()
    per_order = Counter(
        Shipment.objects.filter(order__fills__in=fills).values_list("order_id", flat=True)
    )
    tally.lost["shipping.create_shipment"] += len(fills) - len(per_order)
    tally.doubled["shipping.create_shipment"] += sum(n - 1 for n in per_order.values())
    purchases = Counter(
        ShipmentEvent.objects.filter(
            shipment__in=shipments, to_status=Shipment.Status.LABELLED
        ).values_list("shipment_id", flat=True)
    )
    tally.lost["shipping.buy_label"] += len(shipments) - len(purchases)
    tally.doubled["shipping.buy_label"] += sum(n - 1 for n in purchases.values())
    documents = Counter(
        ShippingDocument.objects.filter(shipment__in=shipments, is_current=True).values_list(
            "shipment_id", "kind"
        )
    )
    tally.lost["shipping.documents"] += 2 * len(shipments) - len(documents)
    tally.doubled["shipping.documents"] += sum(n - 1 for n in documents.values())
    shipped_emails = [
        shipped_email_message_id(message)
        for message in OutboxMessage.objects.filter(pk__gt=since, kind="shipping.shipped_email")
    ]
    products = [order.fill.prescription.product_id for order in orders]
    reorder_emails = [
        reorder_alert_message_id(alert)
        for alert in ReorderAlert.objects.filter(product_id__in=products)
    ]
    for kind, message_ids in [
        ("shipping.shipped_email", shipped_emails),
        ("inventory.reorder_email", reorder_emails),
    ]:
        tally.lost[kind] += sum(1 for m in message_ids if sent[m] == 0)
        tally.doubled[kind] += sum(sent[m] - 1 for m in message_ids if sent[m] > 1)
    return tally
