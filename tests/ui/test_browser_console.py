"""The admin console in headless Chromium (Playwright): the activation confirmation, sortable
headers, the bulk bar, the phone layout at 390 px, and axe-core on every admin page.

axe-core is the copy shipped inside the ``axe-playwright-python`` package (the test extra),
so the check runs offline. A serious or critical violation fails the test; the message lists
each rule with the elements it found.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from scim_server.db import make_session_factory
from scim_server.storage.models import Account, Credential, Group, GroupMember, User
from tests.domain.factories import make_resource
from tests.ui.conftest import PASSWORD, LiveServer, browser_sign_in, paris_page, screenshot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _status(live: LiveServer, email: str) -> str:
    with make_session_factory(live.app.extensions["scim_engine"])() as session:
        status = session.scalar(select(User.status).where(
            User.account_id == live.seeded.account_id, User.user_name_key == email))
        assert status is not None
        return status


def _row(page: Any, email: str) -> Any:
    return page.locator(f'[data-testid="row-{email}"]')


@pytest.fixture
def phone(chromium: Any, live_server: LiveServer) -> Any:
    with paris_page(chromium, viewport=PHONE, is_mobile=True, has_touch=True,
                    device_scale_factor=2) as pg:
        yield pg


# --- confirmations, headers, bulk bar -----------------------------------------------------------

def test_activation_is_confirmed_in_the_browser(page: Any, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users?status=inactive")
    row = _row(page, "erin@acme.io")
    row.locator('[data-testid="menu"]').click()
    row.get_by_role("link", name="Activate…").click()
    effects = page.locator('[data-testid="activation-effects"]')
    effects.wait_for()
    assert "paying seats" in effects.inner_text()
    screenshot(page, "activate-user.png")
    assert _status(live_server, "erin@acme.io") == "inactive"
    page.click('[data-testid="activate-submit"]')
    page.wait_for_url("**/admin/users?status=inactive")
    assert "Erin Idle (erin@acme.io) was activated." in page.locator(
        '[data-testid="notice-info"]').inner_text()
    assert _status(live_server, "erin@acme.io") == "active"


def test_sortable_headers(page: Any, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users?status=active")
    name = page.locator('[data-testid="col-name"]')
    assert name.get_attribute("aria-sort") is None
    # The default order is the most recent activity first: the header says so.
    assert page.locator('[data-testid="col-activity"]').get_attribute("aria-sort") == "descending"
    name.get_by_role("link").click()
    page.wait_for_url("**sort=name_asc**")
    assert "status=active" in page.url  # the filter is kept
    assert name.get_attribute("aria-sort") == "ascending"
    rows = page.locator('[data-testid="users-table"] tbody tr')
    ascending = [rows.nth(i).get_attribute("data-testid") for i in range(rows.count())]
    name.get_by_role("link").click()
    page.wait_for_url("**sort=name_desc**")
    assert name.get_attribute("aria-sort") == "descending"
    descending = [rows.nth(i).get_attribute("data-testid") for i in range(rows.count())]
    assert descending == ascending[::-1] and len(ascending) == 6
    page.locator('[data-testid="col-type"]').get_by_role("link").click()
    page.wait_for_url("**sort=type_asc**")
    types = page.locator('[data-testid="type-badge"]').all_inner_texts()
    order = ["Admin", "Member", "Viewer", "Guest"]
    cleaned = [t.replace("▾", "").strip() for t in types]
    assert cleaned == sorted(cleaned, key=order.index)
    screenshot(page, "users-sorted.png")


def test_type_badge_opens_the_type_menu(page: Any, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users?q=bob")
    row = _row(page, "bob@acme.io")
    row.locator('[data-testid="type-badge"]').click()
    screenshot(page, "users-type-menu.png")
    row.locator('[data-testid="set-type-Viewer"]').click()
    page.wait_for_url("**/admin/users?q=bob")
    assert "Bob Stone (bob@acme.io) is now Viewer." in _row(page, "bob@acme.io").inner_text()


def test_bulk_bar_shows_once_something_is_selected(page: Any, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users")
    bar = page.locator('[data-testid="bulk-panel"]')
    assert not bar.is_visible()
    box = _row(page, "bob@acme.io").locator("input.row-check")
    box.check()
    assert bar.is_visible()
    assert "1 selected" in page.locator('[data-testid="bulk-count"]').inner_text()
    box.uncheck()
    assert not bar.is_visible()
    # "Select all" is the first users of the filter (all pages), which the server resolves.
    page.check("#select-all")
    assert bar.is_visible()
    assert page.locator('[data-testid="bulk-scope"]').is_checked()
    page.select_option('[data-testid="bulk-status"]', "inactive")
    page.click('[data-testid="bulk-apply"]')
    assert "The first 6 users" in page.locator('[data-testid="bulk-picked"]').inner_text()


def test_without_javascript_the_bulk_bar_stays(chromium: Any, live_server: LiveServer) -> None:
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1360,
                                                                         "height": 900})
    try:
        page = context.new_page()
        page.goto(live_server.url + "/admin/login")
        page.fill("input[name=email]", live_server.seeded.admin_email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(live_server.url + "/admin/users")
        assert page.locator('[data-testid="bulk-panel"]').is_visible()
        assert page.locator('[data-testid="bulk-scope"]').is_visible()
        # The activation confirmation is a plain link and form.
        _row(page, "erin@acme.io").locator('[data-testid="menu"]').click()
        _row(page, "erin@acme.io").get_by_role("link", name="Activate…").click()
        page.click('[data-testid="activate-submit"]')
        assert "Erin Idle (erin@acme.io) was activated." in page.content()
    finally:
        context.close()


# --- phones ------------------------------------------------------------------------------------

def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"{page.url}: {width} px wide in a {inner} px window"


@pytest.mark.parametrize("path", ["/admin/users", "/admin/audit", "/admin/api-users",
                                  "/admin/", "/admin/groups", "/admin/resources"])
def test_no_horizontal_overflow_at_390_px(phone: Any, live_server: LiveServer, path: str) -> None:
    browser_sign_in(phone, live_server)
    if path == "/admin/audit":
        # Some entries with long JSON changes first.
        phone.goto(live_server.url + "/admin/users?q=bob")
        _row(phone, "bob@acme.io").locator('[data-testid="type-badge"]').click()
        _row(phone, "bob@acme.io").locator('[data-testid="set-type-Viewer"]').click()
        phone.wait_for_url("**/admin/users?q=bob")
    phone.goto(live_server.url + path)
    _no_sideways_scroll(phone)
    if path in ("/admin/users", "/admin/audit", "/admin/api-users"):
        screenshot(phone, f"phone-{path.removeprefix('/admin/')}.png")


def test_row_menu_works_on_a_phone(phone: Any, live_server: LiveServer) -> None:
    browser_sign_in(phone, live_server)
    phone.goto(live_server.url + "/admin/users")
    row = _row(phone, "bob@acme.io")
    row.locator('[data-testid="menu"]').click()
    _no_sideways_scroll(phone)
    link = row.get_by_role("link", name="Deactivate…")
    # Clickable: visible, inside the window, and the top element at its centre.
    box = link.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    on_top = phone.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).textContent.trim()",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert on_top == "Deactivate…"
    screenshot(phone, "phone-users-row-menu.png")
    link.click()
    phone.locator('[data-testid="deactivation-effects"]').wait_for()
    phone.click('[data-testid="deactivate-submit"]')
    phone.wait_for_url("**/admin/users")
    assert _status(live_server, "bob@acme.io") == "inactive"


# --- accessibility -----------------------------------------------------------------------------

def _axe_script() -> str:
    from pathlib import Path

    axe = pytest.importorskip("axe_playwright_python")
    return (Path(axe.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def _serious_violations(page: Any, script: str) -> list[str]:
    # Evaluated through the DevTools protocol: the pages' CSP (script-src 'self') does not
    # apply, and nothing is fetched.
    page.evaluate(script)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    found = []
    for v in result["violations"]:
        if v.get("impact") in ("serious", "critical"):
            targets = [" ".join(map(str, n["target"])) for n in v["nodes"]][:5]
            found.append(f"{v['id']} ({v['impact']}): {v['help']} — {targets}")
    return found


def _pages_of(live: LiveServer) -> list[str]:
    """A URL of every admin page, with the records they need."""
    seeded = live.seeded
    with make_session_factory(live.app.extensions["scim_engine"])() as session:
        account = session.get(Account, seeded.account_id)
        assert account is not None
        bob = session.get(User, seeded.users["bob@acme.io"])
        group = Group(account_id=account.id, display_name="Engineering",
                      display_name_key="engineering")
        session.add(group)
        session.flush()
        session.add(GroupMember(group_id=group.id, member_id=bob.id, account_id=account.id))
        make_resource(session, account, "automation", bob)
        credential = session.scalar(select(Credential.id).where(
            Credential.account_id == account.id))
        session.commit()
        group_id = group.id
    users = seeded.users
    return [
        "/admin/", "/admin/users", "/admin/users?status=inactive&sort=name_asc",
        "/admin/users/invite", f"/admin/users/{users['bob@acme.io']}/deactivate",
        f"/admin/users/{users['erin@acme.io']}/activate",
        f"/admin/users/{users['erin@acme.io']}/delete",
        f"/admin/users/{users['alice@acme.io']}/email",
        f"/admin/users/{users['alice@acme.io']}/profile",
        "/admin/groups", f"/admin/groups/{group_id}",
        f"/admin/groups/{group_id}/members/{users['bob@acme.io']}/remove",
        "/admin/api-users", f"/admin/api-users/tokens/{credential}/revoke?kind=scim",
        "/admin/resources", "/admin/audit", "/admin/settings", "/admin/preferences",
    ]


def test_axe_finds_no_serious_violation_on_any_admin_page(page: Any,
                                                          live_server: LiveServer) -> None:
    script = _axe_script()
    problems = {}
    # The pages of people who are not signed in: sign-in, and the links sent by email (an
    # unknown link's page, 404, is what a mistyped or used link shows).
    for path, status in (("/admin/login", 200), ("/admin/invitation/not-a-real-token", 404),
                         ("/admin/email-confirmation/not-a-real-token", 404)):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == status, path
        problems[path] = _serious_violations(page, script)
    browser_sign_in(page, live_server)
    for path in _pages_of(live_server):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, path
        problems[path] = _serious_violations(page, script)
    # The bulk review (a POST) and the row menu opened.
    page.goto(live_server.url + "/admin/users")
    page.check("#select-all")
    page.select_option('[data-testid="bulk-type"]', "Viewer")
    page.click('[data-testid="bulk-apply"]')
    page.locator('[data-testid="bulk-result"]').wait_for()
    problems["bulk review"] = _serious_violations(page, script)
    page.goto(live_server.url + "/admin/users")
    _row(page, "bob@acme.io").locator('[data-testid="menu"]').click()
    problems["row menu"] = _serious_violations(page, script)
    found = {where: v for where, v in problems.items() if v}
    assert not found, found


def test_axe_in_french_and_on_a_phone(phone: Any, live_server: LiveServer) -> None:
    script = _axe_script()
    browser_sign_in(phone, live_server)
    phone.context.add_cookies([{"name": "admin_lang", "value": "fr",
                                "url": live_server.url + "/admin/"}])
    problems = {}
    for path in ("/admin/", "/admin/users", "/admin/audit", "/admin/api-users"):
        phone.goto(live_server.url + path)
        assert phone.locator("html").get_attribute("lang") == "fr"
        problems[path] = _serious_violations(phone, script)
    found = {where: v for where, v in problems.items() if v}
    assert not found, found



def test_the_axe_check_catches_the_old_badge_contrast(page: Any,
                                                      live_server: LiveServer) -> None:
    # The "active" badge's colours before issue 14 (3.88:1): the check must see them, or a
    # clean result above would prove nothing.
    script = _axe_script()
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users?status=active")
    assert _serious_violations(page, script) == []
    page.evaluate("""() => document.querySelectorAll('.badge-status-active').forEach(b => {
        b.style.color = '#0f8a5f'; b.style.background = '#e3f6ee'; })""")
    found = _serious_violations(page, script)
    assert any(v.startswith("color-contrast (serious)") for v in found), found


def test_skip_link_and_visible_focus(page: Any, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users")
    skip = page.locator(".skip-link")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0  # shown once focused (hidden above otherwise)
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # The next Tab lands in the page's content, with a ring drawn around it.
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => { const e = document.activeElement;
        const s = getComputedStyle(e);
        return [!!e.closest('main'), s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
    assert focused[0] and focused[1] != "none" and focused[2] >= 2, focused
