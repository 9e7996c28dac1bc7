"""Imports every module that adds routes to the admin UI's blueprint."""

from admin_ui import audit, auth, duty, groups, help, pages, settings, users, webhooks  # noqa: F401
