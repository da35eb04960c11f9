"""The audit trail: one append-only row per patient record read or changed, sign-in and
staff action (who, what, from where)."""

from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest

from lib.client_ip import client_ip
from lib.rate_limits import count_event
from pharmacy.models import AuditEvent, Patient, User


def record_audit_event(
    *,
    actor: User | None,
    action: str,
    request: HttpRequest | None = None,
    obj: object | None = None,
    patient: Patient | None = None,
    patients: Iterable[Patient] = (),
    summary: str = "",
    username: str = "",
) -> AuditEvent:
    """Append one line to the audit trail (never updated or deleted afterwards).

    ``patient`` is the one patient whose data was shown or changed; ``patients`` the
    patients of a list or search result. Call it once per page or API read.
    """
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_username=(actor.get_username() if actor and actor.is_authenticated else username)[
            :150
        ],
        action=action,
        object_type=obj._meta.label if obj is not None and hasattr(obj, "_meta") else "",
        object_id=str(getattr(obj, "pk", "") or ""),
        patient=patient,
        patient_ids=sorted({p.pk for p in patients}),
        summary=summary[:255],
        path=(request.get_full_path()[:255] if request else ""),
        ip_address=client_ip(request) if request else None,
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:255] if request else ""),
    )


# Per session: for each list page that refreshes itself, the page last audited and the
# patients its row named.
_AUDITED_LISTS_SESSION_KEY = "audited_lists"


def record_list_view(
    request: HttpRequest,
    *,
    list_name: str,
    page: str,
    patients: Iterable[Patient],
    summary: str,
    refresh: bool,
) -> AuditEvent | None:
    """Audit a view of a list of patients' records that refreshes itself (a work queue
    polled every few seconds): one row naming the patients shown per page view; a
    refresh writes one only when it shows a patient the last row of that list and page in
    this session did not name. Every patient shown is in the trail, without a row every
    ten seconds. Returns the row written, or None."""
    patients = list(patients)
    shown = sorted({patient.pk for patient in patients})
    audited = request.session.get(_AUDITED_LISTS_SESSION_KEY, {})
    last_page, last_shown = audited.get(list_name, ("", []))
    if refresh and last_page == page and set(shown) <= set(last_shown):
        return None
    event = record_audit_event(
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        request=request,
        patients=patients,
        summary=summary,
    )
    # Saved with the session, which is written on every request anyway: no extra query.
    request.session[_AUDITED_LISTS_SESSION_KEY] = {**audited, list_name: (page, shown)}
    return event


# Failed sign-ins are counted per address in windows of this many seconds.
FAILED_SIGN_IN_AUDIT_WINDOW_SECONDS = 3600


def record_failed_sign_in(request: HttpRequest, *, username: str) -> AuditEvent | None:
    """Audit one failed sign-in, at most ``LOGIN_FAILURE_AUDIT_LIMIT`` rows per address an
    hour: the next failure writes one row saying that further failures from the address
    are not recorded this hour, and the ones after it none (a guesser must not be able to
    fill the append-only trail). None when no row was written. Without the cache every
    failure is recorded."""
    address = client_ip(request) or "unknown"
    count = count_event(
        f"failed-sign-in-audit:{address}", window_seconds=FAILED_SIGN_IN_AUDIT_WINDOW_SECONDS
    )
    limit = settings.LOGIN_FAILURE_AUDIT_LIMIT
    if count is not None and count > limit + 1:
        return None
    summary = ""
    if count == limit + 1:
        summary = (
            f"{limit} failed sign-ins from this address this hour: further failures from it "
            "are not recorded until the hour ends"
        )
    return record_audit_event(
        actor=None,
        action=AuditEvent.Action.LOGIN_FAILED,
        request=request,
        username=username,
        summary=summary,
    )
