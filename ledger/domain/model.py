"""Immutable pydantic building blocks for events and aggregate state.

In the style of the eventsourcing library's ``examples/aggregate7``: events are frozen
pydantic models, aggregates are frozen models rebuilt by pure mutator functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Self, TypeVar
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from ledger.domain.errors import RuleViolation
from ledger.domain.values import Role

CLOCK_SKEW = timedelta(minutes=5)
"""How far ``occurred_at`` may lie after the recording time before it is called a future time."""


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_as_utc)]
"""A timezone-aware datetime, normalised to UTC so stored bytes never depend on a zone."""

Text = Annotated[str, Field(min_length=1, max_length=2000)]
"""Free text written by a person: never empty, bounded so a pasted file cannot bloat the log."""

ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class Immutable(BaseModel):
    # defer_build: a model's validator is built when it is first used, not at import: a
    # command's start-up builds the few it needs, not all ~120 (issue 18).
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True
    )


def build_validators(*bases: type[BaseModel]) -> int:
    """Build every domain model's validator now (each is otherwise built on first use): for
    a long run that will meet most of them anyway and wants no first-use pause (the
    benchmark, before it starts a clock, as it was when they were built at import).
    ``bases``: whose subclasses (default: every domain model). Returns how many were built."""
    built, pending = 0, [c for base in bases or (Immutable,) for c in base.__subclasses__()]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__pydantic_complete__ and cls.model_rebuild() is not None:
            built += 1
    return built


_RECORDED: list[type[DomainEvent]] = []
"""Every recorded event class, in the order they are defined."""


class DomainEvent(Immutable):
    """A fact. ``timestamp`` is when the ledger recorded it; ``occurred_at`` is when it
    happened in the real world, as told by the actor (it may be earlier)."""

    class_version: ClassVar[int] = 1
    abstract: ClassVar[bool] = True
    """Set in a base that is never recorded itself (``TicketEvent``); a class without it in
    its own body is a recorded event and registers itself (:func:`recorded_events`)."""

    originator_id: UUID
    originator_version: int = Field(ge=1)
    timestamp: UtcDatetime
    occurred_at: UtcDatetime
    actor: ShortText
    role: Role

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("abstract", False):
            _RECORDED.append(cls)

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


E = TypeVar("E", bound=DomainEvent)


def recorded_events(base: type[E]) -> tuple[type[E], ...]:
    """The recorded event classes of ``base`` (itself included if it is one), in the order
    they are defined: the event-type lists derive from this."""
    return tuple(c for c in _RECORDED if issubclass(c, base))


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

    @classmethod
    def started_by(cls, event: DomainEvent, **fields: Any) -> Self:
        """The aggregate its first event creates: id, version and times from the envelope,
        each of the event's own fields that the aggregate has under the same name, and
        ``fields`` for the rest."""
        copied = {name: getattr(event, name) for name in _shared_fields(cls, type(event))}
        return cls(
            id=event.originator_id,
            version=event.originator_version,
            created_on=event.timestamp,
            modified_on=event.timestamp,
            **copied,
            **fields,
        )


_SHARED: dict[tuple[type[Aggregate], type[DomainEvent]], tuple[str, ...]] = {}


def _shared_fields(aggregate: type[Aggregate], event: type[DomainEvent]) -> tuple[str, ...]:
    """The event's own fields the aggregate has under the same name, worked out once per
    pair of classes (every replay of a first event needs them)."""
    found = _SHARED.get((aggregate, event))
    if found is None:
        found = _SHARED[(aggregate, event)] = tuple(
            name
            for name in event.__pydantic_fields__
            if name in aggregate.__pydantic_fields__ and name not in ENVELOPE_FIELDS
        )
    return found


# --------------------------------------------------------------------------- shared rules

A = TypeVar("A", bound=Aggregate)


def check_times(stamp: Stamp, not_before: datetime | None = None, what: str = "") -> None:
    """Every aggregate's time rule: ``occurred_at`` is not in the future (beyond
    :data:`CLOCK_SKEW`) and not before the fact it follows (``not_before``, named ``what``)."""
    if stamp.occurred_at > stamp.recorded_at + CLOCK_SKEW:
        raise RuleViolation(
            "occurred_at ", stamp.occurred_at, " is in the future (now ", stamp.recorded_at, ")"
        )
    if not_before is not None and stamp.occurred_at < not_before:
        raise RuleViolation(
            "occurred_at ", stamp.occurred_at, f" is before {what} (", not_before, ")"
        )


def require_role(stamp: Stamp, allowed: Iterable[Role], action: str) -> None:
    """Refuse a command whose stamp's role is not one of ``allowed``; the message names them."""
    roles = tuple(allowed)
    if stamp.role not in roles:
        names = " or ".join(r.value for r in roles)
        raise RuleViolation(f"role {stamp.role.value} may not {action}: only {names} may")


def next_event(cls: type[E], aggregate: Aggregate, stamp: Stamp, **fields: object) -> E:
    """The event ``cls`` at the aggregate's next version, stamped."""
    return cls(**stamp.envelope(aggregate.id, aggregate.version + 1), **fields)


def evolve(aggregate: A | None, event: DomainEvent, **changes: object) -> A:
    """The aggregate after ``event``: its version and ``modified_on`` move, ``changes`` apply."""
    assert aggregate is not None, f"{type(event).__name__} before the aggregate's first event"
    return aggregate.model_copy(
        update={"version": event.originator_version, "modified_on": event.timestamp, **changes}
    )


Projector = Callable[[Any, Iterable[Any]], Any]
"""A fold of events into a state (``project_ticket``, ``project_visit``, ...): what a store
is given to read an aggregate, whichever store it is."""


def fold(
    mutate: Callable[[Any, A | None], A],
    state: A | None,
    events: object,
    kind: type[DomainEvent],
) -> A | None:
    """``state`` after ``events``, one ``mutate`` at a time: the body of every aggregate's
    projector function for the library's ``Repository.get(projector_func=...)``.

    Ids come from people (a UUID typed where a ticket is expected), so the events read may
    be another aggregate's: a first event not of ``kind`` (the aggregate's event base
    class) means there is no aggregate of this kind, ``None``, which ``Repository.get``
    turns into ``AggregateNotFoundError``, as for an id with no events at all."""
    for event in events:  # type: ignore[attr-defined]
        if state is None and not isinstance(event, kind):
            return None
        state = mutate(event, state)
    return state
