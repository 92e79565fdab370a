"""The rules of the progress facts that declared SLA metrics start and stop on: a diagnosis
report, a solution proposed, repair started, a temporary measure, the signed service form
filed, a change of the supplier's contact person (``ledger.domain.metrics``), and the
engineer setting off for the site (from the phone: issue 16), and the sweep's note that a
declared metric is overdue. Each
``decide_*`` returns the one event or raises :class:`RuleViolation`, like
:mod:`ledger.domain.ticket_rules`."""

from __future__ import annotations

from datetime import datetime

from ledger.domain import evidence
from ledger.domain.errors import RuleViolation
from ledger.domain.model import Stamp, require_role
from ledger.domain.model import check_times as _check_times
from ledger.domain.model import next_event as _next
from ledger.domain.ticket import (
    Contact,
    ContactChanged,
    CustomerReplied,
    DiagnosisReported,
    EngineerSetOff,
    Geolocation,
    MetricOverdueNoted,
    RepairStarted,
    ServiceFormFiled,
    SolutionProposed,
    TemporaryMeasureTaken,
    Ticket,
    WorkNoteAdded,
)
from ledger.domain.ticket_rules import require_active, require_on_the_way, require_own_engineer
from ledger.domain.values import Role, TicketStatus


def _require_unresolved(ticket: Ticket, action: str) -> None:
    if ticket.is_resolved:
        raise RuleViolation(
            f"ticket {ticket.number} is resolved: cannot {action} (reopen it first)"
        )


def decide_diagnose(ticket: Ticket, stamp: Stamp, report: str) -> DiagnosisReported:
    require_active(ticket, "report a diagnosis", allow_suspended=True)
    require_own_engineer(ticket, stamp, "report a diagnosis")
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(DiagnosisReported, ticket, stamp, report=report)


def decide_propose(ticket: Ticket, stamp: Stamp, solution: str) -> SolutionProposed:
    require_active(ticket, "propose a solution", allow_suspended=True)
    require_own_engineer(ticket, stamp, "propose a solution")
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(SolutionProposed, ticket, stamp, solution=solution)


def decide_start_repair(ticket: Ticket, stamp: Stamp, note: str | None = None) -> RepairStarted:
    require_active(ticket, "start the repair")
    require_own_engineer(ticket, stamp, "start the repair")
    _require_unresolved(ticket, "start the repair")
    if ticket.repair_started_at is not None and ticket.reopen_count == 0:
        raise RuleViolation(
            f"the repair of ticket {ticket.number} already started at ", ticket.repair_started_at
        )
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(RepairStarted, ticket, stamp, note=note)


def decide_temporary_measure(ticket: Ticket, stamp: Stamp, measure: str) -> TemporaryMeasureTaken:
    require_active(ticket, "record a temporary measure")
    require_own_engineer(ticket, stamp, "record a temporary measure")
    _require_unresolved(ticket, "record a temporary measure")
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(TemporaryMeasureTaken, ticket, stamp, measure=measure)


def decide_file_form(
    ticket: Ticket, stamp: Stamp, form: str, evidence_sha256: str | None = None
) -> ServiceFormFiled:
    """The signed form is filed after the signature, also once the ticket is closed;
    ``evidence_sha256`` names its scan, a file already attached to the ticket."""
    if ticket.status is TicketStatus.CANCELLED:
        raise RuleViolation(f"ticket {ticket.number} is cancelled: cannot file its service form")
    if ticket.signature is None:
        raise RuleViolation(
            f"ticket {ticket.number} has no customer signature: a service form without it "
            "is invalid (record `sign` first)"
        )
    if ticket.service_form is not None:
        raise RuleViolation(
            f"the service form of ticket {ticket.number} is already filed ({ticket.service_form})"
        )
    _check_times(stamp, ticket.signature.signed_at, "the customer's signature")
    if evidence_sha256 is not None:
        evidence.require_form_file(ticket.evidence, evidence_sha256, f"ticket {ticket.number}")
    return _next(ServiceFormFiled, ticket, stamp, form=form, evidence_sha256=evidence_sha256)


def decide_change_contact(
    ticket: Ticket,
    stamp: Stamp,
    contact: Contact,
    changed_at: datetime,
    note: str | None = None,
) -> ContactChanged:
    """The notice (``occurred_at``) comes at or after the change it notifies."""
    require_active(ticket, "notify a contact change", allow_suspended=True)
    if changed_at > stamp.occurred_at:
        raise RuleViolation(
            "the contact change (",
            changed_at,
            ") cannot come after its notice (",
            stamp.occurred_at,
            ")",
        )
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(ContactChanged, ticket, stamp, contact=contact, changed_at=changed_at, note=note)


def decide_set_off(
    ticket: Ticket,
    stamp: Stamp,
    engineer: str | None = None,
    location: Geolocation | None = None,
) -> EngineerSetOff:
    """在途: the dispatched engineer sets off for the site, once per dispatch, before the
    arrival."""
    who = require_on_the_way(ticket, stamp, engineer, "set off for it", "no one sets off")
    if ticket.set_off_at is not None:
        raise RuleViolation(
            f"{ticket.engineer} already set off for ticket {ticket.number} at ", ticket.set_off_at
        )
    _check_times(stamp, ticket.dispatched_at, "the dispatch")
    return _next(EngineerSetOff, ticket, stamp, engineer=who, location=location)


def decide_work_note(ticket: Ticket, stamp: Stamp, text: str) -> WorkNoteAdded:
    """A note may be added at any time, also to a closed or cancelled ticket (what was
    learnt afterwards), but not before the ticket was reported."""
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(WorkNoteAdded, ticket, stamp, text=text)


def decide_customer_reply(ticket: Ticket, stamp: Stamp, text: str) -> CustomerReplied:
    """A reply to the customer: any time after the report (after closing too: a question
    answered later)."""
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(CustomerReplied, ticket, stamp, text=text)


def decide_note_overdue(
    ticket: Ticket, stamp: Stamp, *, metric: str, target: str, due_at: datetime
) -> MetricOverdueNoted:
    """逾期: a declared metric past its due time, noted once, only by the system (the sweep)."""
    require_role(stamp, (Role.SYSTEM,), "note that a target is overdue")
    if ticket.status is TicketStatus.CANCELLED:  # a closed ticket may still owe a promise
        raise RuleViolation(f"ticket {ticket.number} is cancelled: cannot note a target overdue")
    if metric in ticket.overdue_noted:
        raise RuleViolation(f"ticket {ticket.number}: {metric} is already noted overdue")
    _check_times(stamp, due_at, "the due time")
    return _next(MetricOverdueNoted, ticket, stamp, metric=metric, target=target, due_at=due_at)
