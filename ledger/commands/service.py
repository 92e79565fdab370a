"""The application service: takes a command, loads the aggregate, decides, saves.

Thin on purpose (cosmicpython's service layer): the rules are in ``ledger.domain``;
this module only finds the ticket, stamps the command with who and when, and turns
storage conflicts into errors a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.persistence import IntegrityError, Recording
from eventsourcing.utils import get_topic

from ledger.clock import Clock
from ledger.commands.models import (
    AnyCommand,
    CancelTicket,
    CloseTicket,
    Command,
    DispatchEngineer,
    EscalateTicket,
    ProvideReplacement,
    ReclassifyTicket,
    RecordArrival,
    RecordContactSheet,
    ReopenTicket,
    ReportTicket,
    ResolveTicket,
    RespondToTicket,
    ResumeTicket,
    SignServiceForm,
    SuspendTicket,
    TicketCommand,
)
from ledger.domain import ticket as rules
from ledger.domain.contract import Policy
from ledger.domain.model import DomainEvent, Stamp
from ledger.domain.numbering import (
    Series,
    TicketNumberIssued,
    issue_number,
    ticket_id_for,
)
from ledger.domain.roles import authorise
from ledger.domain.ticket import Contact, Ticket, TicketEvent, project_ticket
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
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        processing_event.events.extend(objs)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # as the library's save does (deprecated hook)
        return recordings


def issue_next_number(
    app: LedgerApplication, series: Series, year: int, stamp: Stamp
) -> tuple[str, DomainEvent]:
    """The next number of ``series`` in ``year`` and the event that takes it: version
    ``n + 1`` of the year's sequence aggregate. Save it in the same ``app.save`` as the
    numbered record's first event: if a concurrent writer took the number first, that save
    fails (``ConcurrentChange``) and the command is planned again with the next number."""
    counter = series.sequence_id(year)
    last = app.recorder.select_events(counter, desc=True, limit=1)
    sequence = last[0].originator_version + 1 if last else 1
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


class TicketService:
    def __init__(
        self,
        app: LedgerApplication,
        clock: Clock,
        tz: tzinfo,
        policy_for: Callable[[str, datetime], Policy],
    ) -> None:
        self.app = app
        self.policy_for = policy_for
        self.clock = clock
        self.tz = tz
        self._deciders: dict[type[TicketCommand], Callable[[Ticket, Stamp, Any], TicketEvent]] = {
            RespondToTicket: lambda t, s, c: rules.decide_respond(t, s, c.note),
            DispatchEngineer: lambda t, s, c: rules.decide_dispatch(t, s, c.engineer, c.note),
            RecordArrival: lambda t, s, c: rules.decide_arrive(t, s, c.engineer),
            ResolveTicket: lambda t, s, c: rules.decide_resolve(t, s, c.summary, c.mode),
            SignServiceForm: lambda t, s, c: rules.decide_sign(t, s, c.signer, c.kind),
            EscalateTicket: lambda t, s, c: rules.decide_escalate(t, s, c.to, c.reason),
            SuspendTicket: lambda t, s, c: rules.decide_suspend(t, s, c.reason),
            ResumeTicket: lambda t, s, c: rules.decide_resume(t, s, c.reason),
            ProvideReplacement: lambda t, s, c: rules.decide_replace(t, s, c.unit, c.note),
            ReclassifyTicket: lambda t, s, c: rules.decide_reclassify(
                t, s, c.reason, c.severity, c.category
            ),
            CloseTicket: lambda t, s, c: rules.decide_close(t, s, c.note),
            ReopenTicket: lambda t, s, c: rules.decide_reopen(t, s, c.reason),
            CancelTicket: lambda t, s, c: rules.decide_cancel(t, s, c.reason),
            RecordContactSheet: lambda t, s, c: rules.decide_contact_sheet(
                t, s, c.sheet, c.fee, c.confirmed_by, c.note
            ),
        }

    # ------------------------------------------------------------------ writing

    def execute(self, command: AnyCommand, *, retries: int = 0) -> Ticket:
        """Apply one command atomically; on a concurrent change re-read and retry
        ``retries`` times (the command is decided afresh, so it must still be valid)."""
        attempts = REPORT_ATTEMPTS if isinstance(command, ReportTicket) else retries + 1
        events = commit_retrying(lambda: self.plan(command), self.commit, attempts)
        ticket_event = next(e for e in events if isinstance(e, TicketEvent))
        return self.get(ticket_event.originator_id)

    def plan(self, command: AnyCommand) -> list[DomainEvent]:
        """Decide the events a command produces against the current state; save nothing."""
        authorise(command.command, command.role, actor=command.actor)
        stamp = self._stamp(command)
        if isinstance(command, ReportTicket):
            return self._plan_report(command, stamp)
        ticket = self.get(command.ticket)
        return [self._deciders[type(command)](ticket, stamp, command)]

    def commit(self, events: Sequence[DomainEvent]) -> None:
        try:
            self.app.save(*events)
        except IntegrityError as e:
            subject = next((e.number for e in events if isinstance(e, rules.Reported)), None)
            if subject is None:
                subject = self._number_of(events[0].originator_id)
            raise ConcurrentChange(f"ticket {subject} changed concurrently, retry") from e

    def _stamp(self, command: Command) -> Stamp:
        return stamp_command(command, self.clock)

    def _plan_report(self, command: ReportTicket, stamp: Stamp) -> list[DomainEvent]:
        policy = self.policy_for(command.contract, stamp.occurred_at)
        year = stamp.occurred_at.astimezone(policy.zone).year
        number, issued = issue_next_number(self.app, Series.TICKET, year, stamp)
        reported = rules.decide_report(
            ticket_id_for(number),
            number,
            stamp,
            contract_id=command.contract,
            customer=command.customer or policy.customer,
            contact=Contact(name=command.contact_name, phone=command.contact_phone),
            site=command.site,
            device=command.device,
            category=command.category,
            severity=command.severity,
            description=command.description,
            channel=command.channel,
            external_ref=command.external_ref,
        )
        ticket = rules.mutate(reported, None)
        noted = rules.decide_coverage(
            ticket,
            stamp,
            reported_on=stamp.occurred_at.astimezone(policy.zone).date(),
            warranty_start=policy.warranty.start,
            warranty_end=policy.warranty.last_day,
        )
        return [issued, reported] if noted is None else [issued, reported, noted]

    # ------------------------------------------------------------------ reading

    def resolve_id(self, ref: str | UUID) -> UUID:
        """A ticket number or a UUID, as typed by a person, to the ticket's id."""
        if isinstance(ref, UUID):
            return ref
        text = ref.strip()
        if text.upper().startswith("T-"):
            try:
                return ticket_id_for(text.upper())
            except ValueError as e:
                raise TicketNotFound(str(e)) from None
        try:
            return UUID(text)
        except ValueError:
            raise TicketNotFound(
                f"{ref!r} is neither a ticket number (T-2026-000123) nor a ticket id"
            ) from None

    def get(self, ref: str | UUID, *, version: int | None = None) -> Ticket:
        ticket_id = self.resolve_id(ref)
        try:
            ticket: Ticket = self.app.repository.get(
                ticket_id, version=version, projector_func=project_ticket
            )
        except AggregateNotFoundError:
            raise TicketNotFound(f"no ticket {ref}") from None
        return ticket

    def history(self, ref: str | UUID) -> list[TicketEvent]:
        ticket_id = self.resolve_id(ref)
        events = [e for e in self.app.events.get(ticket_id) if isinstance(e, TicketEvent)]
        if not events:
            raise TicketNotFound(f"no ticket {ref}")
        return events

    def _number_of(self, ticket_id: UUID) -> str:
        first = self.app.events.get(ticket_id, limit=1)
        for event in first:
            if isinstance(event, rules.Reported):
                return event.number
        return str(ticket_id)
