"""Help topics shipped with the app: one page per topic, in English and in French, served by
the admin UI (the hub's "Help topics" link here), so that help matches this server's own
screens and URLs rather than a generic page elsewhere."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g, render_template

from admin_ui import blueprint

# slug → title (an English message id, translated in i18n.FR)
TOPICS = {
    "identity-provider": "Connecting your identity provider (SCIM): Okta and Entra ID",
    "user-types-and-seats": "User types and seats",
    "deactivating-and-deleting": "Deactivating and deleting users",
    "api-credentials": "API tokens and OAuth clients",
}


@blueprint.get("/help")
def help_index() -> Any:
    return render_template("admin/help_index.html", topics=TOPICS)


@blueprint.get("/help/<topic>")
def help_topic(topic: str) -> Any:
    if topic not in TOPICS:
        abort(404)
    lang = "fr" if g.get("lang") == "fr" else "en"
    base = current_app.config["SCIM_SETTINGS"].base_url.rstrip("/")
    return render_template("admin/help_topic.html", topic=topic, title=TOPICS[topic],
                           body=f"admin/help/{topic}.{lang}.html", topics=TOPICS,
                           scim_base_url=base + "/scim/v2", api_base_url=base + "/api/v1")
