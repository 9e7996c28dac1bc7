"""What the admin API's schemas share, here so that both its own (:mod:`scim_server.api.schemas`)
and the hub's (:mod:`scim_server.hub.schemas`) can build on it without one importing the other."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields


class Strict(Schema):
    """A request schema: an unknown field is refused rather than silently dropped."""

    class Meta:
        unknown = RAISE


class PageOut(Schema):
    """One page of a list: each page schema adds the list itself under its own name."""

    total = fields.Integer()
    offset = fields.Integer()
    limit = fields.Integer()
