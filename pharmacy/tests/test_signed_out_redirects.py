"""A session that timed out (or a person never signed in) is sent to sign in and back to
the page they were on, on every page: a full page by a redirect to ``/login/?next=``,
an htmx fragment by ``HX-Redirect`` to the same (htmx would otherwise swap the sign-in
page into a fragment), never a bare "Not allowed" (403).

Walks the URL configuration as ``pharmacy/tests/test_url_matrix.py`` does: every page
(not the API, which answers 401 in JSON, nor the admin, which has its own sign-in).
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from pharmacy.middleware import SESSION_STARTED_KEY
from pharmacy.tests.second_factor import signed_in_client
from pharmacy.tests.url_matrix import (
    UNFILLABLE,
    allowed_methods,
    build_data_set,
    every_url,
    path_variants,
    query_for,
    requirement,
)

# Pages that answer a signed-out person themselves, and why.
PUBLIC_PAGES = {
    "login": "the sign-in page",
    "logout": "signing out is always allowed",
    "health": "the load balancer's check",
}


def _sent_to_sign_in(location: str, path: str) -> bool:
    target = urlsplit(location)
    return target.path == "/login/" and parse_qs(target.query).get("next") == [path]


def _pages(data):
    for url in every_url():
        if url.is_api or url.is_admin or url.key in UNFILLABLE:
            continue
        if requirement(url, "GET", superuser=data.users["superuser"]).public:
            continue
        view_class = getattr(url.callback, "view_class", None)
        methods = allowed_methods(url)
        if (view_class is not None and not hasattr(view_class, "get")) or (
            view_class is None and methods is not None and "GET" not in methods
        ):
            continue  # a form's address: tested by POST below
        for args in path_variants(url, data) or []:
            yield url, url.path(args)


def test_every_page_sends_a_signed_out_person_to_sign_in_and_back(db):
    data = build_data_set()
    wrong, visited = [], 0

    for url, path in _pages(data):
        if url.key in PUBLIC_PAGES:
            continue
        query = query_for(url, data)
        full = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
        response = Client().get(path, query)
        visited += 1
        if response.status_code != 302 or not _sent_to_sign_in(response["Location"], full):
            wrong.append(f"GET {full}: {response.status_code} {response.get('Location', '')}")
        fragment = Client().get(path, query, headers={"HX-Request": "true"})
        if fragment.status_code != 204 or not _sent_to_sign_in(
            fragment.get("HX-Redirect", ""), full
        ):
            wrong.append(
                f"htmx GET {full}: {fragment.status_code} {fragment.get('HX-Redirect', '')}"
            )

    assert visited > 50
    assert wrong == [], "\n".join(wrong)


def test_an_htmx_fragment_returns_to_the_page_it_was_part_of(db):
    response = Client().get(
        "/fills/queue/pv1/",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/fills/queue/pv1/?q=x"},
    )
    assert response.status_code == 204
    assert _sent_to_sign_in(response["HX-Redirect"], "/fills/queue/pv1/?q=x")


def test_a_session_past_its_absolute_limit_goes_to_sign_in_and_back(technician):
    client = signed_in_client(technician)
    session = client.session
    session[SESSION_STARTED_KEY] = 0
    session.save()
    response = client.get("/refills/")
    assert response.status_code == 302
    assert _sent_to_sign_in(response["Location"], "/refills/")


def test_a_form_sent_after_the_session_ended_returns_to_the_page_that_sent_it(db):
    response = Client().post(
        "/fills/1/hold/", {}, headers={"Referer": "http://testserver/fills/1/fill/?x=1"}
    )
    assert response.status_code == 302
    assert _sent_to_sign_in(response["Location"], "/fills/1/fill/?x=1")


def test_a_form_sent_from_another_site_returns_nowhere(db):
    response = Client().post("/fills/1/hold/", {}, headers={"Referer": "https://evil.example/x"})
    assert response.status_code == 302
    assert response["Location"] == "/login/"


def test_an_ended_session_is_told_why(db):
    client = Client()
    client.cookies["sessionid"] = "expired-session-key"
    response = client.get("/refills/", follow=True)
    assert "Your session ended. Sign in to go back where you were." in response.content.decode()


def test_a_signed_in_person_without_the_role_still_gets_not_allowed(client_technician):
    response = client_technician.get("/manager/access/")
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["https://evil.example/", "//evil.example/"])
def test_the_way_back_never_leaves_the_site(client, path, db):
    response = client.post("/login/?next=" + path, {"username": "x", "password": "y"})
    assert "evil.example" not in response.get("Location", "")
