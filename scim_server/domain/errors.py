"""Protocol-neutral domain errors, each with a stable rule id and a human sentence.

Every door (SCIM, admin API, admin UI) turns a :class:`RuleViolation` into its own error
format; the rule id and the sentence stay the same.

The domain speaks no language of its own: a sentence is a literal English template with
``%(name)s`` parameters, kept apart from its values, so that a door that shows another language
(the admin UI's French) can look the template up in its catalogue and fill it with the same
values. SCIM and the admin API show the English sentence, ``message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any


class Severity(Enum):
    """Which HTTP family a refusal belongs to; each door maps it to its own status."""

    INVALID = 400  # the request itself is wrong (unknown type, bad value)
    FORBIDDEN = 403  # allowed in general, refused by an account rule
    CONFLICT = 409  # clashes with the current state (seats, uniqueness)


class DomainError(Exception):
    """Base class of the errors the domain layer raises."""

    def __init__(self, message: str, params: Mapping[str, Any] | None = None) -> None:
        self.template = message
        self.params: dict[str, Any] = dict(params or {})
        self.message = message % self.params if self.params else message
        super().__init__(self.message)


class RuleViolation(DomainError):
    """An account rule refused a change: ``rule`` is the stable id, e.g. ``admin.last``."""

    def __init__(self, rule: str, message: str, severity: Severity = Severity.FORBIDDEN, *,
                 params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, params)
        self.rule = rule
        self.severity = severity

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


class NotFound(DomainError):
    """The thing does not exist in the caller's account (or at all: the two are not told apart)."""


class InvalidInput(DomainError):
    """A value is malformed; ``field`` names it when known."""

    def __init__(self, message: str, field: str | None = None, *,
                 params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, params)
        self.field = field
