"""The group pages of issue 14 in real headless Chromium, JavaScript off: adding a member by
searching, and deleting a group through its confirmation page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scim_server.db import make_session_factory
from scim_server.domain import groups as group_service
from scim_server.domain.actors import Actor
from scim_server.storage.models import Account, Group
from tests.ui.conftest import LiveServer, browser_sign_in, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def no_js_page(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    context = chromium.new_context(locale="en-US", java_script_enabled=False,
                                   viewport={"width": 1360, "height": 900},
                                   extra_http_headers={"Accept-Language": "en-US,en;q=0.9"})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_add_by_search_then_delete_without_javascript(no_js_page: Any,
                                                      live_server: LiveServer) -> None:
    factory = make_session_factory(live_server.app.extensions["scim_engine"])
    with factory() as session:
        account = session.get(Account, live_server.seeded.account_id)
        gid = group_service.create_group(session, account, "Night shift",
                                         actor=Actor(door="scim"))
        session.commit()
    page = no_js_page
    browser_sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/groups/{gid}")
    assert page.locator('[data-testid="managed"]').is_visible()
    page.fill('[data-testid="find-user"]', "martin")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("button", name="Add Alice Martin").click()
    assert page.get_by_text("Alice Martin was added to Night shift.").is_visible()
    # Still the identity provider's after a change made here: its next push wins.
    assert page.locator('[data-testid="managed"]').is_visible()
    screenshot(page, "group.png")

    page.goto(f"{live_server.url}/admin/groups")
    page.get_by_role("link", name="Delete…").click()
    consequence = page.locator('[data-testid="consequence"]')
    assert "The group Night shift will be deleted. Members: 1;" in consequence.inner_text()
    screenshot(page, "group-delete.png")
    page.locator('[data-testid="delete-submit"]').click()
    assert page.get_by_text("Group Night shift was deleted.").is_visible()
    with factory() as session:
        assert session.get(Group, gid) is None


def test_on_duty_page(page: Any, live_server: LiveServer) -> None:
    import datetime as dt

    from scim_server.hub import duty

    factory = make_session_factory(live_server.app.extensions["scim_engine"])
    with factory() as session:
        account = session.get(Account, live_server.seeded.account_id)
        always = [duty.WindowSpec(d, dt.time(0), dt.time(0)) for d in range(7)]
        for email, windows in (("alice@acme.io", always), ("bob@acme.io", always[:1])):
            duty.set_schedule(session, account, live_server.seeded.users[email],
                              time_zone="Europe/Paris", windows=windows, actor=Actor(door="api"))
        session.commit()
    browser_sign_in(page, live_server)
    page.get_by_role("link", name="On duty").first.click()
    now = page.locator('[data-testid="on-duty-now"]')
    assert now.get_by_role("link", name="Alice Martin").is_visible()
    assert page.locator('[data-testid="schedules-table"]').get_by_text("Bob Stone").is_visible()
    screenshot(page, "on-duty.png")
