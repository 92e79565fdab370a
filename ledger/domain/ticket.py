"""The Ticket aggregate (服务单): its events, its state and ``mutate``, which folds events
into state. The rules that decide which event a command records are in
:mod:`ledger.domain.ticket_rules` and :mod:`ledger.domain.ticket_progress`.

Over 500 lines: the events, the state and ``mutate`` of one aggregate are read together.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import singledispatch
from typing import Annotated

from pydantic import Field

from ledger.domain.evidence import Evidence, EvidenceFacts, evidence_of
from ledger.domain.model import CLOCK_SKEW as CLOCK_SKEW
from ledger.domain.model import (
    Aggregate,
    DomainEvent,
    Immutable,
    ShortText,
    Text,
    UtcDatetime,
    evolve,
    fold,
    recorded_events,
)
from ledger.domain.privacy import ERASED, Personal
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

Phone = Annotated[
    str, Field(min_length=3, max_length=40, pattern=rf"^(?:[0-9+()\- ]+|{re.escape(ERASED)})$")
]
"""A phone number; reads as ``[已删除]`` once its subject is erased (docs/privacy.md)."""
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Contact(Immutable):
    """A person to call: personal information of the subject its phone number identifies."""

    name: Annotated[ShortText, Personal(by="phone")]
    phone: Annotated[Phone, Personal(by="phone")]


class Signature(Immutable):
    kind: SignatureKind
    signer: ShortText
    signed_at: UtcDatetime
    evidence_sha256: str | None = None
    """The signature image among the ticket's evidence, when it was captured on a screen."""


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


class Geolocation(Immutable):
    """Where the engineer's phone said it was (WGS 84, as the browser's geolocation gives
    it): recorded with setting off and arriving when the phone gives it, never required."""

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    """The radius of 95% confidence in metres, as the phone reported it."""


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
    """Version 2 adds ``location`` (``None`` on every version-1 arrival)."""

    class_version = 2

    engineer: ShortText
    location: Geolocation | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state["location"] = None


class Resolved(TicketEvent):
    summary: Text
    mode: ResolutionMode


class CustomerSigned(TicketEvent):
    """Version 2 adds ``evidence_sha256``: the signature captured on the screen (an
    attached evidence file of the ticket), ``None`` for a signature on paper."""

    class_version = 2

    kind: SignatureKind
    signer: Annotated[ShortText, Personal()]
    evidence_sha256: Sha256 | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        state["evidence_sha256"] = None


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


class AtRiskWarned(TicketEvent):
    """临近超时: a target not yet done has used ``at_percent`` percent of its covered time on
    the contract's clock (recorded by the sweep, once per target and percent)."""

    metric: ShortText
    target: ShortText
    at_percent: int = Field(ge=1, le=99)
    used_percent: int = Field(ge=0)
    due_at: UtcDatetime
    left_minutes: int
    """Covered minutes left before the due time when the sweep looked."""


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
    confirmed_by: Annotated[ShortText, Personal()]
    """Who confirmed the fee for the customer."""
    note: Text | None = None


class EvidenceAttached(TicketEvent, EvidenceFacts):
    """A file attached to the ticket (the signed service form, a photo, a fax): its hash,
    size, media type, name and kind; the bytes are in the evidence store."""


class DiagnosisReported(TicketEvent):
    """Seed 001: the fault diagnosis report (故障诊断报告) given to the customer."""

    report: Text
    """What was found, or where the report is kept."""


class SolutionProposed(TicketEvent):
    """Seed 001: a solution proposed (提出解决方案); for a consultation, the answer."""

    solution: Text


class RepairStarted(TicketEvent):
    """Seed 004: the engineer starts the repair (检修); may coincide with the arrival."""

    note: Text | None = None


class TemporaryMeasureTaken(TicketEvent):
    """Seed 003: a temporary measure (临时措施) while the fault is not yet solved."""

    measure: Text


class ServiceFormFiled(TicketEvent):
    """The service form signed by the customer, filed (服务记录单归档; seed 004: within 5
    days). ``form`` references the paper or scanned form; ``evidence_sha256`` names the
    attached evidence file once attachments are recorded (``EvidenceAttached``)."""

    form: ShortText
    evidence_sha256: Sha256 | None = None


class ContactChanged(TicketEvent):
    """Seed 000: the supplier notifies the customer that its contact person for the ticket
    changed (联系人变更通知); ``occurred_at`` is the notice, ``changed_at`` the change."""

    contact: Contact
    changed_at: UtcDatetime
    note: Text | None = None


class EngineerSetOff(TicketEvent):
    """在途: the dispatched engineer set off for the site ("on my way"), with where the
    phone was when it gives it. Stops no clock: the arrival does."""

    engineer: ShortText
    location: Geolocation | None = None


class WorkNoteAdded(TicketEvent):
    """An internal work note on the ticket (工作备注): for the people who work it, never
    shown to the customer."""

    text: Text


class CustomerReplied(TicketEvent):
    """A reply to the customer (回复客户), visible to them: what they were told, and when."""

    text: Text


class MetricOverdueNoted(TicketEvent):
    """逾期: a metric the contract declares passed its due time without its stop event
    (recorded by the sweep, once per metric; the built-in four have the ladder and
    ``ReplacementFlagged``)."""

    metric: ShortText
    target: ShortText
    due_at: UtcDatetime


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
    at_risk_warned: tuple[str, ...] = ()
    """``metric:percent`` of every at-risk warning recorded."""
    out_of_contract: bool = False
    contact_sheet: ContactSheet | None = None
    evidence: tuple[Evidence, ...] = ()
    repair_started_at: datetime | None = None
    service_form: str | None = None
    supplier_contact: Contact | None = None
    set_off_at: datetime | None = None
    """When the engineer of the current dispatch set off (``None``: not yet, or dispatched
    again since)."""
    milestones: dict[str, datetime] = Field(default_factory=dict)
    """The first moment of each event recorded after the report, by its name, and of each
    such event's own time fields (``"ContactChanged.changed_at"``): where declared SLA
    metrics start and stop (``ledger.domain.metrics``)."""
    overdue_noted: tuple[str, ...] = ()
    """The declared metrics the sweep noted overdue (``MetricOverdueNoted``)."""

    @property
    def is_open(self) -> bool:
        return self.status not in (TicketStatus.CLOSED, TicketStatus.CANCELLED)

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


SUPERVISORS = (Role.SYSTEM, Role.QUALITY, Role.CHIEF_ENGINEER_OFFICE)
"""Who issues notices and flags: the sweep, the quality department, 总工办."""


# --------------------------------------------------------------------------- evolution


def _evolve(ticket: Ticket | None, event: TicketEvent, **changes: object) -> Ticket:
    """The ticket after ``event``, with the event's first moment kept in ``milestones``."""
    assert ticket is not None
    name = type(event).__name__
    if name not in ticket.milestones:
        moments = {name: event.occurred_at}
        for field_name in type(event).model_fields:
            value = getattr(event, field_name)
            if isinstance(value, datetime) and field_name not in _ENVELOPE_TIMES:
                moments[f"{name}.{field_name}"] = value
        changes["milestones"] = {**ticket.milestones, **moments}
    return evolve(ticket, event, **changes)


_ENVELOPE_TIMES = frozenset(("occurred_at", "recorded_at", "timestamp"))


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
        set_off_at=None,
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
    signature = Signature(
        kind=event.kind,
        signer=event.signer,
        signed_at=event.occurred_at,
        evidence_sha256=event.evidence_sha256,
    )
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
        set_off_at=None,
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
def _(event: AtRiskWarned, ticket: Ticket | None) -> Ticket:
    key = at_risk_key(event.metric, event.at_percent)
    return _evolve(ticket, event, at_risk_warned=(*ticket.at_risk_warned, key) if ticket else ())


def at_risk_key(metric: str, threshold: int) -> str:
    return f"{metric}:{threshold}"


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


@mutate.register
def _(event: EvidenceAttached, ticket: Ticket | None) -> Ticket:
    assert ticket is not None
    return _evolve(ticket, event, evidence=(*ticket.evidence, evidence_of(event)))


@mutate.register
def _(event: DiagnosisReported, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event)


@mutate.register
def _(event: SolutionProposed, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event)


@mutate.register
def _(event: RepairStarted, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, repair_started_at=event.occurred_at)


@mutate.register
def _(event: TemporaryMeasureTaken, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event)


@mutate.register
def _(event: ServiceFormFiled, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, service_form=event.form)


@mutate.register
def _(event: ContactChanged, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, supplier_contact=event.contact)


@mutate.register
def _(event: EngineerSetOff, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event, set_off_at=event.occurred_at)


@mutate.register
def _(event: MetricOverdueNoted, ticket: Ticket | None) -> Ticket:
    noted = (*ticket.overdue_noted, event.metric) if ticket else ()
    return _evolve(ticket, event, overdue_noted=noted)


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


@mutate.register
def _(event: WorkNoteAdded, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event)


@mutate.register
def _(event: CustomerReplied, ticket: Ticket | None) -> Ticket:
    return _evolve(ticket, event)
