"""The search-as-you-type pickers of the intake pages: patients, prescribers and drugs
(by name, NDC or a scan of the package). A search that shows patients writes one audit
row.
"""

from django.db.models import Prefetch, Q
from django.shortcuts import render
from django.views.decorators.http import require_GET

from inventory.models import Package, Product, ProductIngredient
from inventory.ndc import ScanError, is_partial_ndc, is_product_ndc, looks_like_code
from orders.units import dispensing_unit
from orders.views._common import TECHNICIAN_WORK
from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent, Patient, PatientSearchError, Prescriber
from pharmacy.services import record_audit_event

PICK_RESULTS = 10
MIN_SEARCH_LENGTH = 2


def _allergy_words(patient: Patient) -> str:
    allergies = [a.allergen for a in patient.allergies.all()]
    if allergies:
        return "Allergies: " + ", ".join(allergies)
    return "No known allergies" if patient.no_known_allergies else "Allergies not recorded"


def _patient_option(patient: Patient, *, why: str = "") -> dict:
    """A patient to pick, with what tells two records apart: phone and shipping address
    beside the allergies (read with ``addresses`` and ``allergies`` prefetched)."""
    address = patient.default_shipping_address
    contact = [
        f"Phone {patient.phone}" if patient.phone else "No phone on file",
        f"Ships to {address}" if address else "No address on file",
    ]
    return {
        "value": patient.pk,
        "label": f"{patient.full_name} ({patient.date_of_birth:%Y-%m-%d})",
        "detail": " · ".join(
            [*([f"Possible match: {why}"] if why else []), *contact, _allergy_words(patient)]
        ),
        "badges": [{"text": "Allergies", "class": "severe"}] if patient.allergies.all() else [],
    }


def _prescriber_option(prescriber: Prescriber) -> dict:
    dea = f"DEA {prescriber.dea_number}" if prescriber.dea_number else "no DEA number"
    schedules = ", ".join(prescriber.dea_schedules) or "no schedules on file"
    return {
        "value": prescriber.pk,
        "label": f"{prescriber} (NPI {prescriber.npi})",
        "detail": f"{dea}; {schedules}",
        "badges": [{"text": "To review", "class": ""}] if prescriber.needs_review else [],
    }


def _unit_of(product: Product) -> str:
    """The dispensing unit a product's dosage form suggests ("TABLET, FILM COATED")."""
    words = product.dosage_form.split(",")[0].split()
    return (dispensing_unit(words[0]) or "") if words else ""


def _product_option(product: Product, package: Package | None = None) -> dict:
    strengths = "; ".join(
        f"{s.ingredient.name} {s.strength} {s.strength_unit}".strip()
        for s in product.strengths.all()
    )
    badges = []
    if product.dea_schedule:
        badges.append({"text": product.dea_schedule, "class": "controlled"})
    return {
        "value": product.pk,
        "label": f"{product.full_description} ({product.product_ndc})",
        "detail": " · ".join(filter(None, [strengths, product.dosage_form.lower()])),
        "badges": badges,
        "unit": _unit_of(product),
        "package": package.package_ndc if package else "",
    }


def _with_strengths(products):
    return products.prefetch_related(
        Prefetch("strengths", queryset=ProductIngredient.objects.select_related("ingredient"))
    ).order_by(*Product._meta.ordering)[:PICK_RESULTS]


def _chosen(form) -> dict:
    """The records a bound form's pickers hold, to show them again after an error."""
    chosen = {}
    data = getattr(form, "cleaned_data", {})
    if data.get("patient"):
        chosen["patient"] = _patient_option(data["patient"])
    if data.get("prescriber"):
        chosen["prescriber"] = _prescriber_option(data["prescriber"])
    if data.get("product"):
        chosen["product"] = _product_option(data["product"])
    return chosen


def _search_log(request, patients: list[Patient], what: str) -> None:
    if patients:
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=patients,
            summary=f"{what} ({len(patients)} shown)",
        )


def _pick_results(request, target: str, options: list[dict], *, query: str, empty: str):
    return render(
        request,
        "orders/_pick_results.html",
        {"target": target, "options": options, "query": query, "empty": empty},
    )


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def search_patients(request):
    """Patients by name ("smith", "hernandez jo"), date of birth (1960-12-10,
    12/10/1960), phone, Rx number or order number: ``PatientQuerySet.search``."""
    query = request.GET.get("q", "").strip()
    if len(query) < MIN_SEARCH_LENGTH:
        return _pick_results(request, "patient", [], query=query, empty="")
    try:
        patients = Patient.objects.search(query)
    except PatientSearchError as error:
        return _pick_results(request, "patient", [], query=query[:100], empty=str(error))
    found = list(patients.prefetch_related("allergies", "addresses")[:PICK_RESULTS])
    _search_log(request, found, "Patient search in intake")
    return _pick_results(
        request,
        "patient",
        [_patient_option(p) for p in found],
        query=query,
        empty=f"No patient matches “{query}”. Check the spelling or search by date of birth, "
        "phone or Rx number.",
    )


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def search_prescribers(request):
    """Prescribers by name or NPI (all or the first digits)."""
    query = request.GET.get("q", "").strip()[:100]
    if len(query) < MIN_SEARCH_LENGTH:
        return _pick_results(request, "prescriber", [], query=query, empty="")
    prescribers = Prescriber.objects.all()
    if query.isdigit():
        prescribers = prescribers.filter(npi__startswith=query)
    else:
        for part in query.replace(",", " ").split():
            prescribers = prescribers.filter(
                Q(last_name__istartswith=part) | Q(first_name__istartswith=part)
            )
    options = [_prescriber_option(p) for p in prescribers[:PICK_RESULTS]]
    return _pick_results(
        request,
        "prescriber",
        options,
        query=query,
        empty=f"No prescriber matches “{query}”. Search by last name or the 10-digit NPI.",
    )


def _drug_options(query: str) -> tuple[list[dict], str]:
    """Catalogue products for a name, a product or package NDC, or a scan; or an error."""
    if is_product_ndc(query):
        products = Product.objects.filter(product_ndc=query)
        return [_product_option(p) for p in _with_strengths(products)], ""
    if not looks_like_code(query):
        return [_product_option(p) for p in _with_strengths(Product.objects.search(query))], ""
    try:
        packages = Package.objects.for_code(query)
    except ScanError as error:
        if is_partial_ndc(query):
            products = Product.objects.with_ndc_starting(query)
            return [_product_option(p) for p in _with_strengths(products)], ""
        return [], str(error)
    found = list(
        packages.select_related("product").prefetch_related("product__strengths__ingredient")[
            :PICK_RESULTS
        ]
    )
    if not found:
        return [], f"No package in the catalogue has the code {query!r}."
    return [_product_option(package.product, package) for package in found], ""


@require_GET
@staff_permission_required(TECHNICIAN_WORK)
def search_drugs(request):
    """Catalogue products by name, NDC or a scan of the package."""
    query = request.GET.get("q", "").strip()[:300]
    if len(query) < MIN_SEARCH_LENGTH:
        return _pick_results(request, "product", [], query=query, empty="")
    options, error = _drug_options(query)
    return _pick_results(
        request,
        "product",
        options,
        query=query,
        empty=error or f"No drug in the catalogue matches “{query}”.",
    )
