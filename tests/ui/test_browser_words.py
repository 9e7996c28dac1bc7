"""The French console in real headless Chromium: a rule's refusal in French with its rule id
after the sentence, and the audit log in words. Skips without Chromium."""

from __future__ import annotations

import pytest

from tests.ui.conftest import LiveServer, browser_sign_in, screenshot

pytestmark = pytest.mark.browser

NNBSP = "\u202f"


def test_a_refusal_in_french_then_the_audit_in_words(page, live_server: LiveServer) -> None:
    browser_sign_in(page, live_server)
    page.context.add_cookies([{"name": "admin_lang", "value": "fr", "url": live_server.url}])
    seeded = live_server.seeded
    page.goto(f"{live_server.url}/admin/users/{seeded.admin_id}/deactivate?next=/admin/users")
    page.click('[data-testid="deactivate-submit"]')
    page.wait_for_url("**/admin/users")
    row = page.locator(f'[data-user-id="{seeded.admin_id}"]').inner_text()
    assert "Cet Admin détient un jeton SCIM non révoqué" in row
    assert f"(règle{NNBSP}: admin.holds_scim_tokens)" in row
    assert "revoke or reassign" not in row
    screenshot(page, "refusal-fr.png")

    bob = seeded.users["bob@acme.io"]
    page.goto(f"{live_server.url}/admin/users/{bob}/deactivate?next=/admin/users")
    page.click('[data-testid="deactivate-submit"]')
    page.wait_for_url("**/admin/users")
    page.goto(f"{live_server.url}/admin/audit")
    page.select_option('[data-testid="filter-action"]', "user.deactivate")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**action=user.deactivate**")
    entries = page.locator('[data-testid="audit-entry"]')
    assert entries.count() == 1
    text = entries.first.inner_text()
    assert "Bob Stone (bob@acme.io)" in text and "Utilisateur désactivé" in text
    assert f"Statut{NNBSP}: actif → inactif" in text
