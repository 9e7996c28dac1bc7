"""Imports every module that adds routes to the admin UI's blueprint."""

from admin_ui import audit, auth, groups, pages, settings, users, webhooks  # noqa: F401
