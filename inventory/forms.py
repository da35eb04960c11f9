"""Forms of the catalogue pages."""

from django import forms

from inventory.models import Storage


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
