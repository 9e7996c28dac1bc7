"""Imports every model module so that ``metadata`` knows every table (for Alembic and tests)."""

from scim_server.storage import (
    domain_tables,  # noqa: F401  (resources, audit log, outbox, ...)
    hub_tables,  # noqa: F401  (duty schedules, permissions)
    models,  # noqa: F401
    request_log,  # noqa: F401  (the SCIM request log)
)
from scim_server.storage.models import Base

metadata = Base.metadata
