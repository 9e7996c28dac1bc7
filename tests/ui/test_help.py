"""The hub's help topics (issue 14) lead to pages shipped with the app, in English and in
French, that name this server's own SCIM and API addresses."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from admin_ui.help import TOPICS


def test_the_hub_links_every_topic_to_a_page_of_the_app(admin_client: FlaskClient):
    hub = admin_client.get("/admin/").get_data(as_text=True)
    panel = hub.split('data-testid="help-panel"')[1].split("</aside>")[0]
    links = re.findall(r'href="([^"]+)"', panel)
    assert sorted(links) == sorted(f"/admin/help/{slug}" for slug in TOPICS)
    for link in links:
        page = admin_client.get(link)
        assert page.status_code == 200, link
        assert 'data-testid="help-article"' in page.get_data(as_text=True)


def test_the_identity_provider_page_gives_the_steps_and_addresses(admin_client: FlaskClient):
    page = admin_client.get("/admin/help/identity-provider").get_data(as_text=True)
    assert "Okta, step by step" in page and "Microsoft Entra ID, step by step" in page
    base = re.search(r'data-testid="scim-base-url">([^<]+)<', page).group(1)
    assert base.endswith("/scim/v2")
    for step in ("Enable SCIM provisioning", "Push Groups", "Tenant URL", "Secret Token"):
        assert step in page


def test_every_topic_in_french(admin_client: FlaskClient):
    admin_client.set_cookie("admin_lang", "fr")
    expected = {
        "identity-provider": "Okta, pas à pas",
        "user-types-and-seats": "Places payantes",
        "deactivating-and-deleting": "La suppression est définitive.",
        "api-credentials": "Client OAuth",
    }
    for slug, text in expected.items():
        page = admin_client.get(f"/admin/help/{slug}").get_data(as_text=True)
        assert text in page, slug
        assert "step by step" not in page
    index = admin_client.get("/admin/help").get_data(as_text=True)
    assert "Connecter votre fournisseur d’identité (SCIM)\u202f: Okta et Entra ID" in index


def test_an_unknown_topic_is_not_found(admin_client: FlaskClient):
    assert admin_client.get("/admin/help/nothing").status_code == 404
    assert admin_client.get("/admin/help/..%2Fbase").status_code == 404
