"""Reorder rules and reorder alerts: exactly one alert and one e-mail per fall below the
reorder point, whatever fails on the way (DESIGN.md section 7, "Nothing lost").

Each rule is stated once, in the ORM: which lots count as available stock
(``StockLotQuerySet.available``, summed here per product), when a fall below the point
raises an alert (``check_reorder_point``) and the purchase order the alert suggests
(``reorder_suggestion``). No database function restates them (migration 0008 dropped the
ones that did).

How each failure is covered:

- **Two fills lower the same product's stock at once.** ``check_reorder_point`` runs in
  the transaction that lowered the stock and locks the product's ReorderRule row, after
  the lots; a second transaction waits there until the first commits, then counts the
  units with the first one's change included. Without the lock each would see only its
  own change and both might stay above the point while together they fall below it. A
  partial unique constraint (one open or acknowledged alert per product) backs it up.
- **The broker is down at commit, the worker dies mid-send, a delivery runs twice.** The
  alert's e-mail is an ``inventory.reorder_email`` side effect (``outbox``), recorded in
  the stock-changing transaction (one per alert: its dedupe key) and delivered by a worker
  (``inventory.effects``) through ``send_reorder_alert_email``, which sends nothing for
  an alert whose ``email_sent_at`` is set. The outbox claims each delivery, retries a
  failed send with back-off and re-delivers one whose worker died; a worker that dies
  after the SMTP server accepted the message but before ``email_sent_at`` is written
  causes the one possible resend, and its stable Message-ID lets mail programs fold the
  two.
"""

import logging
import math
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, Exists, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inventory.models import (
    REORDER_ALERT_MOVES,
    Package,
    Product,
    ReorderAlert,
    ReorderRule,
    StockLot,
    Supplier,
)
from outbox.services import record_side_effect

logger = logging.getLogger(__name__)

MANAGER_GROUP = "manager"  # pharmacy.models.Role.MANAGER; inventory may not import pharmacy
ONE_CURRENT_ALERT_CONSTRAINT = "reorder_alert_one_current_per_product"  # ReorderAlert.Meta
REORDER_EMAIL_EFFECT = "inventory.reorder_email"  # delivered by inventory.effects


class ReorderError(Exception):
    """A reorder rule or alert change refused; ``code`` is stable, ``detail`` for people."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


# --------------------------------------------------------------------------- rules


def set_reorder_rule(
    product: Product,
    *,
    by,
    reorder_point: Decimal,
    reorder_quantity: Decimal,
    par_level: Decimal | None = None,
    order_package: Package | None = None,
    preferred_supplier: Supplier | None = None,
    lead_time_days: int | None = None,
) -> tuple[ReorderRule, bool]:
    """Create or replace the product's reorder rule; returns it and whether it is new.

    Quantities are dispensing units. When the stock is already below the new reorder
    point, the alert is raised now (the fall below happened from the rule's point of
    view). Raises ReorderError ``invalid_rule`` for negative or inconsistent quantities,
    or a package of another product.
    """
    reorder_point = Decimal(reorder_point)
    reorder_quantity = Decimal(reorder_quantity)
    if reorder_point < 0:
        raise ReorderError("invalid_rule", "The reorder point cannot be below zero.")
    if reorder_quantity <= 0:
        raise ReorderError("invalid_rule", "The reorder quantity must be more than zero.")
    if par_level is not None and Decimal(par_level) <= reorder_point:
        raise ReorderError(
            "invalid_rule", "The par level must be above the reorder point (or left blank)."
        )
    if order_package is not None and order_package.product_id != product.pk:
        raise ReorderError(
            "invalid_rule",
            f"Package {order_package.package_ndc} is not a package of {product.product_ndc}.",
        )
    with transaction.atomic():
        rule, created = ReorderRule.objects.select_for_update().update_or_create(
            product=product,
            defaults={
                "reorder_point": reorder_point,
                "reorder_quantity": reorder_quantity,
                "par_level": par_level,
                "order_package": order_package,
                "preferred_supplier": preferred_supplier,
                "lead_time_days": lead_time_days,
                "updated_by": by,
            },
        )
        check_reorder_point([product.pk])
    return rule, created


# --------------------------------------------------------------------------- raising


def available_units_subquery(product_ref: str = "pk") -> Coalesce:
    """A product's available units (``StockLotQuerySet.available``), as an expression
    for annotate: the reorder rules page shows it (``inventory.views.reorder``)."""
    units = (
        StockLot.objects.available()
        .filter(package__product_id=OuterRef(product_ref))
        .order_by()
        .values("package__product_id")
        .annotate(total=Sum("quantity_on_hand"))
        .values("total")
    )
    output = DecimalField(max_digits=14, decimal_places=3)
    return Coalesce(Subquery(units, output_field=output), Value(Decimal(0)), output_field=output)


def available_units_by_product(product_ids) -> dict[int, Decimal]:
    """Each product's available units (``StockLotQuerySet.available``), 0 when it has
    none: what ``check_reorder_point`` compares with the reorder point."""
    units = StockLot.objects.available().filter(package__product_id__in=product_ids)
    counted = units.units_by_product()
    return {product_id: counted.get(product_id, Decimal(0)) for product_id in product_ids}


def check_reorder_point(product_ids) -> list[ReorderAlert]:
    """Raise a reorder alert for each of these products whose available units are now
    below its reorder point and that has no open or acknowledged alert.

    Must run inside the transaction that lowered the stock, after its lots are locked.
    Called by every stock write that lowers available units (``inventory.services``:
    ``stock.dispense_from_lot``, ``counts``, ``lots``) and by ``set_reorder_rule``.
    Locks the products' ReorderRule rows (in product order), which makes concurrent
    checks of one product run one after the other, then counts their units
    (``available_units_by_product``) and writes each alert with its suggested purchase
    order (``reorder_suggestion``), and records its e-mail in the outbox in the same
    transaction (``record_reorder_alert_email``). Returns the new alerts.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("check_reorder_point must run in the stock-changing transaction")
    points = dict(
        ReorderRule.objects.select_for_update()
        .filter(product_id__in=ids)
        .order_by("product_id")
        .values_list("product_id", "reorder_point")
    )
    if not points:
        return []
    # The count is a statement of its own, sent after the locks are granted: under READ
    # COMMITTED it takes a new snapshot and sees what the transaction that held a rule
    # lock before us committed (a subquery of the locking SELECT would read the snapshot
    # taken before the wait, and two fills could each miss the other's units).
    available = available_units_by_product(list(points))
    crossed = [product_id for product_id, point in points.items() if available[product_id] < point]
    if not crossed:
        return []
    rules = (
        ReorderRule.objects.filter(product_id__in=crossed)
        .filter(~Exists(ReorderAlert.objects.current().filter(product_id=OuterRef("product_id"))))
        .select_related("order_package", "preferred_supplier")
        .order_by("product_id")
    )
    raised = [
        alert
        for rule in rules
        if (alert := _raise_alert(rule, available=available[rule.product_id])) is not None
    ]
    for alert in raised:
        record_reorder_alert_email(alert)
    return raised


def _raise_alert(rule: ReorderRule, *, available: Decimal) -> ReorderAlert | None:
    """Write the rule's alert. None when the product already has a current alert: the
    partial unique constraint backs the rule lock, which makes that a should-not-happen;
    the savepoint keeps the stock change."""
    try:
        with transaction.atomic():
            return ReorderAlert.objects.create(
                product_id=rule.product_id,
                rule=rule,
                reorder_point=rule.reorder_point,
                available_at_crossing=available,
                **reorder_suggestion(rule, available=available),
            )
    except IntegrityError as error:
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        if constraint != ONE_CURRENT_ALERT_CONSTRAINT:
            raise
        logger.warning("Product %s already has a current reorder alert.", rule.product_id)
        return None


def reorder_suggestion(rule: ReorderRule, *, available: Decimal) -> dict:
    """The purchase order a reorder alert suggests, as ReorderAlert fields: the one
    definition, written on every alert ``check_reorder_point`` raises.

    Units: up to the par level when the rule has one, else the reorder quantity. Package:
    the rule's, else the product's largest package that is not a sample (and has a unit
    count), the lower package NDC first among equals. Packages: enough whole ones for the
    units, at least one (none when the package has no unit count on file). Supplier: the
    rule's preferred one. Lead time: the rule's, else that supplier's.
    """
    units = rule.par_level - available if rule.par_level is not None else rule.reorder_quantity
    package = rule.order_package or (
        Package.objects.filter(product_id=rule.product_id, is_sample=False, quantity__gt=0)
        .order_by("-quantity", "package_ndc")
        .first()
    )
    packages = None
    if package is not None and package.quantity:
        packages = max(1, math.ceil(units / package.quantity))
    return {
        "suggested_quantity": units,
        "suggested_package": package,
        "suggested_packages": packages,
        "suggested_supplier": rule.preferred_supplier,
        "lead_time_days": rule.effective_lead_time_days,
    }


def record_reorder_alert_email(alert: ReorderAlert) -> None:
    """In the transaction that raised the alert: record its e-mail to the managers as an
    ``inventory.reorder_email`` side effect, one per alert (its dedupe key), delivered by
    a worker after commit with ``send_reorder_alert_email``."""
    record_side_effect(
        REORDER_EMAIL_EFFECT,
        target_id=alert.pk,
        description=f"Reorder e-mail of alert {alert.pk}",
        dedupe_key=f"{REORDER_EMAIL_EFFECT}:{alert.pk}",
    )


# --------------------------------------------------------------------------- e-mail


def manager_email_addresses() -> list[str]:
    """Addresses of active managers who have one."""
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=MANAGER_GROUP)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )


def send_reorder_alert_email(alert: ReorderAlert) -> bool:
    """E-mail the alert to the active managers who have an address, and record when and
    to whom (``email_sent_at``, ``email_recipients``); returns whether it sent (or, with
    no manager address, recorded that there was no one to send to).

    Sends nothing for an alert whose e-mail already went out (a second delivery of its
    side effect), nor for a closed one: a manager dealt with it before the e-mail could
    go (the order is placed), and an e-mail asking to reorder would now be wrong. The
    caller (the outbox) holds the only claim on the delivery, so no lock is taken across
    the SMTP conversation; a failed send raises, leaving ``email_sent_at`` empty.
    """
    alert = ReorderAlert.objects.select_related(
        "product", "suggested_package", "suggested_supplier"
    ).get(pk=alert.pk)
    if alert.email_sent_at is not None or alert.status not in ReorderAlert.CURRENT_STATUSES:
        return False
    recipients = manager_email_addresses()
    if recipients:
        reorder_alert_email(alert, recipients).send()
    else:
        logger.warning("Reorder alert %s: no active manager has an e-mail address.", alert.pk)
    ReorderAlert.objects.filter(pk=alert.pk, email_sent_at__isnull=True).update(
        email_sent_at=timezone.now(), email_recipients=", ".join(recipients)
    )
    return True


def reorder_alert_message_id(alert: ReorderAlert) -> str:
    """The same Message-ID however often the e-mail is built (made from the alert's id and
    when it was raised), so a resend after a worker died is folded into one message."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return f"<reorder-alert-{alert.pk}.{alert.raised_at:%Y%m%d%H%M%S}@{domain}>"


def _units(quantity: Decimal | None) -> str:
    return "" if quantity is None else f"{quantity.normalize():f}"


def reorder_alert_email(alert: ReorderAlert, recipients: list[str]) -> EmailMessage:
    product = alert.product
    lines = [
        f"{product.display_name} (product NDC {product.product_ndc}) is below its reorder point.",
        "",
        f"Available units:  {_units(alert.available_at_crossing)}",
        f"Reorder point:    {_units(alert.reorder_point)}",
        f"Raised at:        {timezone.localtime(alert.raised_at):%Y-%m-%d %H:%M %Z}",
        "",
        "Suggested purchase order",
        f"  Supplier:       {alert.suggested_supplier or 'no preferred supplier set'}",
    ]
    if alert.suggested_package is not None and alert.suggested_packages:
        lines.append(
            f"  Order:          {alert.suggested_packages} x {alert.suggested_package.package_ndc}"
            f" ({alert.suggested_package.description})"
        )
    lines.append(f"  Units:          {_units(alert.suggested_quantity)}")
    if alert.expected_arrival is not None:
        lines.append(
            f"  Lead time:      {alert.lead_time_days} days (arrives about "
            f"{alert.expected_arrival:%Y-%m-%d} if ordered today)"
        )
    lines += [
        "",
        f"Acknowledge or close it under Reorder alerts in {settings.PHARMACY_NAME}'s app.",
    ]
    return EmailMessage(
        subject=f"Reorder {product.display_name}: {_units(alert.available_at_crossing)} units "
        f"left (reorder point {_units(alert.reorder_point)})",
        body="\n".join(lines),
        to=recipients,
        headers={"Message-ID": reorder_alert_message_id(alert)},
    )


# --------------------------------------------------------------------------- managers' moves


def _move(alert: ReorderAlert, to: str) -> ReorderAlert:
    """Lock the alert and check the move; raises ReorderError ``alert_<status>``."""
    alert = ReorderAlert.objects.select_for_update().get(pk=alert.pk)
    if to not in REORDER_ALERT_MOVES[alert.status]:
        raise ReorderError(
            f"alert_{alert.status}",
            f"Reorder alert {alert.pk} is {alert.get_status_display().lower()}; it cannot be "
            f"{ReorderAlert.Status(to).label.lower()}.",
        )
    return alert


def acknowledge_reorder_alert(alert: ReorderAlert, *, by) -> ReorderAlert:
    """A manager has seen the alert (and is ordering); it stays current until closed, so
    further falls of the stock raise no new alert. Raises ReorderError if not open."""
    with transaction.atomic():
        alert = _move(alert, ReorderAlert.Status.ACKNOWLEDGED)
        alert.status = ReorderAlert.Status.ACKNOWLEDGED
        alert.acknowledged_by = by
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    return alert


def close_reorder_alert(alert: ReorderAlert, *, by, note: str = "") -> ReorderAlert:
    """The alert is dealt with (the order placed or received). The next fall of the
    stock below the reorder point raises a new alert. Raises ReorderError if closed."""
    with transaction.atomic():
        alert = _move(alert, ReorderAlert.Status.CLOSED)
        alert.status = ReorderAlert.Status.CLOSED
        alert.closed_by = by
        alert.closed_at = timezone.now()
        alert.close_note = note.strip()[:255]
        alert.save(update_fields=["status", "closed_by", "closed_at", "close_note"])
    return alert
