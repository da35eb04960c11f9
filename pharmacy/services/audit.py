"""The audit trail: one append-only row per patient record read or changed, sign-in and
staff action (who, what, from where)."""

from collections.abc import Iterable

from django.http import HttpRequest

from pharmacy.models import AuditEvent, Patient, User


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # Behind the proxy (see README) the first X-Forwarded-For hop is the client.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return (forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR")) or None


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
        ip_address=_client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:255] if request else ""),
    )
