"""The UI's French: every domain refusal has its French sentence (found by reading the source,
so that a new rule without one fails here), the rule id follows the sentence, French typography,
plural forms, numbers and dates in the language's format."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from admin_ui import i18n
from scim_server.domain.errors import InvalidInput, NotFound, RuleViolation
from tests.ui.conftest import Seeded, csrf_of

ROOT = Path(__file__).resolve().parents[2]
# The packages whose refusals reach the admin UI; the message is argument 1 of RuleViolation
# (after the rule id) and argument 0 of the others.
REFUSING_PACKAGES = ("scim_server/domain", "scim_server/hub")
MESSAGE_ARG = {"RuleViolation": 1, "InvalidInput": 0, "NotFound": 0}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sr]")
NNBSP = "\u202f"


def _refusals() -> list[tuple[str, int, str | None, ast.expr]]:
    """(file, line, rule id, message expression) of every refusal the domain and hub build."""
    found = []
    for package in REFUSING_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in MESSAGE_ARG):
                    continue
                args = list(node.args) + [k.value for k in node.keywords if k.arg == "message"]
                message = args[MESSAGE_ARG[node.func.id]]
                rule = None
                if node.func.id == "RuleViolation":
                    assert isinstance(node.args[0], ast.Constant), f"{path}:{node.lineno}"
                    rule = node.args[0].value
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.lineno, rule,
                              message))
    return found


def test_the_source_scan_sees_the_refusals() -> None:
    rules = {rule for _, _, rule, _ in _refusals() if rule}
    # A scan that finds nothing would pass the next test vacuously.
    assert {"admin.holds_scim_tokens", "admin.last", "seats.exceeded", "bulk.self",
            "guest.same_domain", "group.name_taken", "token.requires_admin"} <= rules
    assert len(_refusals()) > 60


def test_every_domain_refusal_has_a_french_sentence_with_the_same_parameters() -> None:
    missing, not_literal, mismatched = [], [], []
    for where, _, rule, message in _refusals():
        if not (isinstance(message, ast.Constant) and isinstance(message.value, str)):
            # An f-string cannot be looked up: the values go in ``params``.
            not_literal.append(where)
            continue
        template = message.value
        french = i18n.DOMAIN_FR.get(template)
        if french is None:
            missing.append(f"{where} ({rule}): {template!r}")
        elif set(PLACEHOLDER.findall(french)) != set(PLACEHOLDER.findall(template)):
            mismatched.append(f"{where}: {template!r} → {french!r}")
    assert not not_literal, "refusal messages must be literal templates: " + ", ".join(not_literal)
    assert not missing, "no French for:\n" + "\n".join(missing)
    assert not mismatched, "parameters differ:\n" + "\n".join(mismatched)


def test_the_french_refusals_are_all_still_raised() -> None:
    raised = {m.value for _, _, _, m in _refusals() if isinstance(m, ast.Constant)}
    assert set(i18n.DOMAIN_FR) - raised == set()


def test_the_domain_sentence_is_unchanged_for_scim_and_the_api() -> None:
    exc = RuleViolation("user_type.invalid", "user type %(type)r is not valid; use one of %(types)s",
                        params={"type": "Boss", "types": "Admin, Member"})
    assert exc.message == "user type 'Boss' is not valid; use one of Admin, Member"
    assert str(exc) == "user_type.invalid: " + exc.message
    assert NotFound("no user %(id)s", {"id": "x"}).message == "no user x"
    # A message without parameters is shown as written, even with a % in it.
    assert InvalidInput("100% wrong").message == "100% wrong"


@pytest.fixture
def fr(ui_app: Flask):
    with ui_app.test_request_context("/admin/users", headers={"Accept-Language": "fr"}):
        from flask import g
        g.lang = "fr"
        yield


@pytest.fixture
def en(ui_app: Flask):
    with ui_app.test_request_context("/admin/users"):
        from flask import g
        g.lang = "en"
        yield


def test_refusal_parameters_that_are_ui_words_are_translated(fr: None) -> None:
    exc = RuleViolation("ownership.requires_active",
                        "the %(role)s must be an active user; this one is %(status)s",
                        params={"role": "new owner", "status": "inactive"})
    assert i18n.domain_text(exc.template, exc.params) == (
        f"Le nouveau propriétaire doit être un utilisateur actif{NNBSP}; celui-ci est inactif.")
    # A name is a value, not a word of the UI: "Users" stays "Users".
    taken = RuleViolation("group.name_taken", "a group named %(name)s already exists",
                          params={"name": "Users"})
    assert i18n.domain_text(taken.template, taken.params) == "Un groupe nommé Users existe déjà."


def test_english_refusals_keep_the_domain_sentence(en: None) -> None:
    exc = RuleViolation("account.name_taken", "an account named %(name)r already exists",
                        params={"name": "acme"})
    assert i18n.domain_text(exc.template, exc.params) == exc.message


def _sign_in_fr(client: FlaskClient, email: str) -> None:
    from tests.ui.conftest import PASSWORD

    client.set_cookie("admin_lang", "fr")
    client.post("/admin/login", data={"email": email, "password": PASSWORD,
                                      "csrf_token": csrf_of(client)})


def test_a_refusal_shows_in_french_with_its_rule_after_it(ui_app: Flask, seeded: Seeded) -> None:
    client = ui_app.test_client()
    _sign_in_fr(client, seeded.admin_email)
    token = csrf_of(client, "/admin/users")
    client.post(f"/admin/users/{seeded.admin_id}/deactivate", data={"csrf_token": token})
    body = client.get("/admin/users").get_data(as_text=True)
    row = body[body.index(f'data-user-id="{seeded.admin_id}"'):]
    row = row[: row.index("</tr>")]
    sentence = (f"Cet Admin détient un jeton SCIM non révoqué{NNBSP}; révoquez-le ou "
                "réattribuez-le d’abord.")
    assert sentence in row
    assert f"(règle{NNBSP}: admin.holds_scim_tokens)" in row
    assert row.index(sentence) < row.index("admin.holds_scim_tokens")
    assert "revoke or reassign" not in row


def test_bulk_reasons_are_in_french(ui_app: Flask, seeded: Seeded) -> None:
    client = ui_app.test_client()
    _sign_in_fr(client, seeded.admin_email)
    token = csrf_of(client, "/admin/users")
    alice, carol = seeded.users["alice@acme.io"], seeded.users["carol@acme.io"]
    review = client.post("/admin/users/bulk", data={"csrf_token": token, "user_id": [alice, carol],
                                                    "user_type": "Member"})
    text = review.get_data(as_text=True)
    assert ("Une modification groupée ne peut pas faire d’un Lecteur un Membre payant" in text)
    assert f"(règle{NNBSP}: bulk.nonpaying_to_paying)" in text
    assert "1 sera modifié" in text and "1 sera ignoré" in text


def test_the_api_and_scim_keep_english_for_a_french_client(ui_app: Flask,
                                                          seeded: Seeded) -> None:
    from scim_server.storage.models import Account, User
    from tests.domain.factories import make_token

    with ui_app.extensions["scim_sessions"]() as session:
        account = session.get(Account, seeded.account_id)
        admin = session.get(User, seeded.admin_id)
        api_token = make_token(session, account, admin)
        session.commit()
    client = ui_app.test_client()
    client.set_cookie("admin_lang", "fr")
    refused = client.post(f"/api/v1/users/{seeded.admin_id}/deactivate",
                          headers={"Authorization": f"Bearer {api_token}",
                                   "Accept-Language": "fr"})
    body = refused.get_json()
    assert refused.status_code == 409 and body["rule"] == "admin.holds_scim_tokens"
    assert "revoke or reassign it first" in str(body)
