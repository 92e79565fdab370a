"""Quality supervision's service: return visits, corrective actions, complaints.

:class:`QualityService` loads records by number, stamps the command, lets it decide
(``command.decide``, or the plans here for the commands that make a record or touch
several) and saves what it returns. The command models are in
:mod:`ledger.commands.quality_models`, the rules in ``ledger.domain.return_visit``,
``corrective_action`` and ``complaint``.

Everything one command records is saved in **one** ``save``, so it is all there or
none of it is:

* a new visit, action or complaint: its number (``NumberIssued``) and its first event;
* a corrective action raised from visits or complaints: the number, ``QualityIssueRaised``
  and, on each of those visits and complaints, ``CorrectiveActionLinked``;
* a failed audit of a ticket's service form: ``AuditFailed`` and the ticket's
  ``Reopened`` with the visit's number as its cause (when the ticket is resolved or
  closed; a ticket still open only gets the audit failure, and the outcome says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger.clock import Clock
from ledger.commands.application import (
    REPORT_ATTEMPTS,
    ConcurrentChange,
    NotFound,
    commit_retrying,
    issue_next_number,
    stamp_command,
)
from ledger.commands.contracts import ContractService
from ledger.commands.models import CommandError
from ledger.commands.quality_models import (
    AuditVisit,
    QualityCommand,
    RaiseAction,
    ReceiveComplaint,
    ScheduleVisit,
)
from ledger.commands.registry import CREATING, authorise
from ledger.commands.store import Store
from ledger.commands.tickets import TicketService
from ledger.domain import complaint as cp
from ledger.domain import corrective_action as ca
from ledger.domain import return_visit as rv
from ledger.domain import ticket as tk
from ledger.domain import ticket_rules
from ledger.domain.complaint import Complaint, ComplaintSubject
from ledger.domain.corrective_action import CorrectiveAction
from ledger.domain.model import DomainEvent, Stamp
from ledger.domain.numbering import NumberIssued, Reference, Series, reference
from ledger.domain.return_visit import ReturnVisit
from ledger.domain.values import TicketStatus

# --------------------------------------------------------------------------- records

Record = ReturnVisit | CorrectiveAction | Complaint
R = TypeVar("R", ReturnVisit, CorrectiveAction, Complaint)


class RecordNotFound(NotFound):
    """No return visit, corrective action or complaint has that number."""


@dataclass(frozen=True)
class Kind(Generic[R]):
    """How a numbered quality record is stored: its series, projector and event base."""

    series: Series
    projector: Callable[[R | None, object], R | None]
    event_type: type[DomainEvent]


VISITS = Kind[ReturnVisit](Series.VISIT, rv.project_visit, rv.VisitEvent)
ACTIONS = Kind[CorrectiveAction](Series.CORRECTIVE_ACTION, ca.project_action, ca.ActionEvent)
COMPLAINTS = Kind[Complaint](Series.COMPLAINT, cp.project_complaint, cp.ComplaintEvent)
KINDS: dict[Series, Kind[Any]] = {k.series: k for k in (VISITS, ACTIONS, COMPLAINTS)}


def record_number(text: str, series: Series) -> Reference:
    """A number as typed by a person (any case) in ``series``; ``RecordNotFound`` if it is
    not one."""
    number = text.strip().upper()
    try:
        return Reference(series=series, number=number, id=series.id_for(number))
    except ValueError as e:
        raise RecordNotFound(str(e)) from None


@dataclass
class Plan:
    """What one command records: the events of one atomic save, the record it is about,
    a name for every aggregate it writes (for conflict messages) and notes for the user."""

    record: Reference
    events: list[DomainEvent]
    names: dict[UUID, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, event: DomainEvent, name: str) -> None:
        self.events.append(event)
        self.names[event.originator_id] = name


@dataclass(frozen=True)
class Outcome:
    """A recorded command: the record's new state, every event saved, notes for the user
    (what else was linked or reopened, or why a ticket was not reopened)."""

    record: Record
    events: tuple[DomainEvent, ...]
    notes: tuple[str, ...] = ()


def _name(ref: Reference) -> str:
    return f"{ref.series.noun} {ref.number}"


def _issued_name(event: DomainEvent) -> str:
    assert isinstance(event, NumberIssued)
    return f"the {event.series.noun} number sequence of {event.year}"


class QualityService:
    """Records return visits, corrective actions and complaints; reads them back."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        tz: tzinfo,
        contracts: ContractService,
        tickets: TicketService,
    ) -> None:
        self.store = store
        self.clock = clock
        self.tz = tz
        self.contracts = contracts
        self.tickets = tickets

    # ------------------------------------------------------------------ writing

    def execute(self, command: QualityCommand, *, retries: int = 0) -> Outcome:
        """Apply one command atomically. On a concurrent change, plan again from fresh
        state ``retries`` more times (a new record, which competes for its number, up to
        ``REPORT_ATTEMPTS`` times)."""
        attempts = REPORT_ATTEMPTS if type(command) in CREATING.values() else retries + 1
        plan = commit_retrying(lambda: self.plan(command), self.commit, attempts)
        record = self.get(plan.record.number)
        return Outcome(record, tuple(plan.events), tuple(plan.notes))

    def plan(self, command: QualityCommand) -> Plan:
        """Decide what a command records against the current state; save nothing."""
        authorise(command.command, command.role, actor=command.actor)
        stamp = stamp_command(command, self.clock)
        if isinstance(command, ScheduleVisit):
            return self._plan_schedule(command, stamp)
        if isinstance(command, RaiseAction):
            return self._plan_raise(command, stamp)
        if isinstance(command, ReceiveComplaint):
            return self._plan_receive(command, stamp)
        if isinstance(command, AuditVisit):
            return self._plan_audit(command, stamp)
        record = self._get(KINDS[command.series], command.number)
        return self._single(
            record.number, command.series, command.decide(record, stamp, tz=self.tz)
        )

    def commit(self, plan: Plan) -> None:
        try:
            self.store.save(*plan.events)
        except IntegrityError as e:
            raise ConcurrentChange(self._conflict(plan)) from e

    def _single(self, number: str, series: Series, event: DomainEvent) -> Plan:
        ref = Reference(series=series, number=number, id=event.originator_id)
        return Plan(ref, [event], {ref.id: _name(ref)})

    def _new(self, series: Series, year: int, stamp: Stamp) -> tuple[str, Plan]:
        """A new record's number, and a plan that starts with the event issuing it."""
        number, issued = issue_next_number(self.store, series, year, stamp)
        ref = Reference(series=series, number=number, id=series.id_for(number))
        plan = Plan(ref, [])
        plan.add(issued, _issued_name(issued))
        return number, plan

    def _plan_schedule(self, command: ScheduleVisit, stamp: Stamp) -> Plan:
        ticket = self.tickets.get(command.ticket) if command.ticket else None
        contract_id = _contract_of(command.contract, ticket)
        if contract_id is None:
            raise CommandError(["contract: is required (or a ticket, whose contract is used)"])
        policy = self.contracts.policy_at(contract_id, stamp.occurred_at)
        number, plan = self._new(
            Series.VISIT, stamp.occurred_at.astimezone(policy.zone).year, stamp
        )
        scheduled = rv.decide_schedule(
            number,
            stamp,
            customer=command.customer or (ticket.customer if ticket else policy.customer),
            contract_id=contract_id,
            form=command.form,
            planned_at=command.planned_at or stamp.occurred_at,
            visitor=command.visitor,
            ticket_number=ticket.number if ticket else None,
            purpose=command.purpose,
        )
        plan.add(scheduled, _name(plan.record))
        return plan

    def _plan_receive(self, command: ReceiveComplaint, stamp: Stamp) -> Plan:
        about_ticket = command.about is ComplaintSubject.TICKET
        ticket = self.tickets.get(command.reference) if about_ticket else None
        contract_id = _contract_of(command.contract, ticket)
        policy = self.contracts.policy_at(contract_id, stamp.occurred_at) if contract_id else None
        customer = command.customer or (ticket.customer if ticket else None)
        customer = customer or (policy.customer if policy else None)
        if customer is None:
            raise CommandError(
                ["customer: is required (or a contract or ticket, whose customer is used)"]
            )
        local = stamp.occurred_at.astimezone(policy.zone if policy else self.tz)
        number, plan = self._new(Series.COMPLAINT, local.year, stamp)
        received = cp.decide_receive(
            number,
            stamp,
            channel=command.channel,
            customer=customer,
            about=command.about,
            reference=ticket.number if ticket else command.reference,
            category=command.category,
            content=command.content,
            contract_id=contract_id,
        )
        plan.add(received, _name(plan.record))
        return plan

    def _plan_raise(self, command: RaiseAction, stamp: Stamp) -> Plan:
        """The action and, on each visit and complaint it came from, the link back."""
        year = stamp.occurred_at.astimezone(self.tz).year
        number, plan = self._new(Series.CORRECTIVE_ACTION, year, stamp)
        raised = ca.decide_raise(
            number,
            stamp,
            content=command.content,
            source=command.source,
            department=command.department,
            links=[link.strip().upper() for link in command.links],
        )
        plan.add(raised, _name(plan.record))
        for link in raised.links:
            if link.series is Series.TICKET:
                self.tickets.get(link.number)  # it must exist; a ticket keeps no link back
            elif link.series is Series.VISIT:
                visit = self.visit(link.number)
                plan.add(rv.decide_link_action(visit, stamp, number), _name(link))
                plan.notes.append(f"linked to {_name(link)}")
            elif link.series is Series.COMPLAINT:
                complaint = self.complaint(link.number)
                plan.add(cp.decide_link_action(complaint, stamp, number), _name(link))
                plan.notes.append(f"linked to {_name(link)}")
        return plan

    def _plan_audit(self, command: AuditVisit, stamp: Stamp) -> Plan:
        """A pass records the verdict. A failure also sends the ticket back: its
        ``Reopened`` (cause: the visit) goes into the same save."""
        visit = self.visit(command.visit)
        if command.verdict == "pass":
            return self._single(
                visit.number, Series.VISIT, rv.decide_audit_pass(visit, stamp, command.note)
            )
        assert command.reason is not None  # the model requires it
        plan = self._single(
            visit.number, Series.VISIT, rv.decide_audit_fail(visit, stamp, command.reason)
        )
        assert visit.ticket_id is not None  # decide_audit_fail refuses a visit without one
        ticket = self.tickets.get(visit.ticket_id)
        name = f"ticket {ticket.number}"
        if ticket.status is TicketStatus.CANCELLED:
            plan.notes.append(f"{name} is cancelled: not reopened")
        elif not ticket.is_resolved:
            plan.notes.append(
                f"{name} is still open ({ticket.status.value}): not reopened; "
                "only the audit failure is recorded"
            )
        else:
            plan.add(
                ticket_rules.decide_reopen(ticket, stamp, command.reason, cause=visit.number), name
            )
            plan.notes.append(f"{name} reopened (cause: return visit {visit.number})")
        return plan

    def _conflict(self, plan: Plan) -> str:
        """Which of the plan's aggregates another writer changed first (all of them when
        that cannot be told), as a message."""
        changed = []
        for event in plan.events:
            last = self.store.last_version(event.originator_id)
            if last is not None and last >= event.originator_version:
                changed.append(plan.names[event.originator_id])
        if not changed:
            changed = list(plan.names.values())
        what = _name(plan.record)
        return f"{' and '.join(changed)} changed concurrently while recording {what}, retry"

    # ------------------------------------------------------------------ reading

    def _get(self, kind: Kind[R], number: str) -> R:
        ref = record_number(number, kind.series)
        try:
            found: R = self.store.get(ref.id, kind.projector)
        except AggregateNotFoundError:
            raise RecordNotFound(f"no {kind.series.noun} {ref.number}") from None
        return found

    def visit(self, number: str) -> ReturnVisit:
        return self._get(VISITS, number)

    def action(self, number: str) -> CorrectiveAction:
        return self._get(ACTIONS, number)

    def complaint(self, number: str) -> Complaint:
        return self._get(COMPLAINTS, number)

    def get(self, number: str, series: Series | None = None) -> Record:
        """A visit, action or complaint by number, its series told by the prefix (or
        ``series``: the number must be one of it)."""
        found: Record = self._get(self._kind(number, series), number)
        return found

    def history(self, number: str, series: Series | None = None) -> list[DomainEvent]:
        """Every event of a record, in order (``series``: as for :meth:`get`)."""
        kind = self._kind(number, series)
        ref = record_number(number, kind.series)
        events = [e for e in self.store.read(ref.id) if isinstance(e, kind.event_type)]
        if not events:
            raise RecordNotFound(f"no {kind.series.noun} {ref.number}")
        return events

    def _kind(self, number: str, series: Series | None = None) -> Kind[Any]:
        if series is not None:
            return KINDS[series]
        try:
            series = reference(number.strip().upper()).series
        except ValueError as e:
            raise RecordNotFound(str(e)) from None
        if series not in KINDS:
            raise RecordNotFound(f"{number} is a ticket number: use `ledger ticket`")
        return KINDS[series]


def _contract_of(given: str | None, ticket: tk.Ticket | None) -> str | None:
    """The contract a command names, defaulting to its ticket's; the two must agree."""
    if ticket is None or given is None:
        return given or (ticket.contract_id if ticket else None)
    if given != ticket.contract_id:
        raise CommandError(
            [f"contract: ticket {ticket.number} is of contract {ticket.contract_id}, not {given}"]
        )
    return given
