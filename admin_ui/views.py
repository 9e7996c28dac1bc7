"""Imports every module that adds routes to the admin UI's blueprint."""

from admin_ui import (  # noqa: F401
    audit,
    auth,
    duty,
    groups,
    help,
    pages,
    provisioning,
    settings,
    users,
    webhooks,
)
