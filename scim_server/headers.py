"""Response headers every door that serves account data sends (HTTP layer).

SCIM and admin API responses carry personal data and, once, new token secrets; the admin UI
shows the same. None may be kept by a browser or proxy cache, nor sniffed into another type.
"""

from __future__ import annotations

from flask import Response

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def mark_private(response: Response) -> Response:
    """Add the headers above, keeping any a view set itself."""
    for name, value in PRIVATE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
