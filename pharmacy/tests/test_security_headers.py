"""Security headers on every response: a strict Content-Security-Policy, a
Permissions-Policy, and no caching of anything a signed-in person or the API was shown."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from orders.models import Fill
from orders.tests.factories import fill_at
from pharmacy.tests.factories import PatientFactory

STRICT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


@pytest.mark.parametrize(
    "path", ["/login/", "/health/", "/api/v1/fills/", "/technician/", "/api/docs/"]
)
def test_every_response_carries_the_strict_policy(client, db, path):
    response = client.get(path)

    assert response["Content-Security-Policy"] == STRICT_POLICY
    assert response["Permissions-Policy"] == PERMISSIONS


def test_pages_shown_to_a_signed_in_person_are_never_cached(client_technician):
    patient = PatientFactory()

    response = client_technician.get(f"/patients/{patient.pk}/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_api_answers_are_never_cached_even_when_refused(client, api_technician):
    answers = [api_technician.get("/api/v1/fills/"), client.get("/api/v1/fills/")]

    assert [answer.status_code for answer in answers] == [200, 401]
    assert all("no-store" in answer["Cache-Control"] for answer in answers)


def test_the_pv2_page_shows_the_rx_label_inline_and_nothing_may_frame_the_pdf(
    client_pharmacist,
):
    fill = fill_at(Fill.Status.PV2)

    page = client_pharmacist.get(f"/fills/{fill.pk}/pv2/")
    label = client_pharmacist.get(f"/api/v1/fills/{fill.pk}/label.pdf")

    # The label is the page's own srcdoc frame: no directive is loosened for it.
    assert page.status_code == 200
    assert page["Content-Security-Policy"] == STRICT_POLICY
    assert page["X-Frame-Options"] == "DENY"
    assert '<iframe class="label-preview" srcdoc=' in page.content.decode()
    assert label.status_code == 200
    assert label["Content-Security-Policy"] == STRICT_POLICY
    assert label["X-Frame-Options"] == "DENY"
    assert client_pharmacist.get("/pharmacist/")["X-Frame-Options"] == "DENY"


TEMPLATES = Path(settings.BASE_DIR) / "templates"
# PDF templates are rendered by WeasyPrint, never served to a browser.
PDF_TEMPLATES = {
    "orders/rx_label.html",
    "shipping/label_4x6.html",
    "shipping/manifest.html",
    "shipping/packing_slip.html",
}
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=|hx-on|\[[^\]]*\]\"", re.I
)


def test_no_page_template_has_inline_script_style_or_handlers():
    found = {
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in TEMPLATES.rglob("*.html")
        if str(path.relative_to(TEMPLATES)) not in PDF_TEMPLATES
        for match in INLINE.finditer(path.read_text())
    }

    assert found == set()
