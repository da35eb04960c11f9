"""The auxiliary warning rules of the Rx label: pharmacists list, add and change them."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from orders.forms import WarningRuleForm
from orders.views._common import VERIFY_WORK
from pharmacy.access import staff_permission_required
from pharmacy.models import AuxiliaryWarningRule
from pharmacy.services.label_warnings import (
    WarningRuleError,
    WarningRuleInput,
    save_warning_rule,
)


def _given(form: WarningRuleForm) -> WarningRuleInput:
    data = form.cleaned_data
    return WarningRuleInput(
        warning=data["warning"],
        pharmacologic_class=data["pharmacologic_class"],
        ingredient=data["ingredient"],
        dosage_form=data["dosage_form"],
        route=data["route"],
        storage=data["storage"],
        position=data["position"],
        is_active=data["is_active"],
    )


def _save(request, form: WarningRuleForm, rule: AuxiliaryWarningRule | None):
    """The saved rule, or None with the refusal's messages on the form's fields."""
    if not form.is_valid():
        return None
    try:
        return save_warning_rule(rule, given=_given(form), by=request.user)
    except WarningRuleError as refused:
        for field, message in refused.errors.items():
            form.add_error(None if field == "__all__" else field, message)
        return None


@staff_permission_required(VERIFY_WORK)
def warning_rules(request):
    """Every rule, in the order the label prints their warnings, and a form to add one."""
    form = WarningRuleForm(request.POST or None)
    if request.method == "POST":
        rule = _save(request, form, None)
        if rule is not None:
            messages.success(request, f"Rule added: “{rule.warning}”.")
            return redirect("warning_rules")
    context = {"rules": AuxiliaryWarningRule.objects.all(), "form": form}
    return render(request, "orders/warning_rules.html", context, status=400 if form.errors else 200)


@staff_permission_required(VERIFY_WORK)
def warning_rule_edit(request, pk: int):
    """Change one rule (or stop printing it: a rule is never deleted, so what a label
    printed can be traced to it)."""
    rule = get_object_or_404(AuxiliaryWarningRule, pk=pk)
    initial = {
        "warning": rule.warning,
        "pharmacologic_class": rule.pharmacologic_class_name,
        "ingredient": rule.ingredient_name,
        "dosage_form": rule.dosage_form,
        "route": rule.route,
        "storage": rule.storage,
        "position": rule.position,
        "is_active": rule.is_active,
    }
    form = WarningRuleForm(request.POST or None, initial=initial)
    if request.method == "POST":
        saved = _save(request, form, rule)
        if saved is not None:
            messages.success(request, f"Rule saved: “{saved.warning}”.")
            return redirect("warning_rules")
    context = {"rule": rule, "form": form}
    return render(
        request, "orders/warning_rule_edit.html", context, status=400 if form.errors else 200
    )
