"""Helpers for the unit tests of the quality aggregates (visits, corrective actions,
complaints): stamps in minutes after ``T0`` and a history that decides, records and applies.

Unless a test says otherwise an event is recorded at the moment it happened.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import pytest
from hypothesis import strategies as st

from ledger.domain.errors import RuleViolation
from ledger.domain.model import CLOCK_SKEW, Aggregate, DomainEvent, Stamp
from ledger.domain.values import Role
from ledger.storage.mapper import OrjsonTranscoder, PydanticMapper

T0 = datetime(2026, 10, 8, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai

S = TypeVar("S", bound=Aggregate)
E = TypeVar("E", bound=DomainEvent)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(
    occurred: float,
    recorded: float | None = None,
    *,
    actor: str = "张敏",
    role: Role = Role.QUALITY,
) -> Stamp:
    return Stamp(
        actor=actor,
        role=role,
        occurred_at=at(occurred),
        recorded_at=at(occurred if recorded is None else recorded),
    )


def rejected(match: str) -> Any:
    return pytest.raises(RuleViolation, match=match)


class History(Generic[S]):
    """An aggregate's events and current state; ``do`` decides, records and applies one
    command; ``refuse`` checks that a command is rejected and changes nothing."""

    def __init__(self, first: DomainEvent, mutate: Callable[[Any, S | None], S]) -> None:
        self.mutate = mutate
        self.events: list[DomainEvent] = [first]
        self.state: S = mutate(first, None)

    def do(
        self,
        decide: Callable[..., E],
        occurred: float,
        *args: Any,
        recorded: float | None = None,
        actor: str = "张敏",
        role: Role = Role.QUALITY,
        **kwargs: Any,
    ) -> E:
        event = decide(
            self.state, stamp(occurred, recorded, actor=actor, role=role), *args, **kwargs
        )
        assert event.originator_id == self.state.id
        assert event.originator_version == self.state.version + 1
        self.events.append(event)
        self.state = self.mutate(event, self.state)
        return event

    def refuse(
        self,
        match: str,
        decide: Callable[..., DomainEvent],
        occurred: float,
        *args: Any,
        recorded: float | None = None,
        actor: str = "张敏",
        role: Role = Role.QUALITY,
        **kwargs: Any,
    ) -> str:
        """``decide`` raises a RuleViolation matching ``match``; nothing is recorded."""
        before, count = self.state, len(self.events)
        with rejected(match) as info:
            self.do(decide, occurred, *args, recorded=recorded, actor=actor, role=role, **kwargs)
        assert self.state is before and len(self.events) == count
        return str(info.value)

    def replayed(self) -> S:
        return replay(self.mutate, self.events)

    def refuse_before(
        self, decide: Callable[..., DomainEvent], when: datetime, what: str, **kwargs: Any
    ) -> None:
        """``decide`` is refused a minute before ``when`` (the time of ``what``) and
        accepted at ``when`` itself."""
        minute = (when - T0) / timedelta(minutes=1)
        pattern = f"is before {re.escape(what)} \\({re.escape(when.isoformat())}\\)"
        self.refuse(pattern, decide, minute - 1, **kwargs)
        assert self.do(decide, minute, **kwargs).occurred_at == when

    def check_storage_and_dispatch(self, base: type[DomainEvent]) -> None:
        """The history survives the event store's mapper, and ``mutate`` refuses an event
        it has no mutator for (the aggregate's bare base event)."""
        loaded = stored_and_loaded(self.events)
        assert loaded == self.events
        assert replay(self.mutate, loaded) == self.state
        stray = base(**stamp(0).envelope(self.state.id, self.state.version + 1))
        with pytest.raises(TypeError, match=f"no mutator for {base.__name__}"):
            self.mutate(stray, self.state)


def stored_and_loaded(events: Sequence[DomainEvent]) -> list[DomainEvent]:
    """The events after a trip through the ledger's mapper (what the event store keeps)."""
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    loaded = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]
    return [e for e in loaded if isinstance(e, DomainEvent)]


def replay(mutate: Callable[[Any, S | None], S], events: Sequence[DomainEvent]) -> S:
    state: S | None = None
    for event in events:
        state = mutate(event, state)
    assert state is not None
    return state


# --------------------------------------------------------------------------- random histories
#
# For the property tests: random command sequences against one aggregate. Each command is
# decided against the current state with a stamp whose recording clock mostly moves forward
# and whose ``occurred_at`` is mostly a little before it, sometimes far back or just ahead
# (on both sides of the allowed clock skew). Accepted commands are folded in; a rejected one
# (RuleViolation) must leave the state exactly as it was. Any other exception fails.

SKEWS = [timedelta(minutes=m) for m in (0, 0, -1, -5, -30, -120, -24 * 60)] + [
    timedelta(seconds=s) for s in (60, 300, 301)
]
CLOCK_STEPS = [timedelta(minutes=m) for m in (0, 5, 30, 60, 240, 24 * 60, 7 * 24 * 60, -10)]
WORDS = st.sampled_from(["原因", "x", "  padded  ", "Long " * 30])


@dataclass
class Command:
    name: str
    kwargs: dict[str, Any]
    role: Role
    clock_step: timedelta
    skew: timedelta

    def stamp(self, now: datetime) -> Stamp:
        return Stamp(actor="某人", role=self.role, occurred_at=now + self.skew, recorded_at=now)


def command_strategy(
    names: Sequence[str],
    arguments: Mapping[str, st.SearchStrategy[dict[str, Any]]],
    roles: Mapping[str, Sequence[Role]] | None = None,
) -> st.SearchStrategy[Command]:
    """Commands drawn from ``names`` (repeat a name to weight it); ``roles`` weights the
    roles of some commands (default: any role)."""

    @st.composite
    def command(draw: st.DrawFn) -> Command:
        name = draw(st.sampled_from(list(names)))
        return Command(
            name=name,
            kwargs=draw(arguments[name]),
            role=draw(st.sampled_from(list((roles or {}).get(name, list(Role))))),
            clock_step=draw(st.sampled_from(CLOCK_STEPS)),
            skew=draw(st.sampled_from(SKEWS)),
        )

    return command()


class Run(Generic[S]):
    """A history being generated: the accepted events, the state, the rejections. An
    argument that is a function is called with the command's stamp (for values that depend
    on the time, such as a due date)."""

    def __init__(
        self,
        first: DomainEvent,
        mutate: Callable[[Any, S | None], S],
        deciders: Mapping[str, Callable[..., DomainEvent]],
    ) -> None:
        self.mutate = mutate
        self.deciders = deciders
        self.events: list[DomainEvent] = [first]
        self.state: S = mutate(first, None)
        self.now = first.timestamp
        self.rejected: list[str] = []

    def step(self, command: Command) -> None:
        self.now += command.clock_step
        when = command.stamp(self.now)
        kwargs = {k: v(when) if callable(v) else v for k, v in command.kwargs.items()}
        before = self.state
        snapshot = before.model_copy(deep=True)
        try:
            new = self.deciders[command.name](before, when, **kwargs)
        except RuleViolation as exc:
            assert self.state is before and before == snapshot, f"{command.name} changed state"
            assert str(exc), "a rule violation must say what is wrong"
            self.rejected.append(str(exc))
            return
        assert before == snapshot, f"{command.name} changed the state while deciding"
        assert (new.originator_id, new.originator_version) == (before.id, before.version + 1)
        self.events.append(new)
        self.state = self.mutate(new, before)

    def check_common(self, *, in_order: bool = True) -> None:
        """What every history keeps: versions without gaps, replay gives the same state, and
        times that never run ahead of the recording clock, nor (``in_order``) go back."""
        versions = [e.originator_version for e in self.events]
        assert versions == list(range(1, len(self.events) + 1)), versions
        assert {e.originator_id for e in self.events} == {self.state.id}
        assert replay(self.mutate, self.events) == self.state
        for before, after in itertools.pairwise(self.events):
            assert after.occurred_at >= before.occurred_at or not in_order, (before, after)
        assert all(e.occurred_at <= e.timestamp + CLOCK_SKEW for e in self.events)
