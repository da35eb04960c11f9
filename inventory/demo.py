"""The stock part of the demo pharmacy: suppliers, purchase orders, lots and a cycle count.

``manage.py seed_demo`` calls ``seed_demo`` of every app in INSTALLED_APPS order, and
inventory comes first, before the pharmacy app's demo has created the catalogue and the
staff. So ``seed_demo`` loads nothing while the catalogue is empty, and ``seed_stock``
is the step that runs after the catalogue and staff exist.

Everything goes through the services a person would use: purchase orders are placed with
``create_purchase_order``, deliveries received with ``receive_stock`` (so every lot has its
receipt in the ledger), an order closed short with ``close_purchase_order``, a lot
quarantined with ``quarantine_lot``, and a blind count counted and submitted. What it shows:

* three wholesalers; an order received in full, one partly received, one open and due,
  and one closed with a line that never came (a discrepancy to settle);
* a lot of every demo package (the products entered by hand, not imported from the FDA
  NDC Directory), in bins, the refrigerated ones in the fridge and schedule II in the
  vault; some lots expiring within 60 days; one lot quarantined;
* a blind count of one shelf bin, submitted with a variance, waiting for approval.

Rows are found by natural keys (supplier name, PO number, package and lot number, the
count's note) and created only when missing, so running it again creates nothing.
"""

from datetime import timedelta
from io import TextIOBase

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from inventory.models import (
    CycleCount,
    DEASchedule,
    Package,
    PurchaseOrder,
    ReorderRule,
    StockLot,
    Storage,
    Supplier,
)
from inventory.services.counts import record_count, start_cycle_count, submit_cycle_count
from inventory.services.lots import quarantine_lot
from inventory.services.receiving import (
    ReceiptLineInput,
    close_purchase_order,
    create_purchase_order,
    receive_stock,
)
from inventory.services.reorder import set_reorder_rule

SUPPLIERS = (
    # name, account number, e-mail, phone, lead time in days
    ("Cardinal Health", "CAH-448120", "orders@cardinal.example", "(614) 555-0171", 1),
    ("McKesson Pharmaceutical", "MCK-903311", "rx-orders@mckesson.example", "(614) 555-0172", 1),
    ("Cencora", "CEN-271554", "pharmacy@cencora.example", "(614) 555-0173", 2),
)
COUNT_NOTE = "Demo: weekly bin count"
# Demo usernames of pharmacy.demo.STAFF (inventory may not import the pharmacy app).
RECEIVER, COUNTER, BUYER = "technician", "technician2", "manager"
MAX_PACKAGES = 200
SPECIAL_BINS = ("VAULT", "FRIDGE-1")


def seed_demo(*, stdout: TextIOBase) -> dict[str, int]:
    """The inventory step of ``manage.py seed_demo``, after the pharmacy demo created the
    staff and the catalogue."""
    return seed_stock(stdout=stdout)


def demo_packages() -> list[Package]:
    """The packages of the hand-entered catalogue (products without an FDA product id, as
    the demo creates them), at most MAX_PACKAGES, in NDC order."""
    return list(
        Package.objects.filter(product__fda_product_id="", quantity__gt=0, is_sample=False)
        .select_related("product")
        .order_by("package_ndc")[:MAX_PACKAGES]
    )


def _bin(package: Package, index: int) -> str:
    if package.product.dea_schedule == DEASchedule.CII:
        return SPECIAL_BINS[0]
    if package.product.storage == Storage.REFRIGERATED:
        return SPECIAL_BINS[1]
    return f"{'ABCDE'[index % 5]}-{index // 5 % 12 + 1:02d}"


def _packages_to_order(package: Package, index: int) -> int:
    if package.product.dea_schedule == DEASchedule.CII:
        return 1
    return 2 + index % 4


def seed_stock(*, stdout: TextIOBase) -> dict[str, int]:
    """Load the stock part of the demo pharmacy, in one transaction; run it after the
    catalogue and the demo staff exist. Returns the rows created per kind."""
    users = {u.username: u for u in get_user_model().objects.filter(
        username__in=[RECEIVER, COUNTER, BUYER])}  # fmt: skip
    packages = demo_packages()
    if not packages or RECEIVER not in users or BUYER not in users:
        stdout.write("Demo stock: no demo catalogue or staff yet; nothing loaded.")
        return {}
    receiver, buyer = users[RECEIVER], users[BUYER]
    today = timezone.localdate()
    created = {"suppliers": 0, "purchase orders": 0, "receipts": 0, "stock lots": 0,
               "cycle counts": 0}  # fmt: skip
    lots_before = StockLot.objects.count()

    with transaction.atomic():
        suppliers = {}
        for name, account, email, phone, lead_time in SUPPLIERS:
            suppliers[name], new = Supplier.objects.get_or_create(
                name=name,
                defaults={"account_number": account, "email": email, "phone": phone,
                          "lead_time_days": lead_time},
            )  # fmt: skip
            created["suppliers"] += new
        cardinal, mckesson, cencora = (suppliers[name] for name, *_ in SUPPLIERS)

        def lot_of(package: Package, index: int, suffix: str = "A") -> ReceiptLineInput:
            return ReceiptLineInput(
                ndc=package.package_ndc,
                lot=f"{package.ndc10[-6:]}{suffix}",
                expiry=today + timedelta(days=420 + index * 11 % 400),
                packages=_packages_to_order(package, index),
                location=_bin(package, index),
            )

        def place(number, supplier, lines, *, days_ago, expected_in=None):
            if PurchaseOrder.objects.filter(number=number).exists():
                return None
            created["purchase orders"] += 1
            return create_purchase_order(
                supplier,
                lines=lines,
                by=buyer,
                number=number,
                ordered_on=today - timedelta(days=days_ago),
                expected_on=today + timedelta(days=expected_in) if expected_in else None,
                note="Demo order",
            )

        def receive(lines, **kwargs):
            created["receipts"] += 1
            return receive_stock(lines, by=receiver, **kwargs)

        thirds = [packages[index::3] for index in range(3)]
        indexed = {package.pk: index for index, package in enumerate(packages)}

        # Received in full.
        first = [(p, _packages_to_order(p, indexed[p.pk])) for p in thirds[0]]
        order = place("DEMO-1001", cardinal, first, days_ago=20)
        if order is not None:
            receive([lot_of(p, indexed[p.pk]) for p in thirds[0]], purchase_order=order)

        # Partly received: the second half of its lines is still to come.
        second = [(p, _packages_to_order(p, indexed[p.pk])) for p in thirds[1]]
        order = place("DEMO-1002", mckesson, second, days_ago=6, expected_in=1)
        if order is not None:
            half = len(thirds[1]) // 2 or 1
            receive([lot_of(p, indexed[p.pk]) for p in thirds[1][:half]], purchase_order=order)
            # What has not come yet is on the shelf from an earlier delivery.
            receive([lot_of(p, indexed[p.pk], "B") for p in thirds[1][half:]], supplier=mckesson)

        # Closed short: one line never came; a discrepancy waits to be settled.
        third = [(p, _packages_to_order(p, indexed[p.pk])) for p in thirds[2]]
        order = place("DEMO-1004", cencora, third, days_ago=12)
        if order is not None:
            arrived = thirds[2][:-1] if len(thirds[2]) > 1 else thirds[2]
            receive([lot_of(p, indexed[p.pk]) for p in arrived], purchase_order=order)
            if len(thirds[2]) > 1:
                receive([lot_of(thirds[2][-1], indexed[thirds[2][-1].pk], "B")],
                        supplier=cardinal)  # fmt: skip
            close_purchase_order(order, by=buyer, note="Back-ordered by the wholesaler")

        # Open, due in two days: a reorder of the first few.
        place("DEMO-1003", cardinal, [(p, 4) for p in packages[:3]], days_ago=1, expected_in=2)

        # Lots expiring within 60 days (every sixth package), received without an order.
        soon = [
            ReceiptLineInput(
                ndc=package.package_ndc,
                lot=f"{package.ndc10[-6:]}S",
                expiry=today + timedelta(days=20 + index % 40),
                packages=1,
                location=_bin(package, index),
            )
            for index, package in enumerate(packages)
            if index % 6 == 0
            and not StockLot.objects.filter(
                package=package, lot_number=f"{package.ndc10[-6:]}S"
            ).exists()
        ]
        if soon:
            receive(soon, supplier=mckesson, note="Short-dated stock, use first")

        # One lot quarantined: a bottle found with a broken seal.
        quarantined = StockLot.objects.filter(package=packages[1 % len(packages)]).first()
        if quarantined is not None and not StockLot.objects.filter(status="quarantined").exists():
            quarantine_lot(quarantined, by=buyer, reason="Demo: bottle found with a broken seal")

        # A blind count of a shelf bin, submitted with a variance, waiting for approval.
        counter = users.get(COUNTER, receiver)
        shelf = next(
            (_bin(p, i) for i, p in enumerate(packages) if _bin(p, i) not in SPECIAL_BINS), ""
        )
        if shelf and not CycleCount.objects.filter(note=COUNT_NOTE).exists():
            in_bin = StockLot.objects.filter(location=shelf, quantity_on_hand__gt=0)
            busy = CycleCount.objects.open().filter(lines__lot__in=in_bin).exists()
            if in_bin.exists() and not busy:
                count = start_cycle_count(by=counter, location=shelf, note=COUNT_NOTE)
                for number, line in enumerate(count.lines.select_related("lot")):
                    short = 2 if number == 0 else 0
                    record_count(count, lot=line.lot, by=counter,
                                 counted_quantity=line.expected_quantity - short)  # fmt: skip
                submit_cycle_count(count, by=counter)
                created["cycle counts"] += 1

        # Reorder rules for the first few products; the last one is set above its stock,
        # so an open reorder alert is waiting on the manager's dashboard.
        created["reorder rules"] = 0
        for number, package in enumerate(packages[:4]):
            product = package.product
            if ReorderRule.objects.filter(product=product).exists():
                continue
            available = sum(
                lot.quantity_on_hand
                for lot in StockLot.objects.filter(package__product=product, status="available")
            )
            point = available + 30 if number == 3 else max(available // 4, 10)
            set_reorder_rule(
                product,
                by=buyer,
                reorder_point=point,
                reorder_quantity=max(point * 2, 100),
                order_package=package,
                preferred_supplier=cardinal,
            )
            created["reorder rules"] += 1

        created["stock lots"] = StockLot.objects.count() - lots_before

    stdout.write("Demo stock:")
    for kind, number in created.items():
        stdout.write(f"  {kind}: {number} new")
    return created
