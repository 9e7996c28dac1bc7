"""Imports every model module so that ``metadata`` knows every table (for Alembic and tests)."""

from scim_server.storage import models  # noqa: F401
from scim_server.storage.models import Base

# Domain modules add their tables here, e.g. ``from scim_server.domain import tables``.

metadata = Base.metadata
