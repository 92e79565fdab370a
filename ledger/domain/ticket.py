"""The Ticket aggregate (服务单): its events, its state, and the rules that guard it.

Commands are plain functions ``decide_*(ticket, stamp, ...) -> event``: they check the
rules against the current state and return the one event that records the fact, or
raise :class:`RuleViolation` and record nothing. ``mutate`` folds events into state.

Over 500 lines: one aggregate's events, state, rules and ``mutate``, read together; the
split by concept (events apart from decisions) is still to be done (issue 14).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import singledispatch
from typing import Annotated
from uuid import UUID

from pydantic import Field

from ledger.domain.errors import RuleViolation
from ledger.domain.model import CLOCK_SKEW as CLOCK_SKEW
from ledger.domain.model import (
    Aggregate,
    DomainEvent,
    Immutable,
    ShortText,
    Stamp,
    Text,
    UtcDatetime,
    fold,
    recorded_events,
    require_role,
)
from ledger.domain.model import check_times as _check_times
from ledger.domain.model import evolve as _evolve
from ledger.domain.model import next_event as _next
from ledger.domain.values import (
    Category,
    Channel,
    EscalationLevel,
    ResolutionMode,
    Role,
    Severity,
    SignatureKind,
    TicketStatus,
)

Phone = Annotated[str, Field(min_length=3, max_length=40, pattern=r"^[0-9+()\- ]+$")]


class Contact(Immutable):
    name: ShortText
    phone: Phone


class Signature(Immutable):
    kind: SignatureKind
    signer: ShortText
    signed_at: UtcDatetime


class Suspension(Immutable):
    """A Suspended → Resumed interval; ``end`` is None while the ticket stays suspended."""

    start: UtcDatetime
    end: UtcDatetime | None = None


Fee = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
"""A service fee in yuan (元), at most two decimals."""


class ContactSheet(Immutable):
    """The work contact sheet (工作联系单) of an out-of-contract ticket, its fee confirmed."""

    sheet: str
    fee: Decimal
    confirmed_by: str
    recorded_at: UtcDatetime


class ReplacementUnit(Immutable):
    unit: ShortText
    provided_at: UtcDatetime
    note: str | None = None


# --------------------------------------------------------------------------- events


class TicketEvent(DomainEvent):
    """Base of every Ticket event."""

    abstract = True


class Reported(TicketEvent):
    number: ShortText
    contract_id: ShortText
    customer: ShortText
    contact: Contact
    site: ShortText
    device: ShortText
    category: Category
    severity: Severity
    description: Text
    channel: Channel
    external_ref: ShortText | None = None


class Responded(TicketEvent):
    note: Text | None = None


class Dispatched(TicketEvent):
    engineer: ShortText
    note: Text | None = None


class Arrived(TicketEvent):
    engineer: ShortText


class Resolved(TicketEvent):
    summary: Text
    mode: ResolutionMode


class CustomerSigned(TicketEvent):
    kind: SignatureKind
    signer: ShortText


class Escalated(TicketEvent):
    from_level: EscalationLevel
    to_level: EscalationLevel
    reason: Text


class Suspended(TicketEvent):
    reason: Text


class Resumed(TicketEvent):
    reason: Text | None = None


class ReplacementProvided(TicketEvent):
    unit: ShortText
    note: Text | None = None


class Reclassified(TicketEvent):
    severity: Severity
    category: Category
    previous_severity: Severity
    previous_category: Category
    reason: Text


class Closed(TicketEvent):
    note: Text | None = None


class Reopened(TicketEvent):
    reason: Text
    cause: ShortText | None = None
    """The record that sent the ticket back, e.g. the return visit whose audit failed."""


class Cancelled(TicketEvent):
    reason: Text


class NoticeIssued(TicketEvent):
    """Seed 003: a work order still unclosed this long after its report gets a notice."""

    abstract = True

    threshold: ShortText
    """The contract's threshold that was passed, e.g. ``"7 days"``."""


class InspectionNoticeIssued(NoticeIssued):
    """检查单: the first notice (seed 003: unclosed for a week)."""


class RectificationNoticeIssued(NoticeIssued):
    """整改通知单: the second notice (seed 003: unclosed for two weeks)."""


class ReplacementFlagged(TicketEvent):
    """A replacement unit is now owed: the ticket was not fixed by the contract's time."""

    target: ShortText
    due_at: UtcDatetime


class OutOfContractNoted(TicketEvent):
    """The ticket was reported outside its contract's coverage: before the warranty (or
    maintenance) period of the policy in force began, or after its last day. Recorded with
    the report, under the reporter's stamp. Seed 003: such a request is served only after a
    work contact sheet (工作联系单) with the fee confirmed; its clocks count in no SLA figure."""

    reported_on: date
    """The report's local date, in the contract's zone."""
    warranty_start: date
    warranty_end: date
    """The last covered day."""


class WorkContactSheetRecorded(TicketEvent):
    """工作联系单: the out-of-contract service confirmed, with its fee (seed 003: "超出服务
    范围或失效的，需开具《工作联系单》进行派工确认并进行相应的费用结算，确认服务费用之后方可
    正常派工")."""

    sheet: ShortText
    """The sheet's number or reference."""
    fee: Fee
    confirmed_by: ShortText
    """Who confirmed the fee for the customer."""
    note: Text | None = None


TICKET_EVENT_TYPES: tuple[type[TicketEvent], ...] = recorded_events(TicketEvent)
"""Every recorded event of TicketEvent: the classes register themselves."""


# --------------------------------------------------------------------------- state


class Ticket(Aggregate):
    number: str
    contract_id: str
    customer: str
    contact: Contact
    site: str
    device: str
    category: Category
    severity: Severity
    description: str
    channel: Channel
    external_ref: str | None
    status: TicketStatus
    reported_at: datetime
    responded_at: datetime | None = None
    engineer: str | None = None
    dispatched_at: datetime | None = None
    first_arrived_at: datetime | None = None
    arrived_at: datetime | None = None
    on_site: bool = False
    resolved_at: datetime | None = None
    first_resolved_at: datetime | None = None
    resolution: str | None = None
    resolution_mode: ResolutionMode | None = None
    signature: Signature | None = None
    escalation_level: EscalationLevel = EscalationLevel.ENGINEER
    suspended_at: datetime | None = None
    suspensions: tuple[Suspension, ...] = ()
    replacements: tuple[ReplacementUnit, ...] = ()
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    reopen_count: int = 0
    inspection_notice_at: datetime | None = None
    rectification_notice_at: datetime | None = None
    replacement_flagged_at: datetime | None = None
    out_of_contract: bool = False
    contact_sheet: ContactSheet | None = None

    @property
    def is_open(self) -> bool:
        return self.status not in (TicketStatus.CLOSED, TicketStatus.CANCELLED)

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


# --------------------------------------------------------------------------- decisions


def _require_active(ticket: Ticket, action: str, *, allow_suspended: bool = False) -> None:
    """Common guard: nothing happens on a cancelled or closed ticket, little on a paused one."""
    if ticket.status is TicketStatus.CANCELLED:
        raise RuleViolation(f"ticket {ticket.number} is cancelled: cannot {action}")
    if ticket.status is TicketStatus.CLOSED:
        raise RuleViolation(f"ticket {ticket.number} is closed: cannot {action} (reopen it first)")
    if ticket.is_suspended and not allow_suspended:
        raise RuleViolation(f"ticket {ticket.number} is suspended: resume it before you {action}")


def _person(name: str) -> str:
    """A person's name as compared between records: spaces collapsed, case folded."""
    return " ".join(name.split()).casefold()


def _require_own_engineer(ticket: Ticket, stamp: Stamp, action: str) -> None:
    """An engineer works only the ticket dispatched to them: once a ticket has an engineer,
    a command in the ``engineer`` role must come from that engineer. Another engineer is
    refused (re-dispatch the ticket to them first); the desk may still record the step on the
    engineer's behalf (the audit lists an arrival or a fix recorded that way). Before any
    dispatch there is no engineer to be, and any engineer may act (respond, fix remotely)."""
    if stamp.role is not Role.ENGINEER or ticket.engineer is None:
        return
    if _person(stamp.actor) != _person(ticket.engineer):
        raise RuleViolation(
            f"ticket {ticket.number} is dispatched to {ticket.engineer}: engineer {stamp.actor} "
            f"may not {action} on it (re-dispatch it to {stamp.actor} first, or the desk records "
            f"it on {ticket.engineer}'s behalf)"
        )


def decide_report(
    ticket_id: UUID,
    number: str,
    stamp: Stamp,
    *,
    contract_id: str,
    customer: str,
    contact: Contact,
    site: str,
    device: str,
    category: Category,
    severity: Severity,
    description: str,
    channel: Channel,
    external_ref: str | None = None,
) -> Reported:
    _check_times(stamp)
    return Reported(
        originator_id=ticket_id,
        originator_version=1,
        timestamp=stamp.recorded_at,
        occurred_at=stamp.occurred_at,
        actor=stamp.actor,
        role=stamp.role,
        number=number,
        contract_id=contract_id,
        customer=customer,
        contact=contact,
        site=site,
        device=device,
        category=category,
        severity=severity,
        description=description,
        channel=channel,
        external_ref=external_ref,
    )


def decide_coverage(
    ticket: Ticket,
    stamp: Stamp,
    *,
    reported_on: date,
    warranty_start: date,
    warranty_end: date,
) -> OutOfContractNoted | None:
    """Whether the just reported ``ticket`` is within its contract's coverage: ``None`` when
    ``reported_on`` (the report's local date) falls in ``warranty_start`` .. ``warranty_end``
    (the last covered day, both inclusive), else the event that records it is not."""
    if warranty_start <= reported_on <= warranty_end:
        return None
    return _next(
        OutOfContractNoted,
        ticket,
        stamp,
        reported_on=reported_on,
        warranty_start=warranty_start,
        warranty_end=warranty_end,
    )


def decide_contact_sheet(
    ticket: Ticket,
    stamp: Stamp,
    sheet: str,
    fee: Decimal,
    confirmed_by: str,
    note: str | None = None,
) -> WorkContactSheetRecorded:
    _require_active(ticket, "record a work contact sheet")
    if not ticket.out_of_contract:
        raise RuleViolation(
            f"ticket {ticket.number} is within its contract's coverage: "
            "it needs no work contact sheet"
        )
    if ticket.contact_sheet is not None:
        raise RuleViolation(
            f"ticket {ticket.number} already has its work contact sheet "
            f"({ticket.contact_sheet.sheet})"
        )
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(
        WorkContactSheetRecorded,
        ticket,
        stamp,
        sheet=sheet,
        fee=fee,
        confirmed_by=confirmed_by,
        note=note,
    )


def decide_respond(ticket: Ticket, stamp: Stamp, note: str | None = None) -> Responded:
    _require_active(ticket, "respond")
    _require_own_engineer(ticket, stamp, "respond")
    if ticket.responded_at is not None:
        raise RuleViolation(
            f"ticket {ticket.number} was already responded to at ", ticket.responded_at
        )
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(Responded, ticket, stamp, note=note)


def decide_dispatch(
    ticket: Ticket, stamp: Stamp, engineer: str, note: str | None = None
) -> Dispatched:
    _require_active(ticket, "dispatch")
    if ticket.status is TicketStatus.RESOLVED:
        raise RuleViolation(
            f"ticket {ticket.number} is resolved: reopen it before dispatching again"
        )
    if ticket.out_of_contract and ticket.contact_sheet is None:
        raise RuleViolation(
            f"ticket {ticket.number} is out of contract: record its work contact sheet "
            "(工作联系单) with the fee confirmed before dispatching it"
        )
    if ticket.status is TicketStatus.DISPATCHED and ticket.engineer == engineer.strip():
        raise RuleViolation(f"ticket {ticket.number} is already dispatched to {engineer}")
    if ticket.dispatched_at is not None:
        _check_times(stamp, ticket.dispatched_at, "the previous dispatch")
    else:
        _check_times(stamp, ticket.reported_at, "the report")
    return _next(Dispatched, ticket, stamp, engineer=engineer, note=note)


def decide_arrive(ticket: Ticket, stamp: Stamp, engineer: str | None = None) -> Arrived:
    _require_active(ticket, "record an arrival")
    if ticket.engineer is None or ticket.dispatched_at is None:
        raise RuleViolation(f"ticket {ticket.number} has not been dispatched: no arrival before it")
    if ticket.status is TicketStatus.RESOLVED:
        raise RuleViolation(f"ticket {ticket.number} is already resolved")
    if ticket.on_site:
        raise RuleViolation(f"{ticket.engineer} is already on site for ticket {ticket.number}")
    _require_own_engineer(ticket, stamp, "record an arrival")
    who = (engineer or ticket.engineer).strip()
    if who != ticket.engineer:
        raise RuleViolation(
            f"ticket {ticket.number} is dispatched to {ticket.engineer}, not {who}: "
            "re-dispatch it first"
        )
    _check_times(stamp, ticket.dispatched_at, "the dispatch")
    return _next(Arrived, ticket, stamp, engineer=who)


def decide_resolve(ticket: Ticket, stamp: Stamp, summary: str, mode: ResolutionMode) -> Resolved:
    _require_active(ticket, "resolve")
    _require_own_engineer(ticket, stamp, "resolve it")
    if ticket.is_resolved:
        raise RuleViolation(f"ticket {ticket.number} is already resolved")
    if mode is ResolutionMode.ON_SITE:
        if not ticket.on_site or ticket.arrived_at is None:
            raise RuleViolation(
                f"ticket {ticket.number}: an on-site resolution needs the engineer's arrival first"
            )
        _check_times(stamp, ticket.arrived_at, "the arrival")
    else:
        _check_times(stamp, ticket.reported_at, "the report")
    return _next(Resolved, ticket, stamp, summary=summary, mode=mode)


def decide_sign(
    ticket: Ticket, stamp: Stamp, signer: str, kind: SignatureKind = SignatureKind.CUSTOMER
) -> CustomerSigned:
    _require_active(ticket, "sign the service form")
    _require_own_engineer(ticket, stamp, "record the signed service form")
    if ticket.resolved_at is None:
        raise RuleViolation(f"ticket {ticket.number} is not resolved: nothing to sign yet")
    if ticket.signature is not None:
        raise RuleViolation(
            f"ticket {ticket.number}'s service form is already signed by {ticket.signature.signer}"
        )
    _check_times(stamp, ticket.resolved_at, "the resolution")
    return _next(CustomerSigned, ticket, stamp, signer=signer, kind=kind)


def decide_escalate(
    ticket: Ticket, stamp: Stamp, to_level: EscalationLevel, reason: str
) -> Escalated:
    _require_active(ticket, "escalate", allow_suspended=True)
    _require_own_engineer(ticket, stamp, "escalate it")
    if to_level.rank <= ticket.escalation_level.rank:
        raise RuleViolation(
            f"ticket {ticket.number} is already at {ticket.escalation_level.value}: "
            f"escalation must go up the ladder, not to {to_level.value}"
        )
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(
        Escalated,
        ticket,
        stamp,
        from_level=ticket.escalation_level,
        to_level=to_level,
        reason=reason,
    )


def decide_suspend(ticket: Ticket, stamp: Stamp, reason: str) -> Suspended:
    _require_active(ticket, "suspend")
    _require_own_engineer(ticket, stamp, "suspend it")
    if ticket.is_resolved:
        raise RuleViolation(f"ticket {ticket.number} is resolved: there is no clock to pause")
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(Suspended, ticket, stamp, reason=reason)


def decide_resume(ticket: Ticket, stamp: Stamp, reason: str | None = None) -> Resumed:
    _require_active(ticket, "resume", allow_suspended=True)
    _require_own_engineer(ticket, stamp, "resume it")
    if ticket.suspended_at is None:
        raise RuleViolation(f"ticket {ticket.number} is not suspended")
    _check_times(stamp, ticket.suspended_at, "the suspension")
    return _next(Resumed, ticket, stamp, reason=reason)


def decide_replace(
    ticket: Ticket, stamp: Stamp, unit: str, note: str | None = None
) -> ReplacementProvided:
    _require_active(ticket, "provide a replacement unit", allow_suspended=True)
    _require_own_engineer(ticket, stamp, "provide a replacement unit")
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(ReplacementProvided, ticket, stamp, unit=unit, note=note)


def decide_reclassify(
    ticket: Ticket,
    stamp: Stamp,
    reason: str,
    severity: Severity | None = None,
    category: Category | None = None,
) -> Reclassified:
    _require_active(ticket, "reclassify", allow_suspended=True)
    _require_own_engineer(ticket, stamp, "reclassify it")
    new_severity = Severity(severity or ticket.severity)
    new_category = Category(category or ticket.category)
    if new_severity == ticket.severity and new_category == ticket.category:
        raise RuleViolation(
            f"ticket {ticket.number} is already {ticket.severity.value}/{ticket.category.value}: "
            "nothing to reclassify"
        )
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(
        Reclassified,
        ticket,
        stamp,
        severity=new_severity,
        category=new_category,
        previous_severity=ticket.severity,
        previous_category=ticket.category,
        reason=reason,
    )


def decide_close(ticket: Ticket, stamp: Stamp, note: str | None = None) -> Closed:
    _require_active(ticket, "close")
    _require_own_engineer(ticket, stamp, "close it")
    if ticket.resolved_at is None:
        raise RuleViolation(f"ticket {ticket.number} cannot be closed: it is not resolved")
    if ticket.signature is None:
        raise RuleViolation(
            f"ticket {ticket.number} cannot be closed: the service form has no customer "
            "signature (or manager approval, or faxed signed copy)"
        )
    _check_times(stamp, ticket.signature.signed_at, "the signature")
    return _next(Closed, ticket, stamp, note=note)


def decide_reopen(ticket: Ticket, stamp: Stamp, reason: str, cause: str | None = None) -> Reopened:
    if ticket.status is TicketStatus.CANCELLED:
        raise RuleViolation(f"ticket {ticket.number} is cancelled: cannot reopen")
    if ticket.resolved_at is None:
        raise RuleViolation(
            f"ticket {ticket.number} is not resolved or closed: there is nothing to reopen"
        )
    if ticket.closed_at is not None:
        _check_times(stamp, ticket.closed_at, "the closing")
    else:
        _check_times(stamp, ticket.resolved_at, "the resolution")
    return _next(Reopened, ticket, stamp, reason=reason, cause=cause)


def decide_cancel(ticket: Ticket, stamp: Stamp, reason: str) -> Cancelled:
    _require_active(ticket, "cancel", allow_suspended=True)
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(Cancelled, ticket, stamp, reason=reason)


SUPERVISORS = (Role.SYSTEM, Role.QUALITY, Role.CHIEF_ENGINEER_OFFICE)
"""Who issues notices and flags: the sweep, the quality department, 总工办."""


def decide_inspection_notice(
    ticket: Ticket, stamp: Stamp, threshold: str
) -> InspectionNoticeIssued:
    require_role(stamp, SUPERVISORS, "issue an inspection notice")
    _require_active(ticket, "issue an inspection notice", allow_suspended=True)
    if ticket.inspection_notice_at is not None:
        raise RuleViolation(f"ticket {ticket.number} already has an inspection notice")
    _check_times(stamp, ticket.reported_at, "the report")
    return _next(InspectionNoticeIssued, ticket, stamp, threshold=threshold)


def decide_rectification_notice(
    ticket: Ticket, stamp: Stamp, threshold: str
) -> RectificationNoticeIssued:
    require_role(stamp, SUPERVISORS, "issue a rectification notice")
    _require_active(ticket, "issue a rectification notice", allow_suspended=True)
    if ticket.inspection_notice_at is None:
        raise RuleViolation(
            f"ticket {ticket.number} has no inspection notice yet: "
            "a rectification notice follows one"
        )
    if ticket.rectification_notice_at is not None:
        raise RuleViolation(f"ticket {ticket.number} already has a rectification notice")
    _check_times(stamp, ticket.inspection_notice_at, "the inspection notice")
    return _next(RectificationNoticeIssued, ticket, stamp, threshold=threshold)


def decide_flag_replacement(
    ticket: Ticket, stamp: Stamp, target: str, due_at: datetime
) -> ReplacementFlagged:
    require_role(stamp, SUPERVISORS, "flag a replacement unit as due")
    _require_active(ticket, "flag a replacement unit as due", allow_suspended=True)
    if ticket.resolved_at is not None:
        raise RuleViolation(f"ticket {ticket.number} is resolved: no replacement unit is owed")
    if ticket.replacements:
        raise RuleViolation(f"ticket {ticket.number} already has a replacement unit")
    if ticket.replacement_flagged_at is not None:
        raise RuleViolation(f"ticket {ticket.number} is already flagged for a replacement unit")
    _check_times(stamp, due_at, "the replacement's due time")
    return _next(ReplacementFlagged, ticket, stamp, target=target, due_at=due_at)


# --------------------------------------------------------------------------- evolution


@singledispatch
def mutate(event: TicketEvent, ticket: Ticket | None) -> Ticket:
    raise TypeError(f"no mutator for {type(event).__name__}")


@mutate.register
def _(event: Reported, _: Ticket | None) -> Ticket:
    return Ticket.started_by(
        event,
        status=TicketStatus.REPORTED,
        reported_at=event.occurred_at,
    )


@mutate.register
def _(event: Responded, ticket: Ticket | None) -> Ticket:
    assert ticket is not None
    status = TicketStatus.RESPONDED if ticket.status is TicketStatus.REPORTED else ticket.status
    return _evolve(ticket, event, responded_at=event.occurred_at, status=status)


@mutate.register
def _(event: Dispatched, ticket: Ticket | None) -> Ticket:
    return _evolve(
        ticket,
        event,
        engineer=event.engineer,
        dispatched_at=event.occurred_at,
        on_site=False,
        status=TicketStatus.DISPATCHED,
    )


@mutate.register
def _(event: Arrived, ticket: Ticket | None) -> Ticket:
    assert ticket is not None
    return _evolve(
        ticket,
        event,
        on_site=True,
        arrived_at=event.occurred_at,
        first_arrived_at=ticket.first_arrived_at or event.occurred_at,
        status=TicketStatus.ON_SITE,
    )


@mutate.register
def _(event: Resolved, ticket: Ticket | None) -> Ticket:
    assert ticket is not None
    return _evolve(
        ticket,
        event,
        resolved_at=event.occurred_at,
        first_resolved_at=ticket.first_resolved_at or event.occurred_at,
        resolution=event.summary,
        resolution_mode=event.mode,
        status=TicketStatus.RESOLVED,
    )


@mutate.register
def _(event: CustomerSigned, ticket: Ticket | None) -> Ticket:
    signature = Signature(kind=event.kind, signer=event.signer, signed_at=event.occurred_at)
    return _evolve(ticket, event, signature=signature)


@mutate.register
def _(event: Escalated, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, escalation_level=event.to_level)


@mutate.register
def _(event: Suspended, ticket: Ticket | None) -> Ticket:
    assert ticket is not None
    return _evolve(
        ticket,
        event,
        suspended_at=event.occurred_at,
        suspensions=(*ticket.suspensions, Suspension(start=event.occurred_at)),
    )


@mutate.register
def _(event: Resumed, ticket: Ticket | None) -> Ticket:
    assert ticket is not None
    return _evolve(ticket, event, suspended_at=None, suspensions=_ended(ticket, event))


@mutate.register
def _(event: ReplacementProvided, ticket: Ticket | None) -> Ticket:
    assert ticket is not None
    unit = ReplacementUnit(unit=event.unit, provided_at=event.occurred_at, note=event.note)
    return _evolve(ticket, event, replacements=(*ticket.replacements, unit))


@mutate.register
def _(event: Reclassified, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, severity=event.severity, category=event.category)


@mutate.register
def _(event: Closed, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, closed_at=event.occurred_at, status=TicketStatus.CLOSED)


@mutate.register
def _(event: Reopened, ticket: Ticket | None) -> Ticket:
    assert ticket is not None
    return _evolve(
        ticket,
        event,
        status=TicketStatus.REOPENED,
        resolved_at=None,
        resolution=None,
        resolution_mode=None,
        signature=None,
        closed_at=None,
        on_site=False,
        reopen_count=ticket.reopen_count + 1,
    )


@mutate.register
def _(event: Cancelled, ticket: Ticket | None) -> Ticket:
    return _evolve(
        ticket,
        event,
        cancelled_at=event.occurred_at,
        suspended_at=None,
        suspensions=_ended(ticket, event),
        status=TicketStatus.CANCELLED,
    )


@mutate.register
def _(event: InspectionNoticeIssued, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, inspection_notice_at=event.occurred_at)


@mutate.register
def _(event: RectificationNoticeIssued, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, rectification_notice_at=event.occurred_at)


@mutate.register
def _(event: ReplacementFlagged, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, replacement_flagged_at=event.occurred_at)


@mutate.register
def _(event: OutOfContractNoted, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, out_of_contract=True)


@mutate.register
def _(event: WorkContactSheetRecorded, ticket: Ticket | None) -> Ticket:
    sheet = ContactSheet(
        sheet=event.sheet,
        fee=event.fee,
        confirmed_by=event.confirmed_by,
        recorded_at=event.occurred_at,
    )
    return _evolve(ticket, event, contact_sheet=sheet)


def _ended(ticket: Ticket | None, event: TicketEvent) -> tuple[Suspension, ...]:
    """The suspensions with the open one (if any) ended at ``event``."""
    assert ticket is not None
    if not ticket.suspensions or ticket.suspensions[-1].end is not None:
        return ticket.suspensions
    last = ticket.suspensions[-1].model_copy(update={"end": event.occurred_at})
    return (*ticket.suspensions[:-1], last)


def project_ticket(ticket: Ticket | None, events: object) -> Ticket | None:
    """Projector function for the library's ``Repository.get(projector_func=...)``."""
    return fold(mutate, ticket, events, TicketEvent)
