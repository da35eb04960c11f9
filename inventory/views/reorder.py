"""Reorder rules and reorder alerts; the alerts page and the dashboard's alert count
refresh themselves."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from inventory.models import Package, Product, ReorderAlert, ReorderRule, Supplier
from inventory.ndc import InvalidNDCError, is_product_ndc, normalize_ndc_input
from inventory.services.reorder import (
    ReorderError,
    acknowledge_reorder_alert,
    available_units_subquery,
    close_reorder_alert,
    set_reorder_rule,
)
from inventory.views._common import quantity_text

REORDER_ALERT_POLL_SECONDS = 5


# Forms of these pages live here, beside the views that use them.


class ReorderRuleForm(forms.Form):
    """A product's reorder rule, in dispensing units (tablets, mL, each)."""

    ndc = forms.CharField(
        label="Product or package NDC",
        max_length=20,
        help_text="A product NDC (0002-3227) or the package to order (0002-3227-30).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    reorder_point = forms.DecimalField(
        label="Reorder point",
        min_value=0,
        max_digits=12,
        decimal_places=3,
        help_text="Alert when available units fall below this.",
    )
    reorder_quantity = forms.DecimalField(
        label="Reorder quantity",
        min_value=Decimal("0.001"),
        max_digits=12,
        decimal_places=3,
        help_text="Units to order.",
    )
    par_level = forms.DecimalField(
        label="Par level",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=3,
        help_text="Optional: order up to this many units instead.",
    )
    preferred_supplier = forms.ModelChoiceField(
        label="Preferred supplier", required=False, queryset=Supplier.objects.filter(is_active=True)
    )
    lead_time_days = forms.IntegerField(
        label="Lead time (days)",
        required=False,
        min_value=0,
        max_value=365,
        help_text="Blank: the supplier's lead time.",
    )


def _reorder_alert_rows(alerts, *, current: bool):
    return alerts.select_related(
        "product", "suggested_package", "suggested_supplier", "acknowledged_by", "closed_by"
    ).filter(status__in=ReorderAlert.CURRENT_STATUSES if current else [ReorderAlert.Status.CLOSED])


@permission_required("inventory.view_reorderrule", raise_exception=True)
def reorder_rules(request):
    """Reorder rules with the units available now; managers set one with the form."""
    can_set = request.user.has_perms(["inventory.add_reorderrule", "inventory.change_reorderrule"])
    form = ReorderRuleForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied
        rule = _set_rule_from_form(request, form)
        if rule is not None:
            messages.success(
                request,
                f"{rule.product.display_name}: reorder below "
                f"{quantity_text(rule.reorder_point)} units.",
            )
            return redirect("reorder_rules")
        status = 400
    rules = ReorderRule.objects.select_related(
        "product", "order_package", "preferred_supplier"
    ).annotate(available=available_units_subquery("product_id"))
    return render(
        request,
        "inventory/reorder_rules.html",
        {"rules": rules, "form": form, "can_set": can_set},
        status=status,
    )


def _set_rule_from_form(request, form: ReorderRuleForm) -> ReorderRule | None:
    if not form.is_valid():
        return None
    ndc = form.cleaned_data["ndc"].strip()
    package = None
    if is_product_ndc(ndc):
        product = Product.objects.filter(product_ndc=ndc).first()
    else:
        try:
            package = Package.objects.filter(ndc11=normalize_ndc_input(ndc)).first()
        except InvalidNDCError as error:
            form.add_error("ndc", str(error))
            return None
        product = package.product if package else None
    if product is None:
        form.add_error("ndc", f"No product in the catalogue has the NDC {ndc}.")
        return None
    data = form.cleaned_data
    try:
        rule, _created = set_reorder_rule(
            product,
            by=request.user,
            reorder_point=data["reorder_point"],
            reorder_quantity=data["reorder_quantity"],
            par_level=data["par_level"],
            order_package=package,
            preferred_supplier=data["preferred_supplier"],
            lead_time_days=data["lead_time_days"],
        )
    except ReorderError as error:
        form.add_error(None, error.detail)
        return None
    return rule


def _alerts_context(request, *, current: bool) -> dict:
    alerts = _reorder_alert_rows(ReorderAlert.objects.all(), current=current)
    return {
        "alerts": alerts if current else alerts[:100],
        "current": current,
        "can_change": request.user.has_perm("inventory.change_reorderalert"),
        "poll_seconds": REORDER_ALERT_POLL_SECONDS,
    }


@permission_required("inventory.view_reorderalert", raise_exception=True)
def reorder_alerts(request):
    """Current alerts (refreshing themselves) and the latest closed ones."""
    current = request.GET.get("show") != "closed"
    return render(
        request, "inventory/reorder_alerts.html", _alerts_context(request, current=current)
    )


@permission_required("inventory.view_reorderalert", raise_exception=True)
def reorder_alert_rows(request):
    """The rows of the alerts table: what the alerts page polls."""
    current = request.GET.get("show") != "closed"
    return render(
        request, "inventory/reorder_alert_rows.html", _alerts_context(request, current=current)
    )


@permission_required("inventory.view_reorderalert", raise_exception=True)
def reorder_alert_count(request):
    """The dashboard's "Open reorder alerts" card: it polls itself."""
    return render(
        request,
        "inventory/reorder_alert_count.html",
        {
            "open_reorder_alerts": ReorderAlert.objects.current().count(),
            "poll_seconds": REORDER_ALERT_POLL_SECONDS,
        },
    )


@require_POST
@permission_required("inventory.change_reorderalert", raise_exception=True)
def reorder_alert_move(request, pk: int, move: str):
    alert = get_object_or_404(ReorderAlert.objects.select_related("product"), pk=pk)
    try:
        if move == "acknowledge":
            acknowledge_reorder_alert(alert, by=request.user)
            messages.success(request, f"Acknowledged the alert for {alert.product.display_name}.")
        else:
            close_reorder_alert(alert, by=request.user, note=request.POST.get("note", ""))
            messages.success(request, f"Closed the alert for {alert.product.display_name}.")
    except ReorderError as error:
        messages.error(request, error.detail)
    return redirect("reorder_alerts")
