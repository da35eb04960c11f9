"""What the role and audit matrices (``test_url_matrix.py``) need: every URL of the URL
configuration, what each one requires of its caller (read from the view itself), a data
set that fills every path argument, and how to tell a refusal from an answer.

Nothing here lists the URLs: they come from ``get_resolver()``, so a new page or endpoint
is in the matrices the day it is added. What cannot be derived from a view (a view that
checks its permission inside, from an argument) or cannot be filled is declared below,
each with its reason; anything else undeclared fails the tests.
"""

import datetime
import inspect
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny

from inventory.models import CycleCount, ReceivingDiscrepancy, ReorderAlert, ReorderRule, StockLot
from inventory.services.counts import start_cycle_count
from inventory.services.receiving import ReceiptLineInput, create_purchase_order, receive_stock
from inventory.services.stock import dispense_from_lot
from inventory.tests.factories import PackageFactory, SupplierFactory
from orders.models import Channel, Fill, IntakeIssue, Prescription, ScheduledRefill
from orders.tests.factories import fill_at, stocked_package, tiny_png
from orders.views.queues import FILL_QUEUES
from outbox.models import OutboxMessage
from pharmacy.models import ApiToken, AuxiliaryWarningRule, Patient, Role, User
from pharmacy.patient_keys import patient_search_values
from pharmacy.permissions import IsStaffWithRole
from pharmacy.roles import ROLE_PERMISSIONS
from pharmacy.services import (
    add_patient_address,
    create_api_token,
    record_allergy,
    record_condition,
)
from pharmacy.tests.factories import PrescriberFactory, make_staff
from pharmacy.tests.second_factor import give_authenticator
from shipping.models import (
    Carrier,
    CarrierEvent,
    CarrierHoliday,
    CarrierService,
    DeliveryException,
    Shipment,
)
from shipping.services import documents
from shipping.services.shipments import (
    create_shipment_for_order,
    hand_over_to_carrier,
    report_delivery_exception,
)
from shipping.tests.factories import labelled_shipment, ready_order
from shipping.views.lists import SHIPMENT_LISTS

# --------------------------------------------------------------------------- the patient

# Whose data the audit matrix looks for in every answer: a name and a birth date no
# other row of the data set has, in every form a page or document writes them.
FIRST_NAME = "Zebulon"
LAST_NAME = "Quillfeather"
BIRTH_DATE = datetime.date(1931, 7, 19)
BIRTH_DATE_FORMS = ("1931-07-19", "07/19/1931", "July 19, 1931", "Jul. 19, 1931", "19310719")


def shows_the_patient(text: str) -> bool:
    lowered = text.lower()
    return LAST_NAME.lower() in lowered or any(form in text for form in BIRTH_DATE_FORMS)


# --------------------------------------------------------------------------- URLs


@dataclass
class Url:
    """One URL pattern: its route as written (``fills/<int:pk>/pv2/``), its name, its
    view, its namespace and the path parts that build a concrete path."""

    route: str
    name: str
    callback: object
    namespace: str
    parts: list = field(repr=False)
    default_args: dict = field(repr=False, default_factory=dict)

    @property
    def key(self) -> str:
        name = self.name or self.route
        return f"{self.namespace}:{name}" if self.namespace else name

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def is_admin(self) -> bool:
        return self.namespace == "admin"

    @property
    def arguments(self) -> list[str]:
        names = []
        for part in self.parts:
            part = re.sub(r"\(\?P<(\w+)>[^()]*\)", lambda m: f"<{m.group(1)}>", part)
            names += re.findall(r"<(?:\w+:)?(\w+)>", part)
        return names

    def path(self, values: dict) -> str:
        text = ""
        for part in self.parts:
            part = re.sub(r"\(\?P<(\w+)>[^()]*\)", lambda m: str(values[m.group(1)]), part)
            part = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), part)
            text += part.lstrip("^").rstrip("$").replace("\\", "")
        return "/" + text


def every_url() -> list[Url]:
    """Every URL pattern of the project, nested includes resolved."""
    found = []

    def walk(patterns, parts, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(
                    pattern.url_patterns,
                    [*parts, str(pattern.pattern)],
                    pattern.namespace or namespace,
                )
            elif isinstance(pattern, URLPattern):
                all_parts = [*parts, str(pattern.pattern)]
                found.append(
                    Url(
                        route="".join(all_parts),
                        name=pattern.name or "",
                        callback=pattern.callback,
                        namespace=namespace or "",
                        parts=all_parts,
                        default_args=dict(pattern.default_args),
                    )
                )

    walk(get_resolver().url_patterns, [], "")
    return found


# --------------------------------------------------------------------------- requirements


@dataclass(frozen=True)
class Requirement:
    """Who may use a URL with one method: everyone, anyone signed in, or the holders of
    ``permissions``; ``role_needed``: a staff role too (the API); ``token_only``: an API
    token, never a browser session (the e-prescription endpoints); ``admin``: the Django
    admin's staff (``is_staff``) with the model admin's own permission."""

    public: bool = False
    permissions: tuple = ()
    role_needed: bool = False
    admin: bool = False
    admin_allows_superuser: bool = True
    token_only: bool = False


PUBLIC = Requirement(public=True)
SIGNED_IN = Requirement()


def _closure(function) -> dict:
    try:
        return inspect.getclosurevars(function).nonlocals
    except (TypeError, ValueError):
        return {}


def _function_view_requirement(callback) -> tuple[Requirement | None, set | None]:
    """What the decorators of a function view ask: ``staff_permission_required`` (its
    ``required_permission``), Django's ``permission_required`` and ``login_required``;
    and the methods ``require_http_methods`` allows (None: any)."""
    permissions: list[str] = []
    signed_in = False
    methods = None
    function = callback
    while function is not None:
        if hasattr(function, "required_permission"):
            permissions.append(function.required_permission)
        variables = _closure(function)
        if "request_method_list" in variables:
            methods = set(variables["request_method_list"])
        test = variables.get("test_func")
        if test is not None:
            tested = _closure(test)
            if "perms" in tested:  # Django's permission_required
                permissions.extend(tested["perms"])
            elif test.__name__ == "<lambda>" and "is_authenticated" in test.__code__.co_names:
                signed_in = True  # login_required
        function = getattr(function, "__wrapped__", None)
    if permissions:
        return Requirement(permissions=tuple(dict.fromkeys(permissions))), methods
    return (SIGNED_IN if signed_in else None), methods


def _api_requirement(view_class, method: str) -> Requirement | None:
    classes = list(view_class.permission_classes)
    if AllowAny in classes:
        return PUBLIC
    if classes != [IsStaffWithRole]:
        return None
    required = getattr(view_class, "required_permissions", ())
    if isinstance(required, dict):
        required = required.get(method, required.get("*", ()))
    token_only = not any(
        issubclass(authentication, SessionAuthentication)
        for authentication in view_class.authentication_classes
    )
    return Requirement(permissions=tuple(required), role_needed=True, token_only=token_only)


def _admin_requirement(url: Url, method: str, superuser: User) -> Requirement:
    """The admin site lets in active staff (``is_staff``); a model admin's view then asks
    the model admin's own permission, which the read-only admins refuse even a
    superuser."""
    model_admin = getattr(url.callback, "model_admin", None)
    if model_admin is None:
        return Requirement(admin=True)
    request = RequestFactory().generic(method, "/admin/")
    request.user = superuser
    view = url.callback.__name__
    asks = {
        "changelist_view": model_admin.has_view_or_change_permission,
        "history_view": model_admin.has_view_or_change_permission,
        "add_view": model_admin.has_add_permission,
        "delete_view": model_admin.has_delete_permission,
        "change_view": model_admin.has_view_or_change_permission
        if method in {"GET", "HEAD"}
        else model_admin.has_change_permission,
    }
    allowed = asks[view](request) if view in asks else True
    return Requirement(admin=True, admin_allows_superuser=allowed)


def requirement(url: Url, method: str, *, superuser: User) -> Requirement | None:
    """What ``url`` asks of a caller of ``method``, read from its view; None when it
    cannot be read (then the URL must be declared in ``DECLARED``)."""
    if url.key in DECLARED:
        return DECLARED[url.key]
    if url.is_admin:
        if url.name == "login":
            return PUBLIC
        return _admin_requirement(url, method, superuser)
    view_class = getattr(url.callback, "cls", None)
    if view_class is not None and hasattr(view_class, "permission_classes"):
        return _api_requirement(view_class, method)
    found, _ = _function_view_requirement(url.callback)
    return found


def allowed_methods(url: Url) -> set[str] | None:
    """The methods a function view accepts (``require_GET``, ``require_POST``...); None
    when it does not say."""
    if getattr(url.callback, "cls", None) is not None:
        return None
    return _function_view_requirement(url.callback)[1]


def is_allowed(
    req: Requirement, role: str | None, *, is_superuser: bool = False, by_token: bool = False
) -> bool:
    """Whether a caller of ``role`` (None: anonymous), signed in or with a token, passes
    ``req``."""
    if req.public:
        return True
    if req.token_only and not by_token:
        return False
    if req.admin:
        return is_superuser and req.admin_allows_superuser
    if role is None and not is_superuser:
        return False
    if is_superuser:
        return not req.role_needed
    held = set(ROLE_PERMISSIONS[role])
    return set(req.permissions) <= held


# Views whose requirement is not in a decorator or a class attribute, with the reason.
DECLARED: dict[str, Requirement] = {
    # The integration contract: /health/ answers anyone (DESIGN.md section 6).
    "health": PUBLIC,
    "login": PUBLIC,
    # Sign out whoever posts them (the session's own user); nothing to protect. The
    # admin's sends a visitor not signed in to its index (and so to its sign-in).
    "logout": PUBLIC,
    "admin:logout": PUBLIC,
    # Staff of every role: it only redirects to the role's home page.
    "home": SIGNED_IN,
    # The carrier webhook is authenticated by its HMAC signature, not by a user.
    "api_carrier_event": PUBLIC,
}
# Views that check a permission inside, chosen by an argument: (url key -> requirement
# for the path arguments). The fill queues each have their own (orders.views.queues).
ARGUMENT_REQUIREMENTS = {
    "fill_queue": lambda args: Requirement(permissions=(FILL_QUEUES[args["status"]].permission,)),
    "fill_queue_rows": lambda args: Requirement(
        permissions=(FILL_QUEUES[args["status"]].permission,)
    ),
    "fill_queue_open": lambda args: Requirement(
        permissions=(FILL_QUEUES[args["status"]].permission,)
    ),
    # Claiming opens the fill's queue: its queue's permission.
    "fill_claim": lambda args: Requirement(permissions=("pharmacy.work_technician_queues",)),
    # Putting a fill back is technician work (checked inside).
    "fill_unclaim": lambda args: Requirement(permissions=("pharmacy.work_technician_queues",)),
}

# --------------------------------------------------------------------------- outcomes


def is_refusal(response) -> bool:
    """401 or 403, or a redirect to a sign-in page. (The matrix's sessions have passed
    the second factor, so a redirect to its step is not one; the gate is tested in
    ``pharmacy/tests/test_second_factor.py``.)"""
    if response.status_code in {401, 403}:
        return True
    if response.status_code in {301, 302, 303, 307, 308}:
        location = urlsplit(response.get("Location", "")).path
        return location in {"/login/", "/admin/login/"}
    return False


def answer_text(response) -> str:
    """What a person or program would read in an answer: its text, a PDF's text."""
    content_type = response.get("Content-Type", "")
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    if content_type.startswith("application/pdf"):
        from pypdf import PdfReader  # noqa: PLC0415 (only PDF answers need it)

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(body)).pages)
    if content_type.startswith("image/"):
        return ""
    return body.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- the data set


@dataclass
class DataSet:
    """The rows every path argument points at, most of them about the one patient."""

    objects: dict
    users: dict
    tokens: dict

    def __getitem__(self, name):
        return self.objects[name]


def build_data_set() -> DataSet:
    """The patient with an address, allergy and condition; their prescriptions (one in
    the intake queue, one faxed with its original); their fills at PV1, fill, PV2 and
    on hold; their orders and shipments (awaiting packing, labelled with documents,
    handed over with a delivery exception, in a label batch and a manifest); and the
    stock side: a lot they were dispensed from, a supplier, a purchase order with a
    receipt and a discrepancy, a cycle count, a reorder alert, carrier services and
    holidays, a side effect."""
    users = {
        "technician": make_staff("matrix-tech", Role.TECHNICIAN),
        "pharmacist": make_staff("matrix-pharm", Role.PHARMACIST),
        "manager": make_staff("matrix-boss", Role.MANAGER),
        "superuser": User.objects.create_superuser(
            "matrix-root", "root@example.org", "Correct-Horse-Battery-42"
        ),
    }
    technician, pharmacist, manager = (users[r] for r in ("technician", "pharmacist", "manager"))
    patient = Patient.objects.create(
        first_name=FIRST_NAME,
        last_name=LAST_NAME,
        date_of_birth=BIRTH_DATE,
        sex=Patient.Sex.MALE,
        phone="(614) 555-0199",
        email="zq@example.org",
        # The keys the patient services write, so that the searches find the patient.
        **patient_search_values(
            first_name=FIRST_NAME, middle_name="", last_name=LAST_NAME, phone="(614) 555-0199"
        ),
    )
    address = add_patient_address(
        patient,
        by=technician,
        line1="12 Larkspur Lane",
        city="Columbus",
        state="OH",
        postal_code="43215",
        is_default_shipping=True,
    )
    allergy = record_allergy(patient, by=technician, allergen="Sulfa", reaction="Rash")
    condition = record_condition(patient, by=technician, name="Type 2 diabetes", icd10_code="E11.9")
    prescriber = PrescriberFactory()
    package = stocked_package(units=3000)
    product = package.product
    lot = StockLot.objects.get(package=package)

    def prescription(**fields):
        from orders.tests.factories import PrescriptionFactory  # noqa: PLC0415

        return PrescriptionFactory(
            patient=patient, prescriber=prescriber, product=product, **fields
        )

    faxed = prescription(channel=Channel.FAX)
    faxed.original_document.save(
        "original.png", SimpleUploadedFile("original.png", tiny_png()), save=True
    )
    intake = prescription(
        status=Prescription.Status.INTAKE,
        intake_issues=[IntakeIssue.PATIENT_UNCERTAIN],
    )
    fills = {
        status: fill_at(status, prescription=prescription(), filled_by=technician)
        if status == Fill.Status.PV2
        else fill_at(status, prescription=prescription(), held_from=Fill.Status.FILL)
        if status == Fill.Status.ON_HOLD
        else fill_at(status, prescription=prescription())
        for status in (Fill.Status.PV1, Fill.Status.FILL, Fill.Status.PV2, Fill.Status.ON_HOLD)
    }
    # Shipping: an order awaiting packing, one labelled (with its label and packing slip),
    # one handed over with a delivery exception; a label wave and a manifest.
    awaiting = ready_order(patient=patient)
    waiting_shipment = create_shipment_for_order(awaiting)
    shipment = labelled_shipment(ready_order(patient=patient, status=Fill.Status.PACKED))
    documents.generate_shipping_documents(shipment)
    batch = documents.start_label_batch([shipment], by=technician)
    documents.print_label_batch(batch)  # what its task does after commit
    on_its_way = labelled_shipment(ready_order(patient=patient, status=Fill.Status.PACKED))
    hand_over_to_carrier([on_its_way], by=technician)
    exception = report_delivery_exception(
        Shipment.objects.get(pk=on_its_way.pk),
        by=technician,
        kind=DeliveryException.Kind.DAMAGED,
        description="Box crushed",
    )
    manifest = documents.build_manifest(Carrier.LOCAL, timezone.localdate(), by=technician)
    CarrierEvent.objects.create(
        carrier=Carrier.LOCAL,
        event_id="matrix-1",
        tracking_number=on_its_way.tracking_number,
        status="in_transit",
        occurred_at=timezone.now(),
        body="{}",
        shipment=on_its_way,
    )
    # Stock: a supplier's purchase order received with a stray package (a discrepancy),
    # a cycle count, a reorder alert.
    supplier = SupplierFactory(name="Matrix Supply")
    stray = PackageFactory()
    order = create_purchase_order(supplier, lines=[(package, 2)], by=manager, number="PO-MATRIX")
    receipt = receive_stock(
        [
            ReceiptLineInput(ndc=package.package_ndc, lot="MX1", expiry="2031-06", packages=2),
            ReceiptLineInput(ndc=stray.package_ndc, lot="MX2", expiry="2031-06", packages=1),
        ],
        purchase_order=order,
        by=technician,
    )
    count = start_cycle_count(by=technician, lots=[lot])
    ReorderRule.objects.create(product=product, reorder_point=100000, reorder_quantity=300)
    dispense_from_lot(
        lot,
        quantity=Decimal(1),
        by=technician,
        reference="matrix",
        usable_until=timezone.localdate(),
    )
    outbox_message = OutboxMessage.objects.create(
        kind="matrix.example", status=OutboxMessage.Status.FAILED, description="An example"
    )
    holiday = CarrierHoliday.objects.create(
        carrier=Carrier.LOCAL, day=timezone.localdate() + datetime.timedelta(days=30)
    )
    # What the admin lists of sign-in attempts and API tokens show.
    attempt = {"username": "matrix-tech", "ip_address": "10.0.0.1", "path_info": "/login/"}
    AccessAttempt.objects.create(**attempt, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**attempt)
    AccessFailureLog.objects.create(**attempt)
    tokens = {role: create_api_token(user).key for role, user in users.items()}
    # A pharmacist's authenticator app and recovery codes, as the admin and a manager's
    # reset of their second factor see them.
    give_authenticator(pharmacist)
    StaticDevice.objects.create(user=pharmacist, name="Recovery codes").token_set.create(
        token=StaticToken.random_token()
    )
    objects = {
        "patient": patient,
        "address": address,
        "allergy": allergy,
        "condition": condition,
        "prescriber": prescriber,
        "product": product,
        "lot": lot,
        "prescription": faxed,
        "intake": intake,
        "fill_pv1": fills[Fill.Status.PV1],
        "fill_fill": fills[Fill.Status.FILL],
        "fill_pv2": fills[Fill.Status.PV2],
        "fill_on_hold": fills[Fill.Status.ON_HOLD],
        "order": awaiting,
        "waiting_shipment": waiting_shipment,
        "shipment": shipment,
        "document": shipment.documents.filter(is_current=True).order_by("pk").first(),
        "exception": exception,
        "batch": batch,
        "manifest": manifest,
        "supplier": supplier,
        "purchase_order": order,
        "receipt": receipt,
        "discrepancy": ReceivingDiscrepancy.objects.get(purchase_order=order),
        "count": count,
        "count_line": CycleCount.objects.get(pk=count.pk).lines.order_by("pk").first(),
        "reorder_alert": ReorderAlert.objects.get(product=product),
        "carrier_service": CarrierService.objects.order_by("pk").first(),
        "holiday": holiday,
        "outbox_message": outbox_message,
        "group": Group.objects.order_by("pk").first(),
        "api_token": ApiToken.objects.filter(user=technician).earliest("pk"),
        "staff_member": pharmacist,
        "scheduled_refill": ScheduledRefill.objects.create(
            prescription=faxed, fill_on=timezone.localdate() + datetime.timedelta(days=20)
        ),
        # Seeded by pharmacy migration 0013.
        "warning_rule": AuxiliaryWarningRule.objects.order_by("pk").first(),
    }
    return DataSet(objects=objects, users=users, tokens=tokens)


# The data behind ``<int:pk>``, by the path segment before it.
PK_BY_SEGMENT = {
    "patients": "patient",
    "prescribers": "prescriber",
    "intake": "intake",
    "prescriptions": "prescription",
    "orders": "order",
    "shipping": "shipment",
    "shipments": "shipment",
    "exceptions": "exception",
    "delivery-exceptions": "exception",
    "labels": "batch",
    "manifests": "manifest",
    "services": "carrier_service",
    "holidays": "holiday",
    "side-effects": "outbox_message",
    "reorder-alerts": "reorder_alert",
    "lots": "lot",
    "receipts": "receipt",
    "purchase-orders": "purchase_order",
    "discrepancies": "discrepancy",
    "suppliers": "supplier",
    "counts": "count",
    "tokens": "api_token",
    "access": "staff_member",
    "warnings": "warning_rule",
    "scheduled-refills": "scheduled_refill",
}
# A fill's pages want the fill at their own step; every other fill URL takes the fill at
# PV2 (past PV1, so it has a label, and not filled by the signed-in pharmacist).
FILL_BY_STEP = {"pv1": "fill_pv1", "fill": "fill_fill", "pv2": "fill_pv2"}


def _pk_segment(url: Url) -> str:
    before = url.route.split("<int:pk>")[0].rstrip("/")
    return before.rsplit("/", 1)[-1]


def _admin_object(model_admin, data: DataSet):
    """The record an admin page shows: the patient's own where the admin shows patient
    data, else the first one."""
    records = model_admin.model._default_manager.order_by("pk")
    patient_of = getattr(model_admin, "patient_of", None)
    if patient_of is not None:
        return next(r for r in records if patient_of(r) == data["patient"])
    return records.first()


def path_variants(url: Url, data: DataSet) -> list[dict] | None:
    """The path arguments to visit ``url`` with (several for a queue's status); None when
    they cannot be filled (then the URL must be in ``UNFILLABLE``)."""
    values = {}
    for name in url.arguments:
        if name == "pk" and _pk_segment(url) == "fills":
            step = url.route.split("<int:pk>/")[-1].split("/")[0]
            values["pk"] = data[FILL_BY_STEP.get(step, "fill_pv2")].pk
        elif name == "pk":
            segment = _pk_segment(url)
            if segment not in PK_BY_SEGMENT:
                return None
            values["pk"] = data[PK_BY_SEGMENT[segment]].pk
        elif name in {"address_id", "allergy_id", "condition_id"}:
            values[name] = data[name.removesuffix("_id")].pk
        elif name == "line_pk":
            values[name] = data["count_line"].pk
        elif name == "document_id":
            values[name] = data["document"].pk
        elif name == "product_ndc":
            values[name] = data["product"].product_ndc
        elif name == "carrier":
            values[name] = Carrier.LOCAL
        elif name == "object_id" and getattr(url.callback, "model_admin", None) is not None:
            record = _admin_object(url.callback.model_admin, data)
            if record is None:
                return None
            values[name] = record.pk
        elif name == "id" and url.name == "auth_user_password_change":
            values[name] = data.users["technician"].pk
        elif name == "app_label":
            values[name] = "pharmacy"
        elif name == "url":
            values[name] = "no-such-page/"
        elif name == "status":
            continue
        else:
            return None
    if "status" in url.arguments:
        statuses = FILL_QUEUES if url.route.startswith("fills/") else SHIPMENT_LISTS
        return [{**values, "status": status} for status in statuses]
    return [values]


# The query a GET is sent with, where a page shows nothing (or refuses) without one: the
# searches look for the patient (and the entry form's panel shows them), the recall trace
# for the lot they were dispensed from.
QUERIES = {
    "patient_list": lambda data: {"q": LAST_NAME},
    "intake_search_patients": lambda data: {"q": LAST_NAME},
    "intake_patient_panel": lambda data: {"patient": data["patient"].pk},
    "api_patient_list": lambda data: {"last_name": LAST_NAME},
    "api_prescription_list": lambda data: {"patient": data["patient"].pk},
    "api_recall_trace": lambda data: {
        "ndc": data["lot"].package.package_ndc,
        "lot": data["lot"].lot_number,
    },
}


def query_for(url: Url, data: DataSet) -> dict:
    return QUERIES[url.key](data) if url.key in QUERIES else {}


# URLs the data set cannot fill, with the reason. Everything else is visited.
UNFILLABLE = {
    # The admin's "view on site" needs a model with get_absolute_url; none has one.
    "admin:view_on_site": "no model has a page of its own outside the admin",
    # Answers only for a model admin's autocomplete fields; none has any.
    "admin:autocomplete": "no model admin has autocomplete fields",
}
