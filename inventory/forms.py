"""Forms of the catalogue and stock pages."""

from django import forms
from django.contrib.auth import authenticate
from django.urls import reverse

from inventory.models import AdjustmentReason, Package, PurchaseOrder, Storage, Supplier
from inventory.ndc import InvalidNDCError, normalize_ndc_input
from inventory.services.suppliers import LEAD_TIME_MAX_DAYS


class CatalogueSearchForm(forms.Form):
    """One box for a name, an NDC in any form, or the raw text of a barcode scan."""

    q = forms.CharField(
        label="Name, NDC or scan",
        required=False,
        max_length=300,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autofocus": True,
                "autocomplete": "off",
                "spellcheck": "false",
                "aria-describedby": "q-help",
            }
        ),
    )


class ProductStorageForm(forms.Form):
    storage = forms.ChoiceField(label="Storage", choices=Storage.choices)


class UnitDescriptionForm(forms.Form):
    unit_description = forms.CharField(
        label="What one unit looks like",
        required=False,
        max_length=255,
        help_text="Shape, colour and imprint, e.g. white oval film-coated tablet, imprint "
        '"M L 50". Shown at the fill station and at PV2. Leave empty to clear.',
    )


# --------------------------------------------------------------------------- receiving and counts

SCAN_ATTRS = {"data-scan": True, "autocomplete": "off", "spellcheck": "false"}


def _scan_field(label: str, *, required: bool = True, help_id: str = "") -> forms.CharField:
    attrs = dict(SCAN_ATTRS)
    if help_id:
        attrs["aria-describedby"] = help_id
    # strip=False: a GS1 DataMatrix may end in a group separator the scanner typed.
    return forms.CharField(
        label=label, required=required, max_length=500, strip=False,
        widget=forms.TextInput(attrs=attrs),
    )  # fmt: skip


class WitnessForm(forms.Form):
    """A second member of staff signs with their own username and password.

    ``cleaned_data["witness"]`` is the user, or None when no witness signed. Give the
    form the request: the password check goes through django-axes like a sign-in.
    """

    witness_username = forms.CharField(label="Witness username", required=False, max_length=150)
    witness_password = forms.CharField(
        label="Witness password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self):
        data = super().clean()
        username, password = data.get("witness_username", ""), data.get("witness_password", "")
        data["witness"] = None
        if not username and not password:
            return data
        if not (username and password):
            raise forms.ValidationError("The witness types both their username and password.")
        witness = authenticate(self.request, username=username, password=password)
        if witness is None:
            raise forms.ValidationError("The witness's username and password do not match.")
        data["witness"] = witness
        return data


class ReceivingScanForm(forms.Form):
    scan = _scan_field("Scan a package", help_id="scan-help")


class ReceiptForm(forms.Form):
    """Who the delivery is from; its lines come from the scanned rows of the page."""

    purchase_order = forms.ModelChoiceField(
        label="Purchase order",
        required=False,
        queryset=PurchaseOrder.objects.filter(
            status__in=[PurchaseOrder.Status.OPEN, PurchaseOrder.Status.PARTIALLY_RECEIVED]
        ).select_related("supplier"),
        empty_label="No purchase order",
    )
    supplier = forms.ModelChoiceField(
        label="Supplier",
        required=False,
        queryset=Supplier.objects.filter(is_active=True),
        empty_label="The purchase order's supplier",
    )
    note = forms.CharField(label="Note", required=False, max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purchase_order"].label_from_instance = lambda order: (
            f"{order.number} · {order.supplier} · {order.get_status_display()}"
        )
        # Choosing an order shows its lines beside the scans (htmx).
        self.fields["purchase_order"].widget.attrs.update(
            {
                "hx-get": reverse("receiving_order"),
                "hx-trigger": "change",
                "hx-target": "#order-lines",
            }
        )


class PurchaseOrderForm(forms.Form):
    """A purchase order: supplier, dates, and one line per NDC ("NDC packages")."""

    supplier = forms.ModelChoiceField(queryset=Supplier.objects.filter(is_active=True))
    number = forms.CharField(
        label="Number", required=False, max_length=30, help_text="Left blank: PO-<number>."
    )
    expected_on = forms.DateField(
        label="Expected on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    lines = forms.CharField(
        label="Lines",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="One line per package: its NDC, then the number of packages "
        "(for example 0071-0155-23 4).",
    )
    note = forms.CharField(label="Note", required=False, max_length=500)

    def clean_lines(self):
        lines, problems = [], []
        for number, text in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            parts = text.replace(",", " ").split()
            if not parts:
                continue
            if len(parts) != 2:
                problems.append(f"Line {number}: write the NDC and the number of packages.")
                continue
            try:
                ndc11 = normalize_ndc_input(parts[0])
            except InvalidNDCError as error:
                problems.append(f"Line {number}: {error}")
                continue
            package = Package.objects.filter(ndc11=ndc11).first()
            if package is None:
                problems.append(f"Line {number}: no package in the catalogue has NDC {parts[0]}.")
                continue
            lines.append((package, parts[1]))
        if problems:
            raise forms.ValidationError(problems)
        if not lines:
            raise forms.ValidationError("List at least one NDC.")
        return lines


class CloseOrderForm(forms.Form):
    note = forms.CharField(label="Why close it", required=False, max_length=255)


class ResolveDiscrepancyForm(WitnessForm):
    resolution = forms.CharField(
        label="How it was settled", max_length=255, help_text="Credit, back order, return ..."
    )


class AdjustmentForm(WitnessForm):
    """A hand adjustment of one lot: scanned (a DataMatrix names NDC and lot) or typed."""

    scan = _scan_field("Scan the package or type its NDC", required=False)
    lot_number = forms.CharField(label="Lot number", required=False, max_length=40)
    reason = forms.ChoiceField(label="Reason", choices=AdjustmentReason.choices)
    quantity_change = forms.CharField(
        label="Change in units",
        max_length=20,
        help_text="Negative removes stock (-3); a count correction may add (+2).",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    note = forms.CharField(label="Note", max_length=200, help_text="What happened.")


class StartCountForm(forms.Form):
    """What to count: a bin, one package NDC, or the controlled substances."""

    location = forms.CharField(label="Bin", required=False, max_length=40)
    ndc = forms.CharField(
        label="NDC or scan", required=False, max_length=500, strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )  # fmt: skip
    controlled_only = forms.BooleanField(label="Controlled substances only", required=False)
    note = forms.CharField(label="Note", required=False, max_length=255)

    def clean(self):
        data = super().clean()
        if not (data.get("location") or data.get("ndc", "").strip() or data.get("controlled_only")):
            raise forms.ValidationError(
                "Say what to count: a bin, an NDC, or the controlled substances."
            )
        return data


class CountScanForm(forms.Form):
    scan = _scan_field("Scan a lot to count", help_id="count-scan-help")
    lot_number = forms.CharField(label="Lot number", required=False, max_length=40)


class CountLineForm(forms.Form):
    counted_quantity = forms.CharField(
        label="Counted",
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    is_estimate = forms.BooleanField(label="Estimate", required=False)


class ApproveCountForm(WitnessForm):
    note = forms.CharField(label="Note", required=False, max_length=255)


class BiennialInventoryForm(forms.Form):
    """21 CFR 1304.11(a): the inventory says whether it was taken at the opening or the
    close of business of its date."""

    OPENING, CLOSE = "opening", "close"

    date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    taken_at = forms.ChoiceField(
        label="Taken at",
        choices=[(OPENING, "Opening of business"), (CLOSE, "Close of business")],
        initial=CLOSE,
    )


# --------------------------------------------------------------------------- suppliers


class SupplierForm(forms.Form):
    """A supplier to add or change. The form checks only the shape of what was typed;
    ``inventory.services.suppliers`` checks the content (unique name, e-mail, lead time)
    and its errors are shown under these fields."""

    name = forms.CharField(
        label="Name",
        max_length=1000,
        strip=False,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
        help_text="Unique whatever its case.",
    )
    account_number = forms.CharField(
        label="Account number",
        required=False,
        max_length=1000,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="The pharmacy's account with this supplier.",
    )
    email = forms.CharField(
        label="E-mail",
        required=False,
        max_length=1000,
        strip=False,
        widget=forms.TextInput(
            attrs={"inputmode": "email", "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text="Where orders go.",
    )
    phone = forms.CharField(
        label="Phone",
        required=False,
        max_length=1000,
        strip=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    lead_time_days = forms.IntegerField(
        label="Lead time (days)",
        initial=1,
        widget=forms.NumberInput(attrs={"min": 0, "max": LEAD_TIME_MAX_DAYS}),
        help_text=f"Days from order to delivery, 0 to {LEAD_TIME_MAX_DAYS}.",
    )
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        initial=True,
        help_text="Unticked: no new orders or deliveries. Suppliers are never deleted.",
    )

    def add_service_errors(self, fields: dict[str, list[str]], detail: str) -> None:
        """Show a SupplierError's problems under their fields (the rest above the form)."""
        shown = False
        for field, messages in fields.items():
            if field in self.fields:
                for message in messages:
                    self.add_error(field, message)
                shown = True
        if not shown:
            self.add_error(None, detail)

    def focus_first_error(self) -> None:
        """Put the cursor in the first field to correct, not back in the name."""
        wrong = [name for name in self.fields if name in self.errors]
        if wrong:
            for field in self.fields.values():
                field.widget.attrs.pop("autofocus", None)
            self.fields[wrong[0]].widget.attrs["autofocus"] = True
