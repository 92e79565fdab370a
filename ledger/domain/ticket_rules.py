"""The Ticket's rules: each ``decide_*(ticket, stamp, ...)`` checks the rules against the
current state and returns the one event that records the fact, or raises
:class:`RuleViolation` and records nothing (the events, state and ``mutate`` are in
:mod:`ledger.domain.ticket`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from ledger.domain import evidence
from ledger.domain.errors import RuleViolation
from ledger.domain.model import (
    Stamp,
    require_role,
)
from ledger.domain.model import check_times as _check_times
from ledger.domain.model import next_event as _next
from ledger.domain.ticket import (
    SUPERVISORS,
    Arrived,
    AtRiskWarned,
    Cancelled,
    Closed,
    Contact,
    CustomerSigned,
    Dispatched,
    Escalated,
    EvidenceAttached,
    Geolocation,
    InspectionNoticeIssued,
    OutOfContractNoted,
    Reclassified,
    RectificationNoticeIssued,
    Reopened,
    ReplacementFlagged,
    ReplacementProvided,
    Reported,
    Resolved,
    Responded,
    Resumed,
    Suspended,
    Ticket,
    WorkContactSheetRecorded,
    at_risk_key,
)
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


def decide_attach(ticket: Ticket, stamp: Stamp, facts: evidence.EvidenceFacts) -> EvidenceAttached:
    """A file attached to the ticket. On a ticket in any state (a faxed signed copy may
    come back after the ticket was closed); the ticket's own engineer only, once it is
    dispatched; not before the report."""
    _require_own_engineer(ticket, stamp, "attach a file")
    return evidence.decide_attach(
        EvidenceAttached,
        ticket,
        f"ticket {ticket.number}",
        ticket.evidence,
        stamp,
        facts,
        not_before=ticket.reported_at,
        since="the report",
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


def decide_arrive(
    ticket: Ticket,
    stamp: Stamp,
    engineer: str | None = None,
    location: Geolocation | None = None,
) -> Arrived:
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
    if ticket.set_off_at is not None:
        _check_times(stamp, ticket.set_off_at, "setting off")
    else:
        _check_times(stamp, ticket.dispatched_at, "the dispatch")
    return _next(Arrived, ticket, stamp, engineer=who, location=location)


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
    ticket: Ticket,
    stamp: Stamp,
    signer: str,
    kind: SignatureKind = SignatureKind.CUSTOMER,
    evidence_sha256: str | None = None,
) -> CustomerSigned:
    """``evidence_sha256``: the signature's image, a file already attached to the ticket as
    a signature (or the signed form, or its fax)."""
    _require_active(ticket, "sign the service form")
    _require_own_engineer(ticket, stamp, "record the signed service form")
    if ticket.resolved_at is None:
        raise RuleViolation(f"ticket {ticket.number} is not resolved: nothing to sign yet")
    if ticket.signature is not None:
        raise RuleViolation(
            f"ticket {ticket.number}'s service form is already signed by {ticket.signature.signer}"
        )
    if evidence_sha256 is not None:
        evidence.require_signature_file(ticket.evidence, evidence_sha256, f"ticket {ticket.number}")
    _check_times(stamp, ticket.resolved_at, "the resolution")
    return _next(
        CustomerSigned, ticket, stamp, signer=signer, kind=kind, evidence_sha256=evidence_sha256
    )


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


def decide_warn_at_risk(
    ticket: Ticket,
    stamp: Stamp,
    *,
    metric: str,
    target: str,
    threshold: int,
    used_percent: int,
    due_at: datetime,
    left_minutes: int,
) -> AtRiskWarned:
    """临近超时: once per target and threshold, only by the system (the sweep)."""
    require_role(stamp, (Role.SYSTEM,), "warn that a target is at risk")
    _require_active(ticket, "warn that a target is at risk", allow_suspended=True)
    if at_risk_key(metric, threshold) in ticket.at_risk_warned:
        raise RuleViolation(
            f"ticket {ticket.number} was already warned at {threshold}% of its {metric} time"
        )
    _check_times(stamp)
    return _next(
        AtRiskWarned,
        ticket,
        stamp,
        metric=metric,
        target=target,
        at_percent=threshold,
        used_percent=used_percent,
        due_at=due_at,
        left_minutes=left_minutes,
    )


require_active = _require_active
"""The common guard, for the rules of :mod:`ledger.domain.ticket_progress`."""
require_own_engineer = _require_own_engineer
