"""The reference anchor: scim2-server's own WSGI application over its in-memory storage.

Built the way ``scim2_server/testserver/cli.py`` builds it (default RFC 7643 schemas and
resource types, a static bearer token), so that gunicorn can serve it on the same loopback
client as ours. Cursor pagination is switched on because the in-memory storage supports it and
we want to compare cursor walks too. In-memory storage lives in one process: serve it with a
single worker (threads are fine: the application locks its storage).
"""

import os

from scim2_models import Pagination, ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

TOKEN = os.environ.get("BENCH_REFERENCE_TOKEN", "bench-reference-token")

config = load_default_service_provider_config()
config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
config.pagination = Pagination(
    cursor=True, index=True, default_pagination_method="index", default_page_size=100,
    max_page_size=1000, cursor_timeout=3600,
)
provider = ScimProvider.from_discovery(
    load_default_schemas().values(), load_default_resource_types().values(), config=config
)
app = BearerTokenApplication(
    InMemoryStorage(),
    provider,
    service=ScimService(provider, secret=os.environ.get("SCIM2_SERVER_SECRET", TOKEN * 2)),
    bearer_tokens=[TOKEN],
)
