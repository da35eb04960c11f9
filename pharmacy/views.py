"""Browser pages of the pharmacy app: sign-in, each role's home, patients, audit trail."""

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from inventory.models import Package, Product
from pharmacy.access import staff_permission_required
from pharmacy.forms import AuditSearchForm, SignInForm
from pharmacy.models import AuditEvent, Patient, Prescriber, Role, User
from pharmacy.roles import ROLE_HOME_URL_NAMES
from pharmacy.services import record_audit_event


class SignInView(auth_views.LoginView):
    """Sign-in page; every success and failure goes to the audit trail."""

    template_name = "registration/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        record_audit_event(
            actor=form.get_user(), action=AuditEvent.Action.LOGIN, request=self.request
        )
        return response

    def form_invalid(self, form):
        record_audit_event(
            actor=None,
            action=AuditEvent.Action.LOGIN_FAILED,
            request=self.request,
            username=self.request.POST.get("username", ""),
        )
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


def _today_start():
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


@staff_permission_required("pharmacy.work_technician_queues")
def technician_home(request):
    # The intake, fill and packing queues arrive with their issues; until then the
    # page shows the records a technician keeps.
    context = {
        "queues": [
            {"label": "Intake", "count": None, "note": "Prescriptions arrive with e-Rx intake."},
            {"label": "Fill", "count": None, "note": "Filling arrives with the fill workflow."},
            {"label": "Packing", "count": None, "note": "Packing arrives with shipping."},
        ],
        "patients": Patient.objects.count(),
        "patients_added_this_week": Patient.objects.filter(
            created_at__gte=timezone.now() - timedelta(days=7)
        ).count(),
        "prescribers": Prescriber.objects.count(),
        "products": Product.objects.count(),
    }
    return render(request, "pharmacy/technician_home.html", context)


@staff_permission_required("pharmacy.verify_prescriptions")
def pharmacist_home(request):
    context = {
        "queues": [
            {"label": "PV1: data entry", "count": None, "note": "Arrives with the PV1 workflow."},
            {
                "label": "PV2: filled product",
                "count": None,
                "note": "Arrives with the PV2 workflow.",
            },
        ],
        "patients_with_allergies": Patient.objects.filter(allergies__isnull=False)
        .distinct()
        .count(),
        "patients_no_allergy_record": Patient.objects.filter(
            allergies__isnull=True, no_known_allergies=False
        ).count(),
        "controlled_products": Product.objects.controlled().count(),
        "refrigerated_products": Product.objects.filter(storage="refrigerated").count(),
    }
    return render(request, "pharmacy/pharmacist_home.html", context)


@staff_permission_required("pharmacy.view_dashboard")
def manager_home(request):
    staff = dict(
        User.objects.filter(is_active=True)
        .values_list("groups__name")
        .annotate(n=Count("id"))
        .filter(groups__name__in=Role.values)
    )
    today = AuditEvent.objects.filter(occurred_at__gte=_today_start()).aggregate(
        events=Count("id"),
        failed_logins=Count("id", filter=Q(action=AuditEvent.Action.LOGIN_FAILED)),
        record_views=Count("id", filter=Q(action=AuditEvent.Action.VIEW)),
    )
    context = {
        "staff": [(role.label, staff.get(role.value, 0)) for role in Role],
        "patients": Patient.objects.count(),
        "prescribers": Prescriber.objects.count(),
        "products": Product.objects.count(),
        "packages": Package.objects.count(),
        "controlled_products": Product.objects.controlled().count(),
        "today": today,
    }
    return render(request, "pharmacy/manager_home.html", context)


@staff_permission_required("pharmacy.view_patient")
def patient_list(request):
    query = request.GET.get("q", "").strip()
    patients = Patient.objects.search(query) if query else Patient.objects.none()
    page = Paginator(patients, 25).get_page(request.GET.get("page"))
    if query:
        record_audit_event(
            actor=request.user,
            action=AuditEvent.Action.SEARCH,
            request=request,
            patients=page.object_list,
            summary=f"Patient search ({len(page.object_list)} shown)",
        )
    return render(request, "pharmacy/patient_list.html", {"page": page, "query": query})


@staff_permission_required("pharmacy.view_patient")
def patient_detail(request, pk: int):
    patient = get_object_or_404(
        Patient.objects.prefetch_related(
            "addresses", "allergies__ingredient", "allergies__pharmacologic_class"
        ),
        pk=pk,
    )
    record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        obj=patient,
        patient=patient,
    )
    return render(request, "pharmacy/patient_detail.html", {"patient": patient})


@staff_permission_required("pharmacy.view_auditevent")
def audit_log(request):
    form = AuditSearchForm(request.GET or None)
    events = AuditEvent.objects.select_related("actor")
    if form.is_valid():
        events = form.filter(events)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "pharmacy/audit_log.html", {"form": form, "page": page})
