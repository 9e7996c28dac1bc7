"""Imports every module that adds routes to the admin UI's blueprint."""

from admin_ui import auth, duty, groups, help, pages, settings, users  # noqa: F401
