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


# --- typography, plurals, numbers, dates ---------------------------------------------------------

def test_french_strings_get_a_narrow_no_break_space_before_double_punctuation() -> None:
    assert i18n.french_typography("Refusé : oui ; non ? si !") == (
        f"Refusé{NNBSP}: oui{NNBSP}; non{NNBSP}? si{NNBSP}!")
    assert i18n.french_typography("« x »") == f"«{NNBSP}x{NNBSP}»"
    # A colon without a space before it (a time, a URL) is left alone.
    assert i18n.french_typography("09:05 https://x") == "09:05 https://x"
    bad = [(key, value) for key, value in i18n.CATALOGUES["fr"].items()
           if re.search(r"[ \u00a0][:;?!»]|«[ \u00a0]", value)]
    assert bad == []


def test_plural_forms(fr: None) -> None:
    assert i18n.ngettext("%(n)s inactive for over 30 days", 1) == "1 inactif depuis plus de 30 jours"
    assert i18n.ngettext("%(n)s inactive for over 30 days", 2) == "2 inactifs depuis plus de 30 jours"
    # French counts 0 as singular.
    assert i18n.ngettext("%(n)s member", 0) == "0 membre"
    assert i18n.ngettext("%(n)s user in this account", 20007) == (
        f"20{NNBSP}007 utilisateurs dans ce compte")


def test_english_plural_forms(en: None) -> None:
    assert i18n.ngettext("%(n)s member", 1) == "1 member"
    assert i18n.ngettext("%(n)s member", 0) == "0 members"
    assert i18n.ngettext("Apply to %(n)s user", 2) == "Apply to 2 users"


def test_every_plural_has_both_languages() -> None:
    assert set(i18n.PLURALS_FR) == set(i18n.PLURALS_EN)


def test_numbers(fr: None) -> None:
    assert i18n.format_number(20007) == f"20{NNBSP}007"
    assert i18n.format_number(1234567) == f"1{NNBSP}234{NNBSP}567"
    assert i18n.format_number(7) == "7"
    assert i18n.gettext("%(used)s of %(limit)s", used=1500, limit=20000) == (
        f"1{NNBSP}500 sur 20{NNBSP}000")


def test_numbers_in_english(en: None) -> None:
    assert i18n.format_number(20007) == "20,007"
    assert i18n.format_number(None) == ""


def test_dates_follow_the_language(ui_app: Flask) -> None:
    import datetime as dt

    from flask import g

    when = dt.datetime(2026, 12, 1, 9, 5, tzinfo=dt.UTC)
    with ui_app.test_request_context("/admin"):
        g.lang, g.zone = "fr", i18n.UTC
        assert i18n.format_datetime(when) == "1\u00a0déc.\u00a02026 à 09:05"
        assert i18n.format_date(when) == "1\u00a0déc.\u00a02026"
        g.zone = i18n.zone_named("Europe/Paris")
        assert i18n.format_datetime(when.replace(tzinfo=None)) == "1\u00a0déc.\u00a02026 à 10:05"
        g.lang, g.zone = "en", i18n.UTC
        assert i18n.format_datetime(when) == "2026-12-01 09:05"
        assert i18n.format_date(when) == "2026-12-01"


def test_the_french_hub_uses_plurals_numbers_and_dates(ui_app: Flask, seeded: Seeded) -> None:
    client = ui_app.test_client()
    _sign_in_fr(client, seeded.admin_email)
    body = client.get("/admin/").get_data(as_text=True)
    assert re.search(r"\d+ inactifs? depuis plus de 30 jours", body)
    assert "inactive for over" not in body
    # No group yet: French writes the singular for 0.
    assert re.search(r'data-testid="card-groups">\s*<h2>[^<]*</h2>\s*<p class="figure">0 <small>groupe</small>', body)
    assert re.search(r"Chiffres au \d+\u00a0\w+\.?\u00a0\d{4} à \d\d:\d\d\.", body)


def test_badges_and_rule_ids_do_not_wrap() -> None:
    css = (ROOT / "admin_ui" / "static" / "admin.css").read_text()
    assert re.search(r"\.badge \{ white-space: nowrap; \}", css)
