"""What an auditor looks for in a ticket's history. Pure: events in, findings out.

The rules (docs/integrity.md, "Replay for auditors"):

* **Back-dated events.** An event that occurred more than the contract's threshold
  (``[audit] backdating_minutes``, default 30) before it was recorded. Telling an earlier
  time is allowed — a call is logged after the fact — and the ledger keeps both times; the
  auditor wants to see where the told time carries weight.
* **Targets met only thanks to back-dating.** Each promised target is judged twice with
  ``judge_ticket``: on the events as told, and on a copy where every back-dated event whose
  earlier time can only help (:data:`EARLIER_HELPS`) takes its recorded time instead. A
  target met as told but breached (or overdue) on the copy stands out.
* **Closings without a valid signature** (:func:`signature_problem`).
* **Roles outside the norm**: an event recorded by a role its type does not expect
  (:data:`NORMAL_ROLES`).
* **Reopenings**, with their reason and cause.
* **Recorded time going backwards**: an event recorded before the event it follows (the
  ticket's previous version, or its predecessor in the chain when that is given). The
  ledger refuses to write one; one found was written behind its back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import takewhile
from typing import TypeVar

from ledger.domain.calendar import WorkCalendar
from ledger.domain.compliance import Judgement, judge_ticket
from ledger.domain.contract import AuditRules, Contract, Policy, policy_for_ticket
from ledger.domain.model import DomainEvent
from ledger.domain.sla import SlaStatus
from ledger.domain.ticket import (
    SUPERVISORS,
    Arrived,
    AtRiskWarned,
    Cancelled,
    Closed,
    ContactChanged,
    CustomerReplied,
    CustomerSigned,
    DiagnosisReported,
    Dispatched,
    EngineerSetOff,
    Escalated,
    EvidenceAttached,
    InspectionNoticeIssued,
    MetricOverdueNoted,
    OutOfContractNoted,
    Reclassified,
    RectificationNoticeIssued,
    Reopened,
    RepairStarted,
    ReplacementFlagged,
    ReplacementProvided,
    Reported,
    Resolved,
    Responded,
    Resumed,
    ServiceFormFiled,
    SolutionProposed,
    Suspended,
    TemporaryMeasureTaken,
    Ticket,
    TicketEvent,
    WorkContactSheetRecorded,
    WorkNoteAdded,
    mutate,
    project_ticket,
)
from ledger.domain.values import Role, SignatureKind

E = TypeVar("E", bound=DomainEvent)

# --------------------------------------------------------------------------- back-dating


def backdating_threshold(policy: Policy | None) -> timedelta:
    """The policy's back-dating threshold; the default for a ticket of an unknown contract."""
    rules = AuditRules() if policy is None else policy.audit
    return timedelta(minutes=rules.backdating_minutes)


def lag(event: DomainEvent) -> timedelta:
    """How long before its recording the event occurred (negative: told a little after it,
    within ``CLOCK_SKEW``)."""
    return event.recorded_at - event.occurred_at


def lag_minutes(event: DomainEvent) -> float:
    return round(lag(event).total_seconds() / 60, 1)


def is_backdated(event: DomainEvent, threshold: timedelta) -> bool:
    """More than ``threshold`` between when it occurred and when it was recorded."""
    return lag(event) > threshold


def recorded_by(events: Iterable[E], when: datetime) -> list[E]:
    """An aggregate's events as the ledger held them at ``when``: the longest prefix
    recorded at or before it (a version cannot have been there without the earlier ones)."""
    return list(takewhile(lambda e: e.recorded_at <= when, events))


EARLIER_HELPS: tuple[type[TicketEvent], ...] = (
    Responded,
    Arrived,
    Resolved,
    ReplacementProvided,
    Suspended,
)
"""Events whose earlier time can only help a target be met: they stop a clock or pause
every clock. The report's time and a resumption's are not moved: a later time would only
loosen the targets."""

STOPS: dict[str, type[TicketEvent]] = {
    "respond": Responded,
    "arrive": Arrived,
    "resolve": Resolved,
    "replacement": ReplacementProvided,
}
"""The event type whose time stops each metric's clock (``domain/compliance.py``)."""


def as_recorded(events: Sequence[TicketEvent], threshold: timedelta) -> list[TicketEvent]:
    """A copy of the events where each back-dated one of :data:`EARLIER_HELPS` occurred
    when it was recorded. A resumption (or cancellation) never ends a pause before the
    moved suspension starts."""
    copy: list[TicketEvent] = []
    paused_since: datetime | None = None
    for event in events:
        when = event.occurred_at
        if isinstance(event, EARLIER_HELPS) and is_backdated(event, threshold):
            when = event.recorded_at
        if isinstance(event, Suspended):
            paused_since = when
        elif isinstance(event, Resumed | Cancelled) and paused_since is not None:
            when, paused_since = max(when, paused_since), None
        copy.append(event if when == event.occurred_at else _at(event, when))
    return copy


def _at(event: TicketEvent, when: datetime) -> TicketEvent:
    return event.model_copy(update={"occurred_at": when})


# --------------------------------------------------------------------------- roles

MANAGERS = frozenset({Role.DEPARTMENT_MANAGER, Role.PROJECT_GENERAL_MANAGER})
DESK = frozenset({Role.DISPATCHER, *MANAGERS})
"""The hotline and the managers above it."""
FIELD = frozenset({Role.ENGINEER, *DESK})
"""Everyone who works a ticket."""

NORMAL_ROLES: dict[type[TicketEvent], frozenset[Role]] = {
    Reported: frozenset({Role.DISPATCHER, Role.CUSTOMER, Role.SYSTEM}),
    Responded: FIELD,
    Dispatched: DESK,
    Arrived: frozenset({Role.ENGINEER}),
    Resolved: frozenset({Role.ENGINEER, Role.CHIEF_ENGINEER_OFFICE}),
    CustomerSigned: frozenset({Role.CUSTOMER, *FIELD}),
    Escalated: frozenset({Role.SYSTEM, *FIELD}),
    Suspended: FIELD,
    Resumed: FIELD,
    ReplacementProvided: FIELD,
    Reclassified: frozenset({*FIELD, Role.CHIEF_ENGINEER_OFFICE, Role.QUALITY}),
    Closed: frozenset({*DESK, Role.QUALITY}),
    Reopened: frozenset({*DESK, Role.QUALITY, Role.CHIEF_ENGINEER_OFFICE}),
    Cancelled: DESK,
    InspectionNoticeIssued: frozenset(SUPERVISORS),
    RectificationNoticeIssued: frozenset(SUPERVISORS),
    ReplacementFlagged: frozenset(SUPERVISORS),
    AtRiskWarned: frozenset({Role.SYSTEM}),
    MetricOverdueNoted: frozenset({Role.SYSTEM}),
    # Recorded with the report, under its stamp: the report's own role is judged on Reported.
    OutOfContractNoted: frozenset(
        {Role.DISPATCHER, Role.CUSTOMER, Role.SYSTEM, Role.ENGINEER, *MANAGERS, Role.QUALITY}
    ),
    # Seed 003: the hotline's 服务客服专员 issues the work contact sheet (with sales).
    WorkContactSheetRecorded: DESK,
    # Evidence files: whoever works the ticket, the quality department and 总工办 (who audit
    # its form), the customer (their signature or the signed form: domain/evidence.py).
    EvidenceAttached: frozenset({*FIELD, Role.QUALITY, Role.CHIEF_ENGINEER_OFFICE, Role.CUSTOMER}),
    # The progress facts declared metrics measure (seeds 000, 001, 003, 004).
    DiagnosisReported: frozenset({*FIELD, Role.CHIEF_ENGINEER_OFFICE}),
    SolutionProposed: frozenset({*FIELD, Role.CHIEF_ENGINEER_OFFICE}),
    RepairStarted: frozenset({Role.ENGINEER}),
    TemporaryMeasureTaken: FIELD,
    # Seed 003: the quality department audits each returned service form.
    ServiceFormFiled: frozenset({*DESK, Role.QUALITY}),
    ContactChanged: DESK,
    # The engineer on the way to the site ("on my way", from the phone).
    EngineerSetOff: frozenset({Role.ENGINEER}),
    # The workbench's notes: everyone who works the ticket writes internal notes (the
    # quality department and 总工办 too); the desk and the engineer answer the customer.
    WorkNoteAdded: frozenset({*FIELD, Role.QUALITY, Role.CHIEF_ENGINEER_OFFICE}),
    CustomerReplied: FIELD,
}
"""Who normally records each ticket event (the table in docs/integrity.md). Who *may* is
the role matrix (``domain/roles.py``, docs/roles.md), a superset of this norm; the audit
report lists what is allowed but falls outside it."""


def is_off_norm(event: TicketEvent) -> bool:
    return event.role not in NORMAL_ROLES[type(event)]


# --------------------------------------------------------------------------- signatures


class SignatureProblem(StrEnum):
    MISSING = "missing"
    """Closed with no signature in force (none, or cleared by a reopening)."""
    SIGNED_BY_ENGINEER = "signed_by_engineer"
    """The signer is the ticket's own engineer."""
    SIGNED_BY_RECORDER = "signed_by_recorder"
    """The signer is whoever recorded the signature, who is neither the customer nor a
    manager giving a manager's approval."""


def _person(name: str) -> str:
    return " ".join(name.split()).casefold()


def signature_problem(ticket: Ticket, signed: CustomerSigned | None) -> SignatureProblem | None:
    """Why the service form ``ticket`` (its state just before closing) is closed with is not
    valid, ``None`` when it is; ``signed`` is the event that recorded its signature. Seeds
    003/004: the form is valid with the customer's signature, a manager's approval or a
    faxed signed copy (every ``SignatureKind``) — signed by someone other than the
    supplier's own people."""
    if ticket.signature is None or signed is None:
        return SignatureProblem.MISSING
    signer = _person(signed.signer)
    if ticket.engineer is not None and signer == _person(ticket.engineer):
        return SignatureProblem.SIGNED_BY_ENGINEER
    own_approval = signed.kind is SignatureKind.MANAGER_APPROVED and signed.role in MANAGERS
    if signer == _person(signed.actor) and signed.role is not Role.CUSTOMER and not own_approval:
        return SignatureProblem.SIGNED_BY_RECORDER
    return None


# --------------------------------------------------------------------------- one ticket


@dataclass(frozen=True)
class MetThanksToBackdating:
    """A target met as told, missed when the back-dated entries count at their recording."""

    told: Judgement
    recorded: Judgement
    entries: tuple[TicketEvent, ...]
    """The moved back-dated events that bear on it: those stopping its clock, suspensions."""


@dataclass(frozen=True)
class UnsignedClosing:
    closed: Closed
    problem: SignatureProblem
    signature: CustomerSigned | None


@dataclass(frozen=True)
class TicketAudit:
    """Everything :func:`audit_ticket` found in one ticket's history."""

    ticket: Ticket
    threshold: timedelta
    events: int
    backdated: tuple[TicketEvent, ...]
    met_thanks_to_backdating: tuple[MetThanksToBackdating, ...]
    unsigned_closings: tuple[UnsignedClosing, ...]
    off_norm: tuple[TicketEvent, ...]
    reopenings: tuple[Reopened, ...]
    recorded_backwards: tuple[TicketEvent, ...] = ()


def audit_ticket(
    events: Sequence[TicketEvent],
    contract: Contract | None,
    calendar: WorkCalendar,
    now: datetime,
    chain_before: Mapping[int, datetime] | None = None,
) -> TicketAudit:
    """Audit one ticket's events (``contract``: its contract, ``None`` when unknown: the
    default threshold and no SLA verdicts), targets judged at ``now``. ``chain_before``:
    for each version, the recorded time of the event before it in the chain."""
    ticket = project_ticket(None, events)
    assert ticket is not None, "a ticket audit needs the ticket's events"
    policy = policy_for_ticket(contract, ticket.reported_at)
    threshold = backdating_threshold(policy)
    backdated = tuple(e for e in events if is_backdated(e, threshold))
    met: tuple[MetThanksToBackdating, ...] = ()
    if policy is not None and any(isinstance(e, EARLIER_HELPS) for e in backdated):
        met = _met_thanks_to_backdating(events, ticket, policy, calendar, now, threshold)
    return TicketAudit(
        ticket=ticket,
        threshold=threshold,
        events=len(events),
        backdated=backdated,
        met_thanks_to_backdating=met,
        unsigned_closings=_unsigned_closings(events),
        off_norm=tuple(e for e in events if is_off_norm(e)),
        reopenings=tuple(e for e in events if isinstance(e, Reopened)),
        recorded_backwards=recorded_backwards(events, chain_before or {}),
    )


def recorded_backwards(events: Sequence[E], chain_before: Mapping[int, datetime]) -> tuple[E, ...]:
    """The events recorded before the event they follow: the aggregate's previous version,
    or the event before them in the chain (``chain_before``, by version)."""
    found: list[E] = []
    previous: datetime | None = None
    for event in events:
        limits = [t for t in (previous, chain_before.get(event.originator_version)) if t]
        if limits and event.recorded_at < max(limits):
            found.append(event)
        previous = event.recorded_at
    return tuple(found)


def _met_thanks_to_backdating(
    events: Sequence[TicketEvent],
    ticket: Ticket,
    policy: Policy,
    calendar: WorkCalendar,
    now: datetime,
    threshold: timedelta,
) -> tuple[MetThanksToBackdating, ...]:
    moved = [e for e in events if isinstance(e, EARLIER_HELPS) and is_backdated(e, threshold)]
    honest = project_ticket(None, as_recorded(events, threshold))
    assert honest is not None
    told = judge_ticket(ticket, policy, calendar, now)
    recorded = {j.metric: j for j in judge_ticket(honest, policy, calendar, now)}
    missed = (SlaStatus.BREACHED, SlaStatus.OVERDUE)
    return tuple(
        MetThanksToBackdating(
            j,
            recorded[j.metric],
            tuple(e for e in moved if isinstance(e, (STOPS[j.metric], Suspended))),
        )
        for j in told
        if j.status is SlaStatus.MET and recorded[j.metric].status in missed
    )


def _unsigned_closings(events: Sequence[TicketEvent]) -> tuple[UnsignedClosing, ...]:
    """Each closing whose form had no valid signature, with the signature it had."""
    found: list[UnsignedClosing] = []
    state: Ticket | None = None
    signed: CustomerSigned | None = None
    for event in events:
        if isinstance(event, Closed) and state is not None:
            problem = signature_problem(state, signed)
            if problem is not None:
                found.append(UnsignedClosing(event, problem, signed))
        if isinstance(event, CustomerSigned):
            signed = event
        elif isinstance(event, Reopened):
            signed = None
        state = mutate(event, state)
    return tuple(found)
