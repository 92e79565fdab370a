"""The application: the event store, the service layer's errors, numbering and retries.

What every service shares (cosmicpython's ``service_layer`` minus the handlers): the
:class:`LedgerApplication` (the library's application, our mapper and transcoder; it is
also the services' :class:`~ledger.commands.store.Store`), the errors a person can act
on, the next number of a series, stamping a command and planning again on a concurrent
change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import Recording
from eventsourcing.utils import get_topic

from ledger.clock import Clock
from ledger.commands.models import Command
from ledger.commands.store import Store
from ledger.domain.model import DomainEvent, Projector, Stamp
from ledger.domain.numbering import Series, TicketNumberIssued, issue_number, ticket_id_for
from ledger.storage.mapper import OrjsonTranscoder, PydanticMapper

REPORT_ATTEMPTS = 20
"""A new report only competes for the next number; it is always safe to retry."""


class NotFound(LookupError):
    """What a person asked for (a ticket, a contract) does not exist."""


class TicketNotFound(NotFound):
    pass


class ContractNotFound(NotFound):
    pass


class ConcurrentChange(RuntimeError):
    """Another writer changed the ticket between our read and our write."""


class LedgerApplication(Application[UUID]):
    """The event store, on the library's core SQLite or PostgreSQL recorder."""

    name = "Ledger"
    env: ClassVar[dict[str, str]] = {
        "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
        "MAPPER_TOPIC": get_topic(PydanticMapper),
    }

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's ``save``, with our events collected directly.

        The library tells events from aggregates with an ``isinstance`` against a
        runtime-checkable protocol, which on Python 3.11 inspects the protocol's members
        for every event (about 8 µs each, 5 % of an import). The ledger saves only
        pydantic :class:`DomainEvent` objects (its aggregates are immutable states, never
        saved themselves); anything else still goes the library's way."""
        if not all(isinstance(obj, DomainEvent) for obj in objs):
            return super().save(*objs, **kwargs)
        privacy = getattr(self.mapper, "privacy", None)
        if privacy is not None:
            privacy.prepare(objs)
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        processing_event.events.extend(objs)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # as the library's save does (deprecated hook)
        return recordings

    # ------------------------------------------------------------------ Store

    def get(self, aggregate_id: UUID, projector: Projector, *, version: int | None = None) -> Any:
        return self.repository.get(aggregate_id, version=version, projector_func=projector)

    def read(self, aggregate_id: UUID, *, limit: int | None = None) -> Sequence[DomainEvent]:
        return cast(list[DomainEvent], list(self.events.get(aggregate_id, limit=limit)))

    def read_version(self, aggregate_id: UUID, version: int) -> DomainEvent:
        """One event of an aggregate, by its version."""
        found = list(self.events.get(aggregate_id, gt=version - 1, lte=version))
        if not found:
            raise LookupError(f"no event {version} of {aggregate_id}")
        return cast(DomainEvent, found[0])

    def last_version(self, aggregate_id: UUID) -> int | None:
        last = self.recorder.select_events(aggregate_id, desc=True, limit=1)
        return last[0].originator_version if last else None

    def select(self, event_type: type[DomainEvent]) -> Sequence[DomainEvent]:
        topic = get_topic(event_type)
        found: list[DomainEvent] = []
        start = 0
        while True:
            page = self.recorder.select_notifications(
                start=start, limit=500, topics=[topic], inclusive_of_start=False
            )
            if not page:
                return found
            found.extend(cast(DomainEvent, self.mapper.to_domain_event(n)) for n in page)
            start = page[-1].id


def issue_next_number(
    store: Store, series: Series, year: int, stamp: Stamp
) -> tuple[str, DomainEvent]:
    """The next number of ``series`` in ``year`` and the event that takes it: version
    ``n + 1`` of the year's sequence aggregate. Save it in the same ``save`` as the
    numbered record's first event: if a concurrent writer took the number first, that save
    fails (``ConcurrentChange``) and the command is planned again with the next number."""
    counter = series.sequence_id(year)
    sequence = (store.last_version(counter) or 0) + 1
    if series is not Series.TICKET:
        issued = issue_number(series, year, sequence, stamp)
        return issued.number, issued
    number = series.format_number(year, sequence)
    # Like NumberIssued: a number is issued when it is recorded.
    at_recording = stamp.model_copy(update={"occurred_at": stamp.recorded_at})
    ticket_issued = TicketNumberIssued(
        **at_recording.envelope(counter, sequence),
        year=year,
        number=number,
        ticket_id=ticket_id_for(number),
    )
    return number, ticket_issued


P = TypeVar("P")


def commit_retrying(plan: Callable[[], P], commit: Callable[[P], None], attempts: int) -> P:
    """Plan and commit, up to ``attempts`` times while the commit meets a concurrent change
    (each attempt decides afresh from the current state); what was committed."""
    for attempt in range(attempts):
        planned = plan()
        try:
            commit(planned)
        except ConcurrentChange:
            if attempt + 1 >= attempts:
                raise
            continue
        return planned
    raise AssertionError("unreachable")  # pragma: no cover


def stamp_command(command: Command, clock: Clock) -> Stamp:
    """Who records a command and when: ``occurred_at`` is the command's ``at`` or now."""
    now = clock.now()
    return Stamp(
        actor=command.actor, role=command.role, occurred_at=command.at or now, recorded_at=now
    )
