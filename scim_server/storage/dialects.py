"""What differs between the two engines: JSON access, upserts and JSON aggregation.

Everything engine-specific that a statement needs is asked of the dialect object here, so the
rest of the storage builds one statement for both engines.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from scim2_models import InvalidFilterException
from sqlalchemy.sql.elements import ColumnElement

Predicate = ColumnElement[bool]

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_:.$\-]+$")


def _check_path(path: tuple[str | int, ...]) -> None:
    # Path parts are inlined in SQL: only model field names and schema URNs may get there.
    for part in path:
        if not isinstance(part, int) and not _SAFE_KEY.match(part):
            raise InvalidFilterException(detail=f"cannot address {part!r} in SQL")


class JsonDialect:
    """How one database reads the JSON documents."""

    name = ""

    def scalar(
        self, src: ColumnElement[Any], path: tuple[str | int, ...], kind: str
    ) -> ColumnElement[Any]:
        raise NotImplementedError

    def present(self, src: ColumnElement[Any], path: tuple[str | int, ...]) -> Predicate:
        raise NotImplementedError

    def elements(
        self, src: ColumnElement[Any], path: tuple[str | int, ...]
    ) -> tuple[sa.FromClause, ColumnElement[Any]]:
        raise NotImplementedError

    def ordered(self, expr: ColumnElement[Any], kind: str) -> ColumnElement[Any]:
        """The expression as it orders: strings in code-point order, as Python compares them."""
        return expr

    def insert(self, table: Any) -> Any:
        """An INSERT that can take ``on_conflict_do_nothing`` (both engines have it)."""
        raise NotImplementedError

    def pairs(self, first: ColumnElement[Any], second: ColumnElement[Any]) -> ColumnElement[Any]:
        """The aggregate of ``[first, second]`` over a subquery's rows, as a JSON array (in no
        particular order: SQLite before 3.44 cannot order an aggregate); ``[]`` for no row."""
        raise NotImplementedError


class SqliteJson(JsonDialect):
    """SQLite: json_extract / json_each; TEXT compares with BINARY, i.e. in code-point order."""

    name = "sqlite"

    @staticmethod
    def _jpath(path: tuple[str | int, ...]) -> str:
        _check_path(path)
        return "$" + "".join(f"[{p}]" if isinstance(p, int) else f'."{p}"' for p in path)

    def scalar(
        self, src: ColumnElement[Any], path: tuple[str | int, ...], kind: str
    ) -> ColumnElement[Any]:
        if not path:
            # An entry of json_each: its value column is already the SQL scalar.
            return src
        type_: Any = {"num": sa.Float(), "bool": sa.Boolean()}.get(kind, sa.String())
        return sa.func.json_extract(src, self._jpath(path), type_=type_)

    def present(self, src: ColumnElement[Any], path: tuple[str | int, ...]) -> Predicate:
        return sa.func.json_type(src, self._jpath(path)).is_not(None)

    def insert(self, table: Any) -> Any:
        from sqlalchemy.dialects.sqlite import insert

        return insert(table)

    def pairs(self, first: ColumnElement[Any], second: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.type_coerce(
            sa.func.json_group_array(sa.func.json_array(first, second)), sa.JSON()
        )

    def elements(
        self, src: ColumnElement[Any], path: tuple[str | int, ...]
    ) -> tuple[sa.FromClause, ColumnElement[Any]]:
        each = sa.func.json_each(src, self._jpath(path)).table_valued("value").alias()
        return each, each.c.value


class PostgresJson(JsonDialect):
    """PostgreSQL: jsonb #> / #>> / jsonb_array_elements; text ordered under COLLATE "C"."""

    name = "postgresql"

    @staticmethod
    def _path(path: tuple[str | int, ...]) -> ColumnElement[Any]:
        _check_path(path)
        inner = ",".join(f'"{p}"' for p in path)
        return sa.literal_column(f"'{{{inner}}}'::text[]")

    def scalar(
        self, src: ColumnElement[Any], path: tuple[str | int, ...], kind: str
    ) -> ColumnElement[Any]:
        if kind == "num":
            return sa.cast(src.op("#>")(self._path(path)), sa.Numeric())
        if kind == "bool":
            return sa.cast(src.op("#>")(self._path(path)), sa.Boolean())
        return src.op("#>>", return_type=sa.Text())(self._path(path))

    def present(self, src: ColumnElement[Any], path: tuple[str | int, ...]) -> Predicate:
        return src.op("#>")(self._path(path)).is_not(None)

    def elements(
        self, src: ColumnElement[Any], path: tuple[str | int, ...]
    ) -> tuple[sa.FromClause, ColumnElement[Any]]:
        from sqlalchemy.dialects.postgresql import JSONB

        each = (
            sa.func.jsonb_array_elements(src.op("#>")(self._path(path)))
            .table_valued(sa.column("value", JSONB()))
            .alias()
        )
        return each, each.c.value

    def ordered(self, expr: ColumnElement[Any], kind: str) -> ColumnElement[Any]:
        if kind in ("str", "bytes", "dt"):
            return expr.collate("C")
        return expr

    def insert(self, table: Any) -> Any:
        from sqlalchemy.dialects.postgresql import insert

        return insert(table)

    def pairs(self, first: ColumnElement[Any], second: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.type_coerce(
            sa.func.coalesce(
                sa.func.json_agg(sa.func.json_build_array(first, second)),
                sa.literal_column("'[]'::json"),
            ),
            sa.JSON(),
        )


_DIALECTS: dict[str, JsonDialect] = {"postgresql": PostgresJson(), "sqlite": SqliteJson()}


def json_dialect(name: str) -> JsonDialect:
    dialect = _DIALECTS.get(name)
    if dialect is None:
        raise NotImplementedError(f"no SQL storage for the {name!r} dialect")
    return dialect


