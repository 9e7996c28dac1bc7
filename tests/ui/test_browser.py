"""The admin UI in real headless Chromium (Playwright), against a live server on 127.0.0.1.

Each test saves a screenshot into docs/screenshots/ (shown in README.md) and checks it was
written. Without Chromium these tests skip with "Chromium not found: apt-get install chromium".
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from scim_server.db import make_session_factory
from scim_server.storage.domain_tables import EmailChange
from scim_server.storage.models import User
from tests.ui.conftest import LiveServer, browser_sign_in, screenshot

pytestmark = pytest.mark.browser


def _user(live: LiveServer, email: str) -> User:
    with make_session_factory(live.app.extensions["scim_engine"])() as session:
        user = session.scalar(select(User).where(User.account_id == live.seeded.account_id,
                                                 User.user_name_key == email))
        assert user is not None
        session.expunge(user)
        return user


def _row(page, email: str):
    return page.locator(f'[data-testid="row-{email}"]')


def test_sign_in_and_hub_cards(page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/admin/login")
    screenshot(page, "sign-in.png")
    browser_sign_in(page, live_server)
    operators = page.locator('[data-testid="card-operators"]')
    # Seven users in Acme: its admin and the six seeded ones.
    assert operators.locator(".figure").inner_text().startswith("7")
    for button in ("View all operators", "Add operator"):
        assert operators.get_by_role("link", name=button).is_visible()
    groups = page.locator('[data-testid="card-groups"]')
    for button in ("View all groups", "Add group"):
        assert groups.get_by_role("link", name=button).is_visible()
    api = page.locator('[data-testid="card-api-users"]')
    assert api.get_by_role("link", name="View all API users").is_visible()
    assert page.locator('[data-testid="help-panel"]').is_visible()
    screenshot(page, "hub.png")
    operators.get_by_role("link", name="View all operators").click()
    page.wait_for_url("**/admin/users")
    assert page.locator('[data-testid="users-table"]').is_visible()


def test_search_filter_and_local_dates(page, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users")
    page.fill('[data-testid="search"]', "alice")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**q=alice**")
    assert _row(page, "alice@acme.io").is_visible()
    assert _row(page, "bob@acme.io").count() == 0
    # 12:00 UTC on 15 January is 13:00 in Paris, the browser's zone.
    assert "2026-01-15 13:00" in _row(page, "alice@acme.io").inner_text()

    page.fill('[data-testid="search"]', "")
    page.select_option('[data-testid="filter-type"]', "Member")
    page.select_option('[data-testid="filter-status"]', "active")
    page.select_option('[data-testid="sort"]', "activity_asc")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**type=Member**")
    rows = page.locator('[data-testid="users-table"] tbody tr')
    emails = [rows.nth(i).get_attribute("data-testid") for i in range(rows.count())]
    # Active Members, least recent activity first: bob (3 days before alice), then alice.
    assert emails == ["row-bob@acme.io", "row-alice@acme.io"]
    screenshot(page, "users-filtered.png")

    page.goto(live_server.url + "/admin/users?sort=activity_asc")
    carol = _row(page, "carol@acme.io").inner_text()
    assert "no activity since" in carol


def test_deactivate_then_delete_a_user(page, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users?q=bob")
    row = _row(page, "bob@acme.io")
    row.locator('[data-testid="menu"]').click()
    screenshot(page, "users-row-menu.png")
    row.get_by_role("link", name="Deactivate…").click()
    # The confirmation says what stops; nothing changed before it is confirmed.
    page.locator('[data-testid="deactivation-effects"]').wait_for()
    assert _user(live_server, "bob@acme.io").status == "active"
    page.click('[data-testid="deactivate-submit"]')
    page.wait_for_url("**/admin/users?q=bob")
    row = _row(page, "bob@acme.io")
    assert "Bob Stone (bob@acme.io) was deactivated." in row.inner_text()
    assert _user(live_server, "bob@acme.io").status == "inactive"

    row.locator('[data-testid="menu"]').click()
    row.get_by_role("link", name="Delete…").click()
    page.fill('[data-testid="shown-as"]', "Former colleague")
    page.check('[data-testid="confirm-delete"]')
    screenshot(page, "delete-user.png")
    page.click('[data-testid="delete-submit"]')
    page.wait_for_url("**/admin/users?q=bob")
    assert "Bob Stone (bob@acme.io) was deleted." in page.locator(
        '[data-testid="notice-info"]').inner_text()
    assert _row(page, "bob@acme.io").count() == 0


def test_refusal_shows_the_rule_next_to_the_row(page, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users?q=admin%40acme.io")
    row = _row(page, live_server.seeded.admin_email)
    row.locator('[data-testid="menu"]').click()
    row.get_by_role("link", name="Deactivate…").click()
    page.click('[data-testid="deactivate-submit"]')
    page.wait_for_load_state()
    notice = _row(page, live_server.seeded.admin_email).locator('[data-testid="notice-error"]')
    assert "admin.holds_scim_tokens" in notice.inner_text()
    assert "revoke or reassign it first" in notice.inner_text()
    screenshot(page, "refusal.png")


def test_bulk_change_with_one_skipped_user(page, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users?q=acme.io&sort=name")
    for email in ("alice@acme.io", "carol@acme.io", "frank@acme.io"):
        _row(page, email).locator("input.row-check").check()
    assert "3 selected" in page.locator('[data-testid="bulk-count"]').inner_text()
    page.select_option('[data-testid="bulk-type"]', "Member")
    page.click('[data-testid="bulk-apply"]')
    carol = live_server.seeded.users["carol@acme.io"]
    # First the review: who will change, who will be skipped and why; nothing changed yet.
    page.locator('[data-testid="bulk-confirm"]').wait_for()
    assert "bulk.nonpaying_to_paying" in page.locator(f'[data-testid="skipped-{carol}"]').inner_text()
    assert page.locator("tr.applied").count() == 2
    assert _user(live_server, "frank@acme.io").user_type == "Admin"
    page.click('[data-testid="bulk-confirm"]')
    page.locator("text=Back to users").wait_for()
    skipped = page.locator(f'[data-testid="skipped-{carol}"]')
    assert "bulk.nonpaying_to_paying" in skipped.inner_text()
    assert page.locator("tr.skipped").count() == 1
    assert page.locator("tr.applied").count() == 2
    screenshot(page, "bulk-result.png")
    assert _user(live_server, "frank@acme.io").user_type == "Member"
    assert _user(live_server, "carol@acme.io").user_type == "Viewer"


def test_select_all_takes_at_most_the_first_200_shown(page, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users")
    page.check("#select-all")
    boxes = page.locator("input.row-check")
    # Every user but the signed-in admin (who cannot be in a bulk change) is selectable.
    assert boxes.count() == 6
    assert "6 selected" in page.locator('[data-testid="bulk-count"]').inner_text()


def test_start_an_email_change(page, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users?q=alice")
    row = _row(page, "alice@acme.io")
    row.locator('[data-testid="menu"]').click()
    row.get_by_role("link", name="Change email…").click()
    page.fill('[data-testid="new-email"]', "alice.martin@acme.io")
    screenshot(page, "email-change.png")
    page.click('[data-testid="email-submit"]')
    page.wait_for_url("**/admin/users?q=alice")
    # No SMTP in the tests: the page says the link was not mailed.
    assert "No confirmation link for Alice Martin (alice@acme.io) was mailed to " \
        "alice.martin@acme.io" in _row(
        page, "alice@acme.io").inner_text()
    assert _user(live_server, "alice@acme.io").email == "alice@acme.io"
    with make_session_factory(live_server.app.extensions["scim_engine"])() as session:
        change = session.scalar(select(EmailChange).where(
            EmailChange.user_id == live_server.seeded.users["alice@acme.io"]))
    assert change is not None and change.new_email == "alice.martin@acme.io"


def test_switch_to_french(page, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users")
    page.select_option("#lang-select", "fr")
    page.wait_for_url("**/admin/users")
    page.get_by_role("heading", name="Utilisateurs").wait_for()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("link", name="Groupes").is_visible()
    assert "aucune activité depuis" in _row(page, "carol@acme.io").inner_text()
    screenshot(page, "users-fr.png")
    # The choice is remembered: the hub is in French too.
    page.goto(live_server.url + "/admin/")
    assert page.get_by_role("link", name="Voir tous les opérateurs").is_visible()
