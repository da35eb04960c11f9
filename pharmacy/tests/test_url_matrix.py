"""The role matrix and the audit matrix, generated from the URL configuration.

Every URL pattern (pages, API, the admin) is visited by every kind of caller: anonymous,
each role signed in, each role's API token, and a superuser in the admin; with GET and
HEAD, and with POST by every caller the view does not allow to post.

- Role matrix: a caller the view's own permission (its decorator, its API class, its
  model admin; ``url_matrix``) does not allow is refused (401, 403, or sent to sign in;
  405 for a method the view never takes), never answered; a caller it allows is never
  refused, and a GET renders (200) unless the view only posts or only redirects.
- Audit matrix: an answer that shows the data set's patient (their name or birth date,
  in HTML, JSON, CSV or a PDF's text) wrote exactly one audit row naming them.

A new page is in both the day it is added; one whose permission cannot be read from the
view, or whose path cannot be filled, fails here until it is declared in ``url_matrix``.
"""

from dataclasses import dataclass, field

import pytest
from django.db.models import Q
from django.test import Client
from rest_framework.test import APIClient

from pharmacy.models import AuditEvent
from pharmacy.tests.second_factor import signed_in_client
from pharmacy.tests.url_matrix import (
    ARGUMENT_REQUIREMENTS,
    DECLARED,
    QUERIES,
    UNFILLABLE,
    Url,
    allowed_methods,
    answer_text,
    build_data_set,
    every_url,
    is_allowed,
    is_refusal,
    path_variants,
    query_for,
    requirement,
    shows_the_patient,
)

# Callers: (name, role, how they authenticate, which URLs they visit).
CALLERS = {
    "anonymous": (None, "none", "all"),
    "technician": ("technician", "session", "all"),
    "pharmacist": ("pharmacist", "session", "all"),
    "manager": ("manager", "session", "all"),
    "technician token": ("technician", "token", "api"),
    "pharmacist token": ("pharmacist", "token", "api"),
    "manager token": ("manager", "token", "api"),
    "superuser": ("superuser", "session", "admin"),
}
# GETs a caller allowed in answers with a redirect, not a page, and why.
REDIRECTS = {
    "home": "sends each person to their role's home page",
    "second_factor": "a session past the second step, or with none to pass, goes on",
    "shipping_home": "opens the first shipping list",
    # An admin record's bare URL sends to its change page (Django's admin).
    **{
        f"admin:admin/{app}/{model}/<path:object_id>/": "goes on to the record's change page"
        for app, model in [
            ("auth", "group"),
            ("axes", "accessattempt"),
            ("axes", "accesslog"),
            ("axes", "accessfailurelog"),
            ("outbox", "outboxmessage"),
            ("inventory", "product"),
            ("pharmacy", "user"),
            ("pharmacy", "prescriber"),
            ("pharmacy", "patient"),
            ("pharmacy", "auditevent"),
            ("shipping", "shippingrules"),
            ("shipping", "carrierservice"),
            ("shipping", "carrierholiday"),
            ("shipping", "shipment"),
            ("shipping", "carrierevent"),
            ("shipping", "deliveryexception"),
        ]
    },
}
# GETs a caller allowed in answers with another status, and why.
OTHER_ANSWERS = {
    "admin:admin/(?P<url>.*)$": ({404}, "the admin's answer to a page it does not have"),
    "admin:logout": ({302, 405}, "signs out by POST only; a visitor goes to its index"),
    "login": ({200, 302}, "the sign-in page; a signed-in person goes on to their home"),
    "second_factor_setup": (
        {200, 302},
        "sets up an app for someone without one; with one, goes on to the second step",
    ),
    "admin:login": ({200, 302}, "the admin's sign-in; a superuser goes on to its index"),
}


@dataclass
class Findings:
    cells: int = 0
    wrong_access: list = field(default_factory=list)
    wrong_audit: list = field(default_factory=list)
    not_rendered: list = field(default_factory=list)
    shown: int = 0


def _client(caller: str, data):
    role, how, _ = CALLERS[caller]
    if how == "token":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {data.tokens[role]}")
        return client
    if role is None:
        return Client()
    # Past the second factor where the role asks for it, as every session that reaches
    # a page is (pharmacy.access); the gate itself is pharmacy/tests/test_second_factor.py.
    return signed_in_client(data.users[role])


def _visits(url: Url, scope: str) -> bool:
    return {"all": True, "api": url.is_api, "admin": url.is_admin}[scope]


def _requirement(url: Url, method: str, args: dict, data):
    if url.key in ARGUMENT_REQUIREMENTS:
        return ARGUMENT_REQUIREMENTS[url.key](args)
    return requirement(url, method, superuser=data.users["superuser"])


def _takes(url: Url, method: str) -> bool:
    view_class = getattr(url.callback, "cls", None)
    if view_class is not None:
        return hasattr(view_class, method.lower()) or (
            method == "HEAD" and hasattr(view_class, "get")
        )
    methods = allowed_methods(url)
    return methods is None or method in methods


def _audit_rows_naming(patient, after_id: int) -> int:
    return AuditEvent.objects.filter(
        Q(patient=patient) | Q(patient_ids__contains=[patient.pk]), pk__gt=after_id
    ).count()


def _last_audit_id() -> int:
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    return last or 0


def walk(caller: str, data) -> Findings:
    """Visit every URL in ``caller``'s scope; what went against the matrices."""
    role, how, scope = CALLERS[caller]
    is_superuser = role == "superuser"
    role_name = None if role in {None, "superuser"} else role
    patient = data["patient"]
    findings = Findings()
    for url in every_url():
        if not _visits(url, scope) or url.key in UNFILLABLE:
            continue
        for args in path_variants(url, data) or []:
            path = url.path(args)
            for method in ("GET", "HEAD", "POST"):
                req = _requirement(url, method, args, data)
                allowed = is_allowed(
                    req, role_name, is_superuser=is_superuser, by_token=how == "token"
                )
                if method == "POST" and allowed:
                    continue  # only refusals are posted: no body is ever needed
                before = _last_audit_id()
                client = _client(caller, data)  # a fresh session per cell
                send = {"GET": client.get, "HEAD": client.head, "POST": client.post}[method]
                query = query_for(url, data) if method != "POST" else {}
                response = send(path, query, **({"format": "json"} if how == "token" else {}))
                findings.cells += 1
                cell = f"{method} {path} as {caller}: {response.status_code}"
                if not allowed:
                    if not (is_refusal(response) or response.status_code == 405):
                        findings.wrong_access.append(f"{cell}, expected a refusal")
                    continue
                if is_refusal(response):
                    findings.wrong_access.append(f"{cell}, expected an answer")
                    continue
                if method != "GET":
                    continue
                expected = {200}
                if not _takes(url, "GET"):
                    expected = {405}
                elif url.key in REDIRECTS:
                    expected = {302}
                elif url.key in OTHER_ANSWERS:
                    expected = OTHER_ANSWERS[url.key][0]
                if response.status_code not in expected:
                    findings.not_rendered.append(f"{cell}, expected {expected}")
                if 200 <= response.status_code < 300 and shows_the_patient(answer_text(response)):
                    findings.shown += 1
                    written = _audit_rows_naming(patient, before)
                    if written != 1:
                        findings.wrong_audit.append(
                            f"{cell} shows the patient and wrote {written} audit rows naming them"
                        )
    return findings


@pytest.mark.parametrize("caller", list(CALLERS))
def test_every_url_answers_each_caller_as_its_view_allows_and_audits_what_it_shows(
    caller, db, capsys
):
    data = build_data_set()

    findings = walk(caller, data)

    with capsys.disabled():
        print(
            f"\nURL matrix, {caller}: {findings.cells} cells, "
            f"{findings.shown} answers showed the patient"
        )
    assert findings.wrong_access == [], "\n".join(findings.wrong_access)
    assert findings.not_rendered == [], "\n".join(findings.not_rendered)
    assert findings.wrong_audit == [], "\n".join(findings.wrong_audit)


def test_every_url_has_a_readable_requirement_and_a_path(db):
    data = build_data_set()
    undeclared, unfilled = [], []

    for url in every_url():
        if url.key in UNFILLABLE:
            continue
        variants = path_variants(url, data)
        if variants is None:
            unfilled.append(url.key)
            continue
        for method in ("GET", "POST"):
            for args in variants:
                if _requirement(url, method, args, data) is None:
                    undeclared.append(f"{method} {url.key}")

    assert undeclared == []
    assert unfilled == [], unfilled
    # The declarations name URLs that exist.
    keys = {url.key for url in every_url()}
    stale = (set(DECLARED) | set(ARGUMENT_REQUIREMENTS) | set(UNFILLABLE) | set(QUERIES)) - keys
    assert stale == set()
    assert (set(REDIRECTS) | set(OTHER_ANSWERS)) - keys == set()
