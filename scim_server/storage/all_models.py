"""Imports every model module so that ``metadata`` knows every table (for Alembic and tests)."""

from scim_server.domain import tables  # noqa: F401  (resources, audit log, outbox, ...)
from scim_server.hub import tables as hub_tables  # noqa: F401  (duty schedules, permissions)
from scim_server.storage import models  # noqa: F401
from scim_server.storage.models import Base

metadata = Base.metadata
