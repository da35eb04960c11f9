"""Reorder rules and the reorder alerts raised when a product's stock falls below one."""

from datetime import date, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from inventory.models.catalogue import Package, Product
from inventory.models.stock import Supplier


class ReorderRule(models.Model):
    """When, and how much of, a product to reorder.

    Quantities are dispensing units (tablets, mL, each), like the stock they are compared
    with: when the units in available, unexpired lots of the product fall below
    ``reorder_point``, a ReorderAlert suggests ordering ``reorder_quantity`` units (or, when
    ``par_level`` is set, enough to bring the stock back up to it), as whole packages of
    ``order_package`` from ``preferred_supplier``.
    """

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="reorder_rule")
    reorder_point = models.DecimalField(max_digits=12, decimal_places=3)
    reorder_quantity = models.DecimalField(max_digits=12, decimal_places=3)
    par_level = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    order_package = models.ForeignKey(
        Package,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The package to order; blank: the product's largest package.",
    )
    preferred_supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.SET_NULL, related_name="reorder_rules"
    )
    lead_time_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Blank: the preferred supplier's lead time."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product__proprietary_name", "product__nonproprietary_name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reorder_point__gte=0), name="reorder_rule_point_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(reorder_quantity__gt=0), name="reorder_rule_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(par_level__isnull=True) | Q(par_level__gt=F("reorder_point")),
                name="reorder_rule_par_above_point",
            ),
        ]

    def __str__(self):
        return f"Reorder {self.product.product_ndc} below {self.reorder_point.normalize():f}"

    @property
    def effective_lead_time_days(self) -> int | None:
        if self.lead_time_days is not None:
            return self.lead_time_days
        return self.preferred_supplier.lead_time_days if self.preferred_supplier else None


class ReorderAlertQuerySet(models.QuerySet):
    def current(self) -> "ReorderAlertQuerySet":
        """Alerts still to be dealt with (open or acknowledged): at most one per product."""
        return self.filter(status__in=ReorderAlert.CURRENT_STATUSES)


class ReorderAlert(models.Model):
    """The stock of a product fell below its reorder point: managers see it in the app and
    get one e-mail, with a suggested purchase order.

    Raised by ``inventory.services.reorder.check_reorder_point`` in the transaction that
    lowered the stock, with its e-mail recorded as an ``inventory.reorder_email`` side
    effect (``outbox``) in that same transaction, so the alert and its e-mail exist if and
    only if the stock change does; ``email_sent_at`` and ``email_recipients`` say when it
    went out and to whom. A partial unique constraint allows one open or acknowledged
    alert per product; closing it lets the next fall below raise a new one.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CLOSED = "closed", "Closed"

    CURRENT_STATUSES = (Status.OPEN, Status.ACKNOWLEDGED)

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="reorder_alerts")
    rule = models.ForeignKey(
        ReorderRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    reorder_point = models.DecimalField(
        max_digits=12, decimal_places=3, help_text="The rule's reorder point when raised."
    )
    available_at_crossing = models.DecimalField(max_digits=12, decimal_places=3)
    suggested_quantity = models.DecimalField(
        max_digits=12, decimal_places=3, help_text="Dispensing units to order."
    )
    suggested_package = models.ForeignKey(
        Package, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suggested_packages = models.PositiveIntegerField(null=True, blank=True)
    suggested_supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead_time_days = models.PositiveSmallIntegerField(null=True, blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_recipients = models.TextField(blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    close_note = models.CharField(max_length=255, blank=True)

    objects = ReorderAlertQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["product"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="reorder_alert_one_current_per_product",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "raised_at"], name="reorder_alert_status_idx"),
        ]

    def __str__(self):
        return f"Reorder alert {self.pk}: {self.product.product_ndc} ({self.status})"

    @property
    def expected_arrival(self) -> date | None:
        """When the suggested order would arrive if placed the day the alert was raised."""
        if self.lead_time_days is None:
            return None
        return timezone.localdate(self.raised_at) + timedelta(days=self.lead_time_days)


# The moves a reorder alert's status may make (inventory.services.reorder checks them).
REORDER_ALERT_MOVES = {
    ReorderAlert.Status.OPEN: {ReorderAlert.Status.ACKNOWLEDGED, ReorderAlert.Status.CLOSED},
    ReorderAlert.Status.ACKNOWLEDGED: {ReorderAlert.Status.CLOSED},
    ReorderAlert.Status.CLOSED: set(),
}
