"""Imports every module that adds routes to the admin UI's blueprint."""

from admin_ui import auth, groups, pages, provisioning, settings, users  # noqa: F401
