"""Browser pages of the pharmacy app: sign-in and its second step, each role's home,
patients, prescribers, audit trail, and the managers' page of staff sign-in and API tokens.

Every page that shows a patient's data writes exactly one audit row; a form posted
successfully writes the service's own row instead and redirects.
"""

from base64 import b32encode
from binascii import unhexlify
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from pharmacy.access import (
    SECOND_FACTOR_REQUIRED_KEY,
    must_pass_second_factor,
    safe_next,
    staff_permission_required,
)
from pharmacy.forms import (
    AddAddressForm,
    AddressForm,
    AllergyForm,
    ApiTokenForm,
    AuditSearchForm,
    ConditionForm,
    PatientForm,
    PrescriberForm,
    SecondFactorForm,
    SignInForm,
    add_service_errors,
)
from pharmacy.models import (
    MAX_PATIENT_SEARCH,
    ApiToken,
    AuditEvent,
    Patient,
    PatientSearchError,
    Prescriber,
    Role,
    User,
)
from pharmacy.roles import ROLE_HOME_URL_NAMES
from pharmacy.services import (
    PatientDataError,
    PossibleDuplicatesFound,
    PrescriberDataError,
    SecondFactorError,
    StaffError,
    add_patient_address,
    create_api_token,
    create_patient,
    create_prescriber,
    enroll_authenticator,
    has_authenticator,
    new_authenticator_key,
    record_allergy,
    record_audit_event,
    record_condition,
    record_failed_sign_in,
    recovery_codes_left,
    remove_allergy,
    remove_condition,
    remove_patient_address,
    reset_second_factor,
    revoke_api_token,
    set_no_known_allergies,
    update_patient,
    update_patient_address,
    update_prescriber,
    verify_second_factor,
)
from pharmacy.sign_in_limits import (
    address_sign_ins_refused,
    count_failed_sign_in,
    minutes_until_sign_ins_allowed,
)


class SignInView(auth_views.LoginView):
    """Sign-in page; every success and failure goes to the audit trail."""

    template_name = "registration/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        # Before any password is checked: past the address's limit nothing is tried.
        if address_sign_ins_refused(request):
            context = {"minutes": minutes_until_sign_ins_allowed()}
            return render(request, "registration/address_limited.html", context, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        record_audit_event(
            actor=form.get_user(), action=AuditEvent.Action.LOGIN, request=self.request
        )
        return response

    def form_invalid(self, form):
        count_failed_sign_in(self.request)
        record_failed_sign_in(self.request, username=self.request.POST.get("username", ""))
        return super().form_invalid(form)


@require_POST
def sign_out(request):
    if request.user.is_authenticated:
        record_audit_event(actor=request.user, action=AuditEvent.Action.LOGOUT, request=request)
    response = auth_views.LogoutView.as_view()(request)
    messages.info(request, "You are signed out.")
    return response


@login_required
def home(request):
    """Send each person to their role's home page."""
    role = request.user.role
    if role is None:
        raise PermissionDenied("Your account has no role yet; ask a manager to assign one.")
    return redirect(ROLE_HOME_URL_NAMES[role])


@staff_permission_required("pharmacy.view_patient")
def patient_list(request):
    query = request.GET.get("q", "").strip()
    search_error = ""
    try:
        patients = Patient.objects.search(query) if query else Patient.objects.none()
    except PatientSearchError as error:
        search_error, patients = str(error), Patient.objects.none()
        query = query[:MAX_PATIENT_SEARCH]
    page = Paginator(patients.prefetch_related("addresses"), 25).get_page(request.GET.get("page"))
    if query and not search_error:
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=page.object_list,
            summary=f"Patient search ({len(page.object_list)} shown)",
        )
    return render(
        request,
        "pharmacy/patient_list.html",
        {"page": page, "query": query, "search_error": search_error},
        status=400 if search_error else 200,
    )


@staff_permission_required("pharmacy.view_patient")
def patient_detail(request, pk: int):
    return _render_patient_page(request, _patient_or_404(pk))


def _patient_or_404(pk: int) -> Patient:
    return get_object_or_404(
        Patient.objects.select_related("merged_into", "merged_by").prefetch_related(
            "addresses",
            "allergies__ingredient",
            "allergies__pharmacologic_class",
            "conditions",
        ),
        pk=pk,
    )


# How many prescriptions and history lines the patient page shows (newest first).
PATIENT_PAGE_PRESCRIPTIONS = 50


def _patient_history(prescriptions) -> list[dict]:
    """The patient's prescriptions received and fills made, newest first."""
    lines = []
    for prescription in prescriptions:
        lines.append(
            {
                "at": prescription.received_at,
                "what": f"Prescription received · {prescription.get_channel_display()}",
                "prescription": prescription,
                "status": prescription.get_status_display(),
            }
        )
        for fill in prescription.fills.all():
            lines.append(
                {
                    "at": fill.created_at,
                    "what": "Original fill"
                    if fill.fill_number == 0
                    else f"Refill {fill.fill_number}",
                    "prescription": prescription,
                    "status": fill.get_status_display(),
                }
            )
    return sorted(lines, key=lambda line: line["at"], reverse=True)


def _render_patient_page(request, patient: Patient, *, allergy_form=None, condition_form=None):
    """The patient page: details, allergies, conditions, addresses, prescriptions and
    history. One audit row."""
    prescriptions = list(
        patient.prescriptions.select_related("prescriber", "product").prefetch_related("fills")[
            :PATIENT_PAGE_PRESCRIPTIONS
        ]
    )
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=patient,
        patient=patient,
    )
    context = {
        "patient": patient,
        "prescriptions": prescriptions,
        "history": _patient_history(prescriptions),
        "allergy_form": allergy_form or AllergyForm(),
        "condition_form": condition_form or ConditionForm(),
    }
    return render(request, "pharmacy/patient_detail.html", context)


def _patient_form_page(request, template: str, context: dict, *, patient: Patient | None):
    """A form page about a patient: one audit row when it shows an existing patient."""
    if patient is not None:
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            request=request,
            obj=patient,
            patient=patient,
        )
    return render(request, template, {"patient": patient, **context})


@staff_permission_required("pharmacy.add_patient")
def patient_create(request):
    form = PatientForm(request.POST or None)
    address_form = AddressForm(request.POST or None, prefix="address")
    duplicates = []
    # Both forms are validated (no short circuit) so every mistake shows at once.
    if request.method == "POST" and form.is_valid() & address_form.is_valid():
        data = form.cleaned_data
        try:
            patient = create_patient(
                by=request.user,
                first_name=data["first_name"],
                middle_name=data["middle_name"],
                last_name=data["last_name"],
                date_of_birth=data["date_of_birth"],
                sex=data["sex"],
                phone=data["phone"],
                email=data["email"],
                preferred_language=data["preferred_language"],
                child_resistant_waiver_on=data["child_resistant_waiver_on"],
                addresses=[{**address_form.cleaned_data, "is_default_shipping": True}],
                confirm_not_duplicate=request.POST.get("confirm_not_duplicate") == "on",
            )
        except PossibleDuplicatesFound as error:
            duplicates = error.candidates
            record_audit_event(
                actor=request.user,
                action=AuditEvent.Action.SEARCH,
                request=request,
                patients=[d.patient for d in duplicates],
                summary=f"Possible duplicates shown while creating a patient ({len(duplicates)})",
            )
        except PatientDataError as error:
            address_errors = {k: v for k, v in error.errors.items() if k.startswith("addresses")}
            add_service_errors(
                form, {k: v for k, v in error.errors.items() if k not in address_errors}
            )
            add_service_errors(address_form, address_errors, prefix="addresses[0].")
        else:
            messages.success(request, f"{patient.full_name} was added.")
            return redirect("patient_detail", pk=patient.pk)
    context = {
        "form": form,
        "address_form": address_form,
        "title": "New patient",
        "duplicates": duplicates,
    }
    return _patient_form_page(request, "pharmacy/patient_form.html", context, patient=None)


@staff_permission_required("pharmacy.change_patient")
def patient_edit(request, pk: int):
    patient = get_object_or_404(Patient, pk=pk)
    form = PatientForm.for_patient(patient, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            # Saving the form is the technician's review of a record created by intake.
            update_patient(patient, by=request.user, needs_review=False, **form.cleaned_data)
        except PatientDataError as error:
            add_service_errors(form, error.errors)
        else:
            messages.success(request, f"{patient.full_name}'s details were saved.")
            return redirect("patient_detail", pk=patient.pk)
    context = {"form": form, "title": f"Edit {patient.full_name}"}
    return _patient_form_page(request, "pharmacy/patient_form.html", context, patient=patient)


@staff_permission_required("pharmacy.change_patient")
def patient_address_add(request, pk: int):
    patient = get_object_or_404(Patient, pk=pk)
    form = AddAddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            add_patient_address(patient, by=request.user, **form.cleaned_data)
        except PatientDataError as error:
            add_service_errors(form, error.errors)
        else:
            messages.success(request, "The address was added.")
            return redirect("patient_detail", pk=patient.pk)
    context = {"form": form, "title": "Add an address"}
    return _patient_form_page(
        request, "pharmacy/patient_address_form.html", context, patient=patient
    )


@staff_permission_required("pharmacy.change_patient")
def patient_address_edit(request, pk: int, address_id: int):
    patient = get_object_or_404(Patient, pk=pk)
    address = get_object_or_404(patient.addresses, pk=address_id)
    form = AddressForm.for_address(address, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            update_patient_address(address, by=request.user, **form.cleaned_data)
        except PatientDataError as error:
            add_service_errors(form, error.errors)
        else:
            messages.success(request, "The address was saved.")
            return redirect("patient_detail", pk=patient.pk)
    context = {"form": form, "address": address, "title": "Edit an address"}
    return _patient_form_page(
        request, "pharmacy/patient_address_form.html", context, patient=patient
    )


@require_POST
@staff_permission_required("pharmacy.change_patient")
def patient_address_make_default(request, pk: int, address_id: int):
    patient = get_object_or_404(Patient, pk=pk)
    address = get_object_or_404(patient.addresses, pk=address_id)
    update_patient_address(address, by=request.user, is_default_shipping=True)
    messages.success(request, f"Orders ship to {address} by default now.")
    return redirect("patient_detail", pk=patient.pk)


@require_POST
@staff_permission_required("pharmacy.change_patient")
def patient_address_remove(request, pk: int, address_id: int):
    patient = get_object_or_404(Patient, pk=pk)
    address = get_object_or_404(patient.addresses, pk=address_id)
    new_default = remove_patient_address(address, by=request.user)
    text = "The address was removed."
    if new_default is not None:
        text += f" Orders ship to {new_default} by default now."
    messages.success(request, text)
    return redirect("patient_detail", pk=patient.pk)


def _allergy_match_text(allergy) -> str:
    if allergy.ingredient is not None:
        return f"matched to the ingredient {allergy.ingredient.name}"
    if allergy.pharmacologic_class is not None:
        return f"matched to the drug class {allergy.pharmacologic_class.name}"
    return (
        "not found in the catalogue, kept as written: the drug checks will ask the "
        "pharmacist to check it by hand"
    )


@require_POST
@staff_permission_required("pharmacy.change_patient")
def patient_allergy_add(request, pk: int):
    patient = _patient_or_404(pk)
    form = AllergyForm(request.POST)
    if form.is_valid():
        try:
            allergy = record_allergy(patient, by=request.user, **form.cleaned_data)
        except PatientDataError as error:
            add_service_errors(form, error.errors)
        else:
            messages.success(
                request, f"Allergy to {allergy.allergen} recorded, {_allergy_match_text(allergy)}."
            )
            return redirect("patient_detail", pk=patient.pk)
    return _render_patient_page(request, patient, allergy_form=form)


@require_POST
@staff_permission_required("pharmacy.change_patient")
def patient_allergy_remove(request, pk: int, allergy_id: int):
    patient = get_object_or_404(Patient, pk=pk)
    allergy = get_object_or_404(patient.allergies, pk=allergy_id)
    remove_allergy(allergy, by=request.user)
    messages.success(request, f"The allergy to {allergy.allergen} was removed.")
    return redirect("patient_detail", pk=patient.pk)


@require_POST
@staff_permission_required("pharmacy.change_patient")
def patient_no_known_allergies(request, pk: int):
    patient = get_object_or_404(Patient, pk=pk)
    try:
        set_no_known_allergies(patient, by=request.user)
    except PatientDataError as error:
        messages.error(request, " ".join(error.errors.values()))
    else:
        messages.success(request, "No known allergies recorded.")
    return redirect("patient_detail", pk=patient.pk)


@require_POST
@staff_permission_required("pharmacy.change_patient")
def patient_condition_add(request, pk: int):
    patient = _patient_or_404(pk)
    form = ConditionForm(request.POST)
    if form.is_valid():
        try:
            condition = record_condition(patient, by=request.user, **form.cleaned_data)
        except PatientDataError as error:
            add_service_errors(form, error.errors)
        else:
            messages.success(request, f"Condition recorded: {condition}.")
            return redirect("patient_detail", pk=patient.pk)
    return _render_patient_page(request, patient, condition_form=form)


@require_POST
@staff_permission_required("pharmacy.change_patient")
def patient_condition_remove(request, pk: int, condition_id: int):
    patient = get_object_or_404(Patient, pk=pk)
    condition = get_object_or_404(patient.conditions, pk=condition_id)
    remove_condition(condition, by=request.user)
    messages.success(request, f"The condition {condition} was removed.")
    return redirect("patient_detail", pk=patient.pk)


# --------------------------------------------------------------------------- prescribers

PRESCRIBER_SEARCH_LIMIT = 50


def _search_prescribers(text: str):
    """Prescribers whose NPI starts with the digits typed, or whose first or last names
    start with each word typed ("chen", "sarah chen", "Chen, S")."""
    prescribers = Prescriber.objects.all()
    digits = text.replace(" ", "")
    if digits.isdigit():
        return prescribers.filter(npi__startswith=digits)
    for part in text.replace(",", " ").split():
        prescribers = prescribers.filter(
            Q(last_name__istartswith=part) | Q(first_name__istartswith=part)
        )
    return prescribers


@staff_permission_required("pharmacy.view_prescriber")
def prescriber_list(request):
    """Prescriber search by name or NPI; the results refresh as one types (htmx)."""
    query = request.GET.get("q", "").strip()
    prescribers = list(_search_prescribers(query)[: PRESCRIBER_SEARCH_LIMIT + 1]) if query else []
    context = {
        "query": query,
        "prescribers": prescribers[:PRESCRIBER_SEARCH_LIMIT],
        "more": len(prescribers) > PRESCRIBER_SEARCH_LIMIT,
    }
    if request.htmx:
        return render(request, "pharmacy/prescriber_results.html", context)
    return render(request, "pharmacy/prescriber_list.html", context)


# How many of a prescriber's prescriptions their page lists (newest first).
PRESCRIBER_PAGE_PRESCRIPTIONS = 25


@staff_permission_required("pharmacy.view_prescriber")
def prescriber_detail(request, pk: int):
    prescriber = get_object_or_404(Prescriber, pk=pk)
    prescriptions = []
    # The prescriptions name patients: only for staff who may see patients, audited.
    if request.user.has_perm("pharmacy.view_patient"):
        prescriptions = list(
            prescriber.prescriptions.select_related("patient", "product")[
                :PRESCRIBER_PAGE_PRESCRIPTIONS
            ]
        )
        shown = [p.patient for p in prescriptions if p.patient is not None]
        if shown:
            record_audit_event(
                actor=request.user,
                action=AuditEvent.Action.VIEW,
                request=request,
                obj=prescriber,
                patients=shown,
                summary=f"Prescriber page ({len(prescriptions)} prescriptions shown)",
            )
    context = {"prescriber": prescriber, "prescriptions": prescriptions}
    return render(request, "pharmacy/prescriber_detail.html", context)


# Prescriber records are kept by the staff who work intake (technicians and pharmacists).
@staff_permission_required("pharmacy.work_technician_queues")
def prescriber_create(request):
    form = PrescriberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            prescriber = create_prescriber(by=request.user, **form.cleaned_data)
        except PrescriberDataError as error:
            add_service_errors(form, error.errors)
        else:
            messages.success(request, f"{prescriber} was added.")
            return redirect("prescriber_detail", pk=prescriber.pk)
    return render(
        request, "pharmacy/prescriber_form.html", {"form": form, "title": "New prescriber"}
    )


@staff_permission_required("pharmacy.work_technician_queues")
def prescriber_edit(request, pk: int):
    prescriber = get_object_or_404(Prescriber, pk=pk)
    form = PrescriberForm.for_prescriber(prescriber, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            # Saving the form is the technician's check of a record created by intake.
            update_prescriber(prescriber, by=request.user, needs_review=False, **form.cleaned_data)
        except PrescriberDataError as error:
            add_service_errors(form, error.errors)
        else:
            messages.success(request, f"{prescriber} was saved.")
            return redirect("prescriber_detail", pk=prescriber.pk)
    context = {"form": form, "prescriber": prescriber, "title": f"Edit {prescriber}"}
    return render(request, "pharmacy/prescriber_form.html", context)


@staff_permission_required("pharmacy.view_auditevent")
def audit_log(request):
    form = AuditSearchForm(request.GET or None)
    events = AuditEvent.objects.select_related("actor")
    if form.is_valid():
        events = form.filter(events)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    # The trail names patients (the records viewed, the searches typed): reading it is a
    # view of their data too, audited like any other.
    shown = {event.patient_id for event in page.object_list if event.patient_id}
    shown.update(pk for event in page.object_list for pk in event.patient_ids)
    if shown:
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            request=request,
            patients=[Patient(pk=pk) for pk in shown],
            summary=f"Audit trail ({len(page.object_list)} events shown)",
        )
    return render(request, "pharmacy/audit_log.html", {"form": form, "page": page})


# --------------------------------------------------------------------------- second factor

# The authenticator secret being set up, kept in the session until its first code is
# entered, so opening the setup page writes no device.
SETUP_KEY_SESSION_KEY = "second_factor_setup_key"
# Recovery codes just made, shown once by the next page.
NEW_RECOVERY_CODES_SESSION_KEY = "new_recovery_codes"


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


def _pass_second_factor(request, device) -> None:
    """Mark the session as having passed the second factor with ``device``, under a new
    session key: the one that carried only the password is never worth more."""
    otp_login(request, device)
    request.session.cycle_key()


@never_cache
@login_required
def second_factor(request):
    """The sign-in's second step: the code the authenticator app shows, or a recovery
    code. Someone who must pass it and has no app yet is sent to set one up. Every
    success and failure goes to the audit trail."""
    user = request.user
    next_url = safe_next(request)
    if user.is_verified():
        return redirect(next_url)
    if not has_authenticator(user):
        if must_pass_second_factor(user):
            return redirect(_with_next("second_factor_setup", next_url))
        # Someone not required to have one, whose app a manager removed since.
        request.session[SECOND_FACTOR_REQUIRED_KEY] = False
        return redirect(next_url)
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = verify_second_factor(user, code=form.cleaned_data["code"])
        except SecondFactorError as error:
            form.add_error("code", str(error))
            record_audit_event(
                actor=user,
                action=AuditEvent.Action.LOGIN_FAILED,
                request=request,
                summary="Second sign-in step: code refused",
            )
        else:
            _pass_second_factor(request, device)
            summary = "Second sign-in step passed with the authenticator app"
            if isinstance(device, StaticDevice):
                left = recovery_codes_left(user)
                summary = f"Second sign-in step passed with a recovery code ({left} left)"
                messages.warning(
                    request,
                    f"Recovery code accepted; {left} left. If your phone is lost, ask a "
                    "manager to reset your second factor, then set up the app again.",
                )
            record_audit_event(
                actor=user, action=AuditEvent.Action.LOGIN, request=request, summary=summary
            )
            return redirect(next_url)
    return render(request, "registration/second_factor.html", {"form": form, "next": next_url})


@never_cache
@login_required
def second_factor_setup(request):
    """Set up an authenticator app: scan the QR code (or type the secret), enter the code
    it shows. Then the recovery codes are shown once. Only for someone without an app:
    replacing one takes a manager's reset, so a stolen password cannot."""
    user = request.user
    next_url = safe_next(request)
    if has_authenticator(user):
        return redirect(_with_next("second_factor", next_url))
    key = request.session.get(SETUP_KEY_SESSION_KEY) or new_authenticator_key()
    request.session[SETUP_KEY_SESSION_KEY] = key
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = enroll_authenticator(user, key=key, code=form.cleaned_data["code"])
        except SecondFactorError as error:
            form.add_error("code", str(error))
        else:
            del request.session[SETUP_KEY_SESSION_KEY]
            _pass_second_factor(request, device)
            request.session[NEW_RECOVERY_CODES_SESSION_KEY] = codes
            return redirect(_with_next("recovery_codes", next_url))
    address = TOTPDevice(user=user, key=key).config_url
    secret = b32encode(unhexlify(key)).decode()
    context = {
        "form": form,
        "next": next_url,
        "address": address,
        # segno's own SVG of our own data: no user input reaches the markup.
        "qr_code": mark_safe(segno.make(address, error="m").svg_inline(scale=4, light="#fff")),
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "required": must_pass_second_factor(user),
    }
    return render(request, "registration/second_factor_setup.html", context)


@never_cache
@login_required
def recovery_codes(request):
    """The recovery codes just made, shown this once (a reload shows them no more)."""
    codes = request.session.pop(NEW_RECOVERY_CODES_SESSION_KEY, None)
    context = {"codes": codes, "next": safe_next(request)}
    return render(request, "registration/recovery_codes.html", context)


# --------------------------------------------------------------------------- staff access


def _staff_rows():
    """Active staff with their role, second factor and every API token, for managers."""
    tokens = ApiToken.objects.select_related("revoked_by").order_by("-created_at", "-id")
    users = (
        User.objects.filter(is_active=True)
        .annotate(
            has_app=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            codes_left=Count(
                "staticdevice__token_set", filter=Q(staticdevice__confirmed=True), distinct=True
            ),
        )
        .prefetch_related("groups", Prefetch("api_tokens", queryset=tokens))
        .order_by("username")
    )
    rows = []
    for user in users:
        names = {group.name for group in user.groups.all()}
        role = next((role for role in Role if role.value in names), None)
        rows.append(
            {
                "user": user,
                "role": role.label if role else "No role",
                "second_factor_required": user.is_superuser
                or (role is not None and role.value in settings.MFA_REQUIRED_ROLES),
                "tokens": list(user.api_tokens.all()),
            }
        )
    return rows


def _render_staff_access(request, form=None, status=200):
    context = {
        "rows": _staff_rows(),
        "form": form or ApiTokenForm(initial={"days": settings.API_TOKEN_DAYS}),
        "now": timezone.now(),
    }
    return render(request, "pharmacy/staff_access.html", context, status=status)


@staff_permission_required("pharmacy.manage_staff")
def staff_access(request):
    """Managers: each staff member's second factor and API tokens; issue, revoke, reset."""
    return _render_staff_access(request)


@never_cache
@require_POST
@staff_permission_required("pharmacy.manage_staff")
def api_token_create(request):
    """Issue a token and show its key this once; the page is never cached."""
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            token = create_api_token(
                data["user"], by=request.user, name=data["name"], days=data["days"]
            )
        except StaffError as error:
            form.add_error(None, str(error))
        else:
            return render(request, "pharmacy/api_token_issued.html", {"token": token})
    return _render_staff_access(request, form, status=400)


@require_POST
@staff_permission_required("pharmacy.manage_staff")
def api_token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
    try:
        revoke_api_token(token, by=request.user)
    except StaffError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"The token {token.prefix}… of {token.user.username} no longer works."
        )
    return redirect("staff_access")


@require_POST
@staff_permission_required("pharmacy.manage_staff")
def second_factor_reset(request, pk: int):
    user = get_object_or_404(User, pk=pk)
    try:
        reset_second_factor(user, by=request.user)
    except StaffError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"{user.username}'s second factor was reset: they set up an authenticator app "
            "again when they next sign in.",
        )
    return redirect("staff_access")
