"""The page that merges two records of one patient: reached from the patient's page (or,
for managers, who do not open patient pages, from their home page through
``patient_merge_start``), it finds the other record by search, shows both side by side,
and merges on confirmation (``orders.services.patient_merge.merge_patients``)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from orders.services.patient_merge import PatientMergeError, merge_patients
from pharmacy.access import staff_permission_required
from pharmacy.models import AuditEvent, Patient, PatientSearchError
from pharmacy.services import merged_record_message, record_audit_event

MERGE_PERMISSION = "pharmacy.merge_patient"
# How many records a search on the merge page lists.
MERGE_SEARCH_RESULTS = 20


def _record(pk) -> Patient | None:
    """A patient with what the side-by-side view shows, or None for an id that is not one."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return (
        Patient.objects.select_related("merged_into")
        .prefetch_related("addresses", "allergies", "conditions", "prescriptions", "orders")
        .filter(pk=pk)
        .first()
    )


def _search(query: str, *, besides: Patient | None = None):
    """Records in use matching ``query`` (besides ``besides``), or the search's error."""
    try:
        found = Patient.objects.search(query)
    except PatientSearchError as error:
        return [], str(error)
    if besides is not None:
        found = found.exclude(pk=besides.pk)
    return list(found.prefetch_related("addresses")[:MERGE_SEARCH_RESULTS]), ""


@staff_permission_required(MERGE_PERMISSION)
def patient_merge_start(request):
    """Find the first of the two records to merge (``q``)."""
    query = request.GET.get("q", "").strip()
    results, error = _search(query) if query else ([], "")
    if results:
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=results,
            summary=f"Patient search to merge records ({len(results)} shown)",
        )
    context = {"patient": None, "query": query[:100], "results": results, "error": error}
    return render(request, "orders/patient_merge.html", context, status=400 if error else 200)


@staff_permission_required(MERGE_PERMISSION)
def patient_merge(request, pk: int):
    """GET: search for the other record (``q``) or compare with it (``other``).
    POST: merge the two records (this patient and ``other``) into the one chosen as
    ``survivor``, once confirmed."""
    patient = get_object_or_404(Patient.objects.select_related("merged_into"), pk=pk)
    context = {"patient": patient, "query": "", "results": [], "error": "", "other": None}
    status = 200
    if patient.merged_into_id is not None:
        context["error"] = merged_record_message(patient)
        status = 409
    elif request.method == "POST":
        return _merge(request, patient)
    else:
        context["query"] = request.GET.get("q", "").strip()
        if context["query"]:
            context["results"], context["error"] = _search(context["query"], besides=patient)
            status = 400 if context["error"] else 200
            context["query"] = context["query"][:100]
        if request.GET.get("other"):
            other = _record(request.GET["other"])
            if other is None:
                context["error"], status = "No patient record has that number.", 404
            elif other.pk == patient.pk:
                context["error"], status = "Pick the other record of this patient.", 400
            elif other.merged_into_id is not None:
                context["error"], status = merged_record_message(other), 409
            else:
                context["other"] = other
                context["records"] = [_record(patient.pk), other]
    shown = [patient, *context["results"], *([context["other"]] if context["other"] else [])]
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=patient,
        patient=patient,
        patients=shown,
        summary=f"Patient merge page ({len(shown)} records shown)",
    )
    return render(request, "orders/patient_merge.html", context, status=status)


def _merge(request, patient: Patient):
    other = _record(request.POST.get("other"))
    if other is None:
        messages.error(request, "Nothing was merged: pick the other record of this patient.")
        return redirect("patient_merge", pk=patient.pk)
    kept = request.POST.get("survivor")
    if kept not in (str(patient.pk), str(other.pk)):
        messages.error(request, "Nothing was merged: choose which record to keep.")
        return redirect(f"{request.path}?other={other.pk}")
    survivor, merged = (patient, other) if kept == str(patient.pk) else (other, patient)
    if request.POST.get("confirm") != "on":
        messages.error(
            request,
            "Nothing was merged: tick the box to confirm that both records are the same person.",
        )
        return redirect(f"{request.path}?other={other.pk}")
    try:
        result = merge_patients(survivor, merged, by=request.user)
    except PatientMergeError as error:
        messages.error(request, f"Nothing was merged: {error.detail}")
        return redirect("patient_merge", pk=patient.pk)
    messages.success(request, result.summary + ".")
    if request.user.has_perm("pharmacy.view_patient"):
        return redirect("patient_detail", pk=result.survivor.pk)
    # Managers do not open patient pages: back to the start of the next merge.
    return redirect("patient_merge_start")
