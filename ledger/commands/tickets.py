"""The ticket service: takes a command, loads the ticket, lets the command decide, saves.

Thin on purpose (cosmicpython's service layer): the rules are in ``ledger.domain``, each
command model calls its own (``command.decide``); this module only finds the ticket,
stamps the command with who and when, and turns storage conflicts into errors a person
can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger.clock import Clock
from ledger.commands.application import (
    REPORT_ATTEMPTS,
    ConcurrentChange,
    TicketNotFound,
    commit_retrying,
    issue_next_number,
    stamp_command,
)
from ledger.commands.models import AnyCommand, ReportTicket
from ledger.commands.registry import authorise
from ledger.commands.store import Store
from ledger.domain.contract import Policy
from ledger.domain.model import DomainEvent, Stamp
from ledger.domain.numbering import Series, ticket_id_for
from ledger.domain.ticket import Reported, Ticket, TicketEvent, project_ticket


class TicketService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        tz: tzinfo,
        policy_for: Callable[[str, datetime], Policy],
    ) -> None:
        self.store = store
        self.policy_for = policy_for
        self.clock = clock
        self.tz = tz

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
        stamp = stamp_command(command, self.clock)
        if isinstance(command, ReportTicket):
            return self._plan_report(command, stamp)
        return [command.decide(self.get(command.ticket), stamp)]

    def commit(self, events: Sequence[DomainEvent]) -> None:
        try:
            self.store.save(*events)
        except IntegrityError as e:
            subject = next((e.number for e in events if isinstance(e, Reported)), None)
            if subject is None:
                subject = self._number_of(events[0].originator_id)
            raise ConcurrentChange(f"ticket {subject} changed concurrently, retry") from e

    def _plan_report(self, command: ReportTicket, stamp: Stamp) -> list[DomainEvent]:
        """The number the report takes (its sequence's next event) and the report."""
        policy = self.policy_for(command.contract, stamp.occurred_at)
        year = stamp.occurred_at.astimezone(policy.zone).year
        number, issued = issue_next_number(self.store, Series.TICKET, year, stamp)
        return [issued, *command.decide(number, policy, stamp)]

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
            ticket: Ticket = self.store.get(ticket_id, project_ticket, version=version)
        except AggregateNotFoundError:
            raise TicketNotFound(f"no ticket {ref}") from None
        return ticket

    def history(self, ref: str | UUID) -> list[TicketEvent]:
        ticket_id = self.resolve_id(ref)
        events = [e for e in self.store.read(ticket_id) if isinstance(e, TicketEvent)]
        if not events:
            raise TicketNotFound(f"no ticket {ref}")
        return events

    def _number_of(self, ticket_id: UUID) -> str:
        for event in self.store.read(ticket_id, limit=1):
            if isinstance(event, Reported):
                return event.number
        return str(ticket_id)
