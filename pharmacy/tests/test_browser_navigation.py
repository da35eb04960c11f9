"""The navigation bar in a real Chromium at 1280 x 720: one row for every role, even with
every queue's count at its widest ("999+") and a long name, and exactly one current item."""

import pytest
from playwright.sync_api import expect

from orders.models import Fill
from orders.tests.factories import fill_at
from pharmacy.models import Role
from pharmacy.tests.factories import make_staff
from pharmacy.tests.second_factor import sign_in_in_browser
from shipping import navigation

pytestmark = pytest.mark.browser

# One row of links: the bar's own padding plus one line of text; two rows would be ~75.
ONE_ROW_PX = 52


def widest_counts(user, queues):
    return {queue.key: navigation.NAV_COUNT_CAP + 1 for queue in queues}


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.PHARMACIST, Role.MANAGER])
def test_the_navigation_is_one_row_at_1280_for_every_role(
    page, transactional_db, monkeypatch, screenshot, role
):
    monkeypatch.setattr(navigation, "queue_counts", widest_counts)
    person = make_staff(f"nav-{role}", role)
    person.first_name, person.last_name = "Maximiliana", "Oyelaran-Featherstonehaugh"
    person.save(update_fields=["first_name", "last_name"])
    page.set_viewport_size({"width": 1280, "height": 720})

    sign_in_in_browser(page, person.username)
    expect(page.get_by_test_id("main-nav")).to_be_visible()

    nav = page.get_by_test_id("main-nav").bounding_box()
    items = page.locator("[data-testid=main-nav] > ul > li")
    tops = {round(items.nth(i).bounding_box()["y"]) for i in range(items.count())}
    screenshot(f"navigation-{role}-1280")
    assert nav["height"] <= ONE_ROW_PX, nav
    assert len(tops) == 1, tops
    bar = page.locator(".topbar").bounding_box()
    assert bar["width"] <= 1280
    # Nothing drawn over anything: the last item ends before the person's name begins.
    last = items.nth(items.count() - 1).bounding_box()
    who = page.locator(".who").bounding_box()
    assert last["x"] + last["width"] <= who["x"], (last, who)
    assert bar["height"] <= ONE_ROW_PX + 10, bar
    assert page.locator("[data-testid=main-nav] [aria-current=page]").count() == 1


def test_a_queue_page_and_its_work_page_mark_that_queue_alone(page, transactional_db):
    pharmacist = make_staff("nav-pharmacist", Role.PHARMACIST)
    fill = fill_at(Fill.Status.PV1)
    page.set_viewport_size({"width": 1280, "height": 720})
    sign_in_in_browser(page, pharmacist.username)

    page.goto("/fills/queue/pv1/")
    current = page.locator("[data-testid=main-nav] [aria-current=page]")
    expect(current).to_have_count(1)
    expect(current).to_have_attribute("data-testid", "nav-queue-pv1")
    expect(page.get_by_test_id("nav-queue-pv1").locator(".count")).to_have_text("1")

    page.goto(f"/fills/{fill.pk}/pv1/")
    expect(current).to_have_count(1)
    expect(current).to_have_attribute("data-testid", "nav-queue-pv1")
