"""Immutable pydantic building blocks for events and aggregate state.

In the style of the eventsourcing library's ``examples/aggregate7``: events are frozen
pydantic models, aggregates are frozen models rebuilt by pure mutator functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from ledger.domain.values import Role


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_as_utc)]
"""A timezone-aware datetime, normalised to UTC so stored bytes never depend on a zone."""

Text = Annotated[str, Field(min_length=1, max_length=2000)]
"""Free text written by a person: never empty, bounded so a pasted file cannot bloat the log."""

ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class Immutable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class DomainEvent(Immutable):
    """A fact. ``timestamp`` is when the ledger recorded it; ``occurred_at`` is when it
    happened in the real world, as told by the actor (it may be earlier)."""

    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int = Field(ge=1)
    timestamp: UtcDatetime
    occurred_at: UtcDatetime
    actor: ShortText
    role: Role

    @property
    def recorded_at(self) -> datetime:
        return self.timestamp

    @classmethod
    def upcast(cls, state: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Bring a stored state written by an older ``class_version`` up to date.

        Subclasses that bump ``class_version`` define ``upcast_vN_vM(state)`` static
        methods, one per step, exactly as the eventsourcing library's mapper expects.
        """
        while from_version < cls.class_version:
            step = getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")
            step(state)
            from_version += 1
        return state

    def data(self) -> dict[str, Any]:
        """The event's own fields (not the envelope), JSON-ready."""
        return self.model_dump(mode="json", exclude=set(ENVELOPE_FIELDS))


ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "occurred_at", "actor", "role"}
)


class Stamp(Immutable):
    """Who records a fact, when it happened, and when the ledger records it."""

    actor: ShortText
    role: Role
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime

    def envelope(self, originator_id: UUID, originator_version: int) -> dict[str, Any]:
        """The fields every event of an aggregate's next version carries."""
        return {
            "originator_id": originator_id,
            "originator_version": originator_version,
            "timestamp": self.recorded_at,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "role": self.role,
        }


class Aggregate(Immutable):
    id: UUID
    version: int
    created_on: datetime
    modified_on: datetime
