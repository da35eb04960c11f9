"""What the checker sees: the product with its strength and form on every page where it
is checked, PV2's prescribed and filled packages side by side with differences in words,
what one unit looks like, the label inline, PV1's alerts first with their severity in
words, the PV1 queue's alert counts, and steps in words in a fill's history."""

import pytest

from inventory.tests.factories import PackageFactory, ProductFactory, ProductIngredientFactory
from orders.models import DurAlert, Fill
from orders.services.workflow import hold_fill
from orders.tests.factories import DurAlertFactory, fill_at, stocked_prescription

pytestmark = pytest.mark.django_db

S = Fill.Status


def text_of(html: str, name: str) -> str:
    """The text of the element with this data-testid, up to its closing tag."""
    start = html.index(f'data-testid="{name}"')
    return html[html.index(">", start) + 1 : html.index("</", start)]


def prescribed_90_filled_from_30() -> Fill:
    """Prescribed as the bottle of 90; filled from the bottle of 30 of the same product."""
    prescription = stocked_prescription()
    ninety = PackageFactory(product=prescription.product, description="90 TABLET in 1 BOTTLE")
    prescription.prescribed_ndc = ninety.ndc11
    prescription.save()
    return fill_at(S.PV2, prescription=prescription)


def test_pv2_sets_the_packages_side_by_side_and_names_the_difference(client_pharmacist):
    fill = prescribed_90_filled_from_30()
    product = fill.prescription.product
    product.unit_description = "White oval tablet, imprint PD 155"
    product.save()

    html = client_pharmacist.get(f"/fills/{fill.pk}/pv2/").content.decode()

    compare = html[html.index('data-testid="pv2-compare"') : html.index("</table>")]
    assert "<td>90 TABLET in 1 BOTTLE</td>" in compare
    assert text_of(compare, "filled-package").startswith("30 TABLET in 1 BOTTLE ")
    assert "Another package of the same product" in compare
    assert text_of(compare, "filled-product") == "Lipitor (atorvastatin calcium) 10 mg tablet"
    assert "Another product than the one prescribed" not in compare
    assert "Another manufacturer" not in compare
    assert text_of(compare, "filled-unit") == "White oval tablet, imprint PD 155"
    assert text_of(compare, "filled-ndc") == fill.dispensed_ndc
    assert text_of(compare, "filled-manufacturer") == "Example Laboratories"


def test_pv2_marks_another_manufacturer(client_pharmacist):
    fill = fill_at(S.PV2)
    other = ProductFactory(
        proprietary_name="", nonproprietary_name="atorvastatin calcium", dosage_form="TABLET",
        labeler_name="Other Pharma Inc",
    )  # fmt: skip
    ProductIngredientFactory(product=other, strength="10", strength_unit="mg/1")
    Fill.objects.filter(pk=fill.pk).update(dispensed_package=PackageFactory(product=other))

    html = client_pharmacist.get(f"/fills/{fill.pk}/pv2/").content.decode()

    assert "Another product than the one prescribed" in html
    assert text_of(html, "filled-manufacturer").startswith("Other Pharma Inc")
    assert "Another manufacturer" in html


def test_pv2_and_the_fill_station_show_the_label_inline(client_pharmacist, client_technician):
    at_pv2 = fill_at(S.PV2)
    at_fill = fill_at(S.FILL)

    pv2 = client_pharmacist.get(f"/fills/{at_pv2.pk}/pv2/").content.decode()
    station = client_technician.get(f"/fills/{at_fill.pk}/fill/").content.decode()

    for html, fill in ((pv2, at_pv2), (station, at_fill)):
        assert '<iframe class="label-preview" srcdoc="&lt;!DOCTYPE html&gt;' in html
        assert f"Rx {fill.prescription.rx_number}&lt;/span&gt;" in html
        assert "/static/css/rx_label.css" in html
        # The vial code is scanned from the printed label: no code, no barcode on screen.
        assert "code-hidden" in html
        assert "svg class=" not in html
        assert fill.label_code not in html
    assert 'data-testid="product-description">Lipitor (atorvastatin calcium) 10 mg tablet<' in (
        station
    )
    assert 'data-testid="unit-description">Not described in the catalogue<' in station


def test_the_label_frame_escapes_what_it_prints(client_pharmacist):
    fill = fill_at(S.PV2)
    prescription = fill.prescription
    prescription.directions = 'Take 1 "tablet" <daily> & rest'
    prescription.save()

    html = client_pharmacist.get(f"/fills/{fill.pk}/pv2/").content.decode()

    # Escaped once by the label's template, once more for the attribute: the frame's
    # document shows the text, and nothing of it closes the attribute or opens a tag.
    assert "Take 1 &amp;quot;tablet&amp;quot; &amp;lt;daily&amp;gt; &amp;amp; rest" in html
    assert "<daily>" not in html


def test_pv1_shows_the_alerts_first_most_serious_first_in_words(client_pharmacist):
    fill = fill_at(S.PV1)
    DurAlertFactory(fill=fill, type=DurAlert.Type.DOSE, severity="moderate", message="Dose high")
    DurAlertFactory(fill=fill, type=DurAlert.Type.INTERACTION, severity="contraindicated")

    html = client_pharmacist.get(f"/fills/{fill.pk}/pv1/").content.decode()

    assert html.index('data-testid="dur-alerts"') < html.index('data-testid="original"')
    assert '2 alerts, worst <span data-testid="worst-severity">contraindicated</span>' in html
    severities = html.split('data-testid="alert-severity">')[1:]
    assert [s.split("<")[0] for s in severities] == ["Contraindicated", "Moderate"]
    # The override fields sit at the top; they belong to the form at the foot.
    assert 'form="pv1-approve-form"' in html
    assert f'<form method="post" action="/fills/{fill.pk}/pv1/" id="pv1-approve-form"' in html


def test_the_pv1_queue_counts_each_fills_alerts_and_names_the_worst(client_pharmacist):
    fill = fill_at(S.PV1)
    DurAlertFactory(fill=fill, severity="moderate")
    DurAlertFactory(fill=fill, severity="major")
    DurAlert.objects.create(
        prescription=fill.prescription, type="dose", severity="minor", message="For the Rx"
    )
    quiet = fill_at(S.PV1)

    html = client_pharmacist.get("/fills/queue/pv1/rows/").content.decode()

    rows = {
        pk: html[html.index(f'data-fill="{pk}"') :].split("</tr>")[0] for pk in (fill.pk, quiet.pk)
    }
    assert '<span class="badge severe">3 alerts, worst major</span>' in rows[fill.pk]
    assert "No alerts" in rows[quiet.pk]
    assert "Lipitor (atorvastatin calcium) 10 mg tablet" in rows[fill.pk]


def test_the_fill_history_says_steps_in_words(client_pharmacist, pharmacist):
    fill = fill_at(S.PV1)
    hold_fill(fill, by=pharmacist, reason_code="clarification", note="Which strength?")

    html = client_pharmacist.get(f"/fills/{fill.pk}/").content.decode()
    events = html[html.index('data-testid="events"') :].split("</table>")[0]

    assert "<td>Waiting for PV1</td><td>On hold</td>" in events
    assert "<td>pv1</td>" not in events
    assert "on_hold" not in events


def test_the_rx_page_and_the_fill_station_name_strength_and_unit(client_technician):
    fill = fill_at(S.FILL)
    product = fill.prescription.product
    product.unit_description = "White oval tablet, imprint PD 155"
    product.save()

    rx_page = client_technician.get(f"/prescriptions/{fill.prescription_id}/").content.decode()
    station = client_technician.get(f"/fills/{fill.pk}/fill/").content.decode()

    assert text_of(rx_page, "product-description") == "Lipitor (atorvastatin calcium) 10 mg tablet"
    assert text_of(station, "unit-description") == "White oval tablet, imprint PD 155"
    assert text_of(station, "prescribed-package").endswith("30 TABLET in 1 BOTTLE")
