"""An import batch's staging: the :class:`~ledger.commands.store.Store` its planning sees.

Each line of a ``ledger import`` batch is planned by the services' own ``plan`` against
the store *as the batch's earlier lines leave it*: :class:`Staged` holds those lines'
events unsaved, answers reads from the store plus them, and writes them all in one
transaction. :class:`KnownStates` keeps the states a saved batch leaves for the next one.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger.commands.application import ConcurrentChange, LedgerApplication
from ledger.domain.model import DomainEvent, Projector
from ledger.storage.chain import CommandKey


class Staged:
    """The :class:`~ledger.commands.store.Store` one batch's planning sees: the event
    store, plus the events staged by the batch's earlier lines (``save`` stages; ``write``
    saves them all). The services plan against it exactly as against the application.
    Aggregates read are kept for the batch (later lines of a ticket do not replay it), and
    so are those earlier batches left (``known``, see :class:`KnownStates`); ``head`` is
    the chain's position when planning began."""

    def __init__(
        self,
        app: LedgerApplication,
        known: Mapping[UUID, tuple[Projector, Any]] | None = None,
        head: int | None = None,
    ) -> None:
        self._app = app
        self.events: list[DomainEvent] = []
        self.keys: list[CommandKey] = []
        self._by_id: defaultdict[UUID, list[DomainEvent]] = defaultdict(list)
        self.states: dict[UUID, tuple[Projector, Any]] = {}
        self._known = known or {}
        self.head = head
        self.written: list[tuple[int, DomainEvent]] = []
        """Once written: each event with its position in the log."""

    def appended_to(self) -> set[UUID]:
        """The aggregates this batch appends events to."""
        return set(self._by_id)

    def save(self, *events: DomainEvent, **_: Any) -> None:
        """Stage one command's events: later lines of the batch see them."""
        for event in events:
            self._by_id[event.originator_id].append(event)
            cached = self.states.get(event.originator_id)
            if cached is not None:
                projector, state = cached
                self.states[event.originator_id] = (projector, projector(state, [event]))
        self.events.extend(events)

    def get(self, aggregate_id: UUID, projector: Projector, *, version: int | None = None) -> Any:
        if version is not None:  # a past version: nothing staged is in it
            return self._app.get(aggregate_id, projector, version=version)
        cached = self.states.get(aggregate_id)
        if cached is None and aggregate_id not in self._by_id:
            cached = self._known.get(aggregate_id)
            if cached is not None and cached[0] is projector:
                self.states[aggregate_id] = cached
        if cached is not None and cached[0] is projector:
            return cached[1]
        staged = self._by_id.get(aggregate_id, [])
        # Made in this batch (staged from version 1): nothing of it can be stored yet.
        made_here = bool(staged) and staged[0].originator_version == 1
        stored = () if made_here else self._app.events.get(aggregate_id)
        state = projector(None, chain(stored, staged))
        if state is None:
            raise AggregateNotFoundError(aggregate_id)
        self.states[aggregate_id] = (projector, state)
        return state

    def read(self, aggregate_id: UUID, *, limit: int | None = None) -> Sequence[DomainEvent]:
        staged = self._by_id.get(aggregate_id, [])
        made_here = bool(staged) and staged[0].originator_version == 1
        events = [*(() if made_here else self._app.read(aggregate_id)), *staged]
        return events if limit is None else events[:limit]

    def last_version(self, aggregate_id: UUID) -> int | None:
        staged = self._by_id.get(aggregate_id)
        if staged:  # a number sequence's last event: the last staged one
            return staged[-1].originator_version
        return self._app.last_version(aggregate_id)

    def select(self, event_type: type[DomainEvent]) -> Sequence[DomainEvent]:
        staged = [event for event in self.events if isinstance(event, event_type)]
        return [*self._app.select(event_type), *staged]

    def write(self) -> None:
        """Save every staged event and the keys of their commands in one transaction."""
        if not self.events:
            return
        try:
            recordings = self._app.save(*self.events, commands=self.keys)
        except IntegrityError as e:
            records = ", ".join(dict.fromkeys(key.record for key in self.keys))
            raise ConcurrentChange(f"{records} changed concurrently, retry") from e
        self.written = [(r.notification.id, cast(DomainEvent, r.domain_event)) for r in recordings]


KNOWN_STATES = 4096
"""Aggregate states an import keeps between batches (most recently used first)."""


class KnownStates:
    """The aggregate states saved batches left, for the batches after them: a record a
    later line reads (a visit's ticket, a contract) is not replayed from the store again.

    They are exactly the store's states as long as nobody else writes, so they are used
    only while the chain's position is still the one after our last save, and kept only
    when that save moved the position by exactly its own events since its planning began
    (positions are gap-free and taken in commit order: another writer's commit in between
    would show). Otherwise they are forgotten and read from the store again."""

    def __init__(self, limit: int = KNOWN_STATES) -> None:
        self.states: OrderedDict[UUID, tuple[Projector, Any]] = OrderedDict()
        self.head: int | None = None
        self.limit = limit

    def at(self, head: int) -> Mapping[UUID, tuple[Projector, Any]]:
        """The states, if the chain is still at the position they were left at."""
        if head != self.head:
            self.forget()
        return self.states

    def forget(self) -> None:
        self.states.clear()
        self.head = None

    def saved(self, staged: Staged, head: int) -> None:
        """``staged`` was written and the chain is now at ``head``."""
        if staged.head is None or head - staged.head != len(staged.events):
            self.forget()
            return
        for key, value in staged.states.items():
            self.states[key] = value
            self.states.move_to_end(key)
        for key in staged.appended_to() - staged.states.keys():
            self.states.pop(key, None)  # changed without being read here: not known any more
        while len(self.states) > self.limit:
            self.states.popitem(last=False)
        self.head = head
