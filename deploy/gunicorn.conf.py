"""gunicorn settings for images and hand-run gunicorn: the packaged defaults, unchanged.

The settings live in ``scim_server/gunicorn_conf.py`` so that ``scim-server serve`` finds them
in an installed wheel too; edit them there (or override them with SCIM_* variables).
"""

from scim_server.gunicorn_conf import *  # noqa: F403
