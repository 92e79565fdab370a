"""The Complaint aggregate (投诉): seed 004's complaint handling.

A complaint is received (channel, customer, what it is about, its category), analysed
(cause, responsible department, whether the fault is ours), resolved (the handling and
the result reported to the customer) and closed, strictly in that order. A quality
complaint may raise corrective actions (``CorrectiveActionLinked``), at any time after it
is received, also after it is closed (the monthly review may raise one).

Commands are plain functions ``decide_*(complaint, stamp, ...) -> event`` in the style of
:mod:`ledger.domain.ticket`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import singledispatch
from uuid import UUID

from ledger.domain.errors import RuleViolation
from ledger.domain.model import (
    Aggregate,
    DomainEvent,
    ShortText,
    Stamp,
    Text,
    check_times,
    evolve,
    fold,
    next_event,
    recorded_events,
)
from ledger.domain.numbering import Reference, Series, new_link, reference_in
from ledger.domain.values import Channel

# --------------------------------------------------------------------------- vocabularies


class ComplaintSubject(StrEnum):
    """What the complaint is about; its ``reference`` names which one."""

    TICKET = "ticket"  # reference: the ticket number
    ENGINEER = "engineer"  # reference: the engineer's name
    PRODUCT = "product"  # reference: the product or device


class ComplaintCategory(StrEnum):
    """Seed 004's classification."""

    QUALITY = "quality"  # 质量异常
    NON_QUALITY = "non_quality"  # 非质量 (人为因素, human factor)
    OTHER = "other"  # 其他


class ComplaintStatus(StrEnum):
    RECEIVED = "received"
    ANALYSED = "analysed"
    RESOLVED = "resolved"
    CLOSED = "closed"


NEXT_STEP = {
    ComplaintStatus.RECEIVED: "analyse it",
    ComplaintStatus.ANALYSED: "resolve it",
    ComplaintStatus.RESOLVED: "close it",
}


# --------------------------------------------------------------------------- events


class ComplaintEvent(DomainEvent):
    """Base of every Complaint event."""

    abstract = True


class ComplaintReceived(ComplaintEvent):
    number: ShortText
    channel: Channel
    customer: ShortText
    contract_id: ShortText | None = None
    about: ComplaintSubject
    reference: ShortText
    ticket_id: UUID | None = None  # when about a ticket
    category: ComplaintCategory
    content: Text


class ComplaintAnalysed(ComplaintEvent):
    cause: Text
    department: ShortText  # responsible department
    ours: bool  # whether the cause lies with us


class ComplaintResolved(ComplaintEvent):
    handling: Text
    result: Text  # the result as reported to the customer


class ComplaintClosed(ComplaintEvent):
    note: Text | None = None


class CorrectiveActionLinked(ComplaintEvent):
    action_id: UUID
    action_number: ShortText


COMPLAINT_EVENT_TYPES: tuple[type[ComplaintEvent], ...] = recorded_events(ComplaintEvent)
"""Every recorded event of ComplaintEvent: the classes register themselves."""


# --------------------------------------------------------------------------- state


class Complaint(Aggregate):
    number: str
    channel: Channel
    customer: str
    contract_id: str | None
    about: ComplaintSubject
    reference: str
    ticket_id: UUID | None
    category: ComplaintCategory
    content: str
    status: ComplaintStatus
    received_at: datetime
    last_step_at: datetime
    cause: str | None = None
    department: str | None = None
    ours: bool | None = None
    analysed_at: datetime | None = None
    handling: str | None = None
    result: str | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    corrective_actions: tuple[Reference, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status is not ComplaintStatus.CLOSED


# --------------------------------------------------------------------------- decisions


def _require_status(complaint: Complaint, doing: str, status: ComplaintStatus) -> None:
    if complaint.status is status:
        return
    if complaint.status is ComplaintStatus.CLOSED:
        raise RuleViolation(f"complaint {complaint.number} is closed: cannot {doing}")
    raise RuleViolation(
        f"complaint {complaint.number} is {complaint.status.value}: cannot {doing} "
        f"(next: {NEXT_STEP[complaint.status]})"
    )


def decide_receive(
    number: str,
    stamp: Stamp,
    *,
    channel: Channel,
    customer: str,
    about: ComplaintSubject,
    reference: str,
    category: ComplaintCategory,
    content: str,
    contract_id: str | None = None,
) -> ComplaintReceived:
    """A new complaint, id derived from its number. About a ticket, ``reference`` is the
    ticket's number."""
    ticket_id = None
    if about is ComplaintSubject.TICKET:
        ticket_id = reference_in(Series.TICKET, reference.strip()).id
    check_times(stamp)
    return ComplaintReceived(
        **stamp.envelope(Series.COMPLAINT.id_for(number), 1),
        number=number,
        channel=channel,
        customer=customer,
        contract_id=contract_id,
        about=about,
        reference=reference,
        ticket_id=ticket_id,
        category=category,
        content=content,
    )


def decide_analyse(
    complaint: Complaint, stamp: Stamp, *, cause: str, department: str, ours: bool
) -> ComplaintAnalysed:
    _require_status(complaint, "analyse it", ComplaintStatus.RECEIVED)
    check_times(stamp, complaint.last_step_at, "its receipt")
    return next_event(
        ComplaintAnalysed, complaint, stamp, cause=cause, department=department, ours=ours
    )


def decide_resolve(
    complaint: Complaint, stamp: Stamp, *, handling: str, result: str
) -> ComplaintResolved:
    _require_status(complaint, "resolve it", ComplaintStatus.ANALYSED)
    check_times(stamp, complaint.last_step_at, "the analysis")
    return next_event(ComplaintResolved, complaint, stamp, handling=handling, result=result)


def decide_close(complaint: Complaint, stamp: Stamp, note: str | None = None) -> ComplaintClosed:
    _require_status(complaint, "close it", ComplaintStatus.RESOLVED)
    check_times(stamp, complaint.last_step_at, "the resolution")
    return next_event(ComplaintClosed, complaint, stamp, note=note)


def decide_link_action(
    complaint: Complaint, stamp: Stamp, action_number: str
) -> CorrectiveActionLinked:
    """The complaint raised corrective action ``action_number`` (also once closed)."""
    holder = f"complaint {complaint.number}"
    action = new_link(Series.CORRECTIVE_ACTION, action_number, complaint.corrective_actions, holder)
    check_times(stamp, complaint.received_at, "its receipt")
    return next_event(
        CorrectiveActionLinked, complaint, stamp, action_id=action.id, action_number=action.number
    )


# --------------------------------------------------------------------------- evolution


@singledispatch
def mutate(event: ComplaintEvent, complaint: Complaint | None) -> Complaint:
    raise TypeError(f"no mutator for {type(event).__name__}")


@mutate.register
def _(event: ComplaintReceived, _: Complaint | None) -> Complaint:
    return Complaint.started_by(
        event,
        status=ComplaintStatus.RECEIVED,
        received_at=event.occurred_at,
        last_step_at=event.occurred_at,
    )


@mutate.register
def _(event: ComplaintAnalysed, complaint: Complaint | None) -> Complaint:
    return evolve(
        complaint,
        event,
        status=ComplaintStatus.ANALYSED,
        last_step_at=event.occurred_at,
        cause=event.cause,
        department=event.department,
        ours=event.ours,
        analysed_at=event.occurred_at,
    )


@mutate.register
def _(event: ComplaintResolved, complaint: Complaint | None) -> Complaint:
    return evolve(
        complaint,
        event,
        status=ComplaintStatus.RESOLVED,
        last_step_at=event.occurred_at,
        handling=event.handling,
        result=event.result,
        resolved_at=event.occurred_at,
    )


@mutate.register
def _(event: ComplaintClosed, complaint: Complaint | None) -> Complaint:
    return evolve(
        complaint,
        event,
        status=ComplaintStatus.CLOSED,
        last_step_at=event.occurred_at,
        closed_at=event.occurred_at,
    )


@mutate.register
def _(event: CorrectiveActionLinked, complaint: Complaint | None) -> Complaint:
    assert complaint is not None
    action = Reference(
        series=Series.CORRECTIVE_ACTION, number=event.action_number, id=event.action_id
    )
    return evolve(complaint, event, corrective_actions=(*complaint.corrective_actions, action))


def project_complaint(complaint: Complaint | None, events: object) -> Complaint | None:
    """Projector function for the library's ``Repository.get(projector_func=...)``."""
    return fold(mutate, complaint, events, ComplaintEvent)
