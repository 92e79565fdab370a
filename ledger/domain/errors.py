"""Errors the domain raises when a command would break a rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime


def _iso(value: datetime) -> str:
    return value.isoformat()


class DomainError(Exception):
    """A command was rejected by a business rule; nothing was recorded.

    The message is given in parts, text and times (``RuleViolation("occurred_at ", when,
    " is in the future")``): the domain knows no zone, so :meth:`render` lets the edge show
    each time in the user's zone (``str()`` gives them in ISO 8601 as stored, in UTC)."""

    def __init__(self, *parts: str | datetime) -> None:
        self.parts = parts
        super().__init__(self.render(_iso))

    def render(self, show_time: Callable[[datetime], str]) -> str:
        return "".join(show_time(p) if isinstance(p, datetime) else str(p) for p in self.parts)


class RuleViolation(DomainError):
    """The command is not allowed in the aggregate's current state."""


class Unchanged(RuleViolation):
    """The command would record nothing new (loading the same file again): not a failure,
    so loads can be re-run safely."""
