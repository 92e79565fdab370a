"""Unit tests of every rule of the Ticket aggregate, each checking the exact outcome.

Times are given in minutes after ``T0`` (the moment the fault is reported). Unless a test
says otherwise an event is recorded at the moment it happened.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, uuid5
from zoneinfo import ZoneInfo

import pytest

from ledger.domain.errors import DomainError, RuleViolation
from ledger.domain.model import Stamp
from ledger.domain.numbering import (
    NAMESPACE,
    format_number,
    sequence_id,
    ticket_id_for,
)
from ledger.domain.ticket import (
    CLOCK_SKEW,
    Arrived,
    Cancelled,
    Closed,
    Contact,
    CustomerSigned,
    Dispatched,
    Escalated,
    OutOfContractNoted,
    Reclassified,
    Reopened,
    ReplacementProvided,
    Reported,
    Resolved,
    Responded,
    Resumed,
    Signature,
    Suspended,
    Ticket,
    TicketEvent,
    WorkContactSheetRecorded,
    mutate,
    project_ticket,
)
from ledger.domain.ticket_rules import (
    decide_arrive,
    decide_cancel,
    decide_close,
    decide_contact_sheet,
    decide_coverage,
    decide_dispatch,
    decide_escalate,
    decide_reclassify,
    decide_reopen,
    decide_replace,
    decide_report,
    decide_resolve,
    decide_respond,
    decide_resume,
    decide_sign,
    decide_suspend,
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

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NUMBER = "T-2026-000123"
TICKET_ID = ticket_id_for(NUMBER)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(
    occurred: float,
    recorded: float | None = None,
    *,
    actor: str = "dispatcher-li",
    role: Role = Role.DISPATCHER,
) -> Stamp:
    return Stamp(
        actor=actor,
        role=role,
        occurred_at=at(occurred),
        recorded_at=at(occurred if recorded is None else recorded),
    )


def report(occurred: float = 0, recorded: float | None = None, **overrides: Any) -> Reported:
    fields: dict[str, Any] = {
        "contract_id": "HT-2025-017",
        "customer": "Huadong Water Works",
        "contact": Contact(name="Wang Wei", phone="+86 138 0000 0000"),
        "site": "Pump station 3",
        "device": "PLC cabinet A",
        "category": Category.DEFECT,
        "severity": Severity.MAJOR,
        "description": "Cabinet reboots every hour",
        "channel": Channel.PHONE,
    }
    fields.update(overrides)
    return decide_report(TICKET_ID, NUMBER, stamp(occurred, recorded), **fields)


E = TypeVar("E", bound=TicketEvent)


class History:
    """A ticket's events and current state; ``do`` decides, records and applies one command."""

    def __init__(self, **report_overrides: Any) -> None:
        first = report(**report_overrides)
        self.events: list[TicketEvent] = [first]
        self.ticket: Ticket = mutate(first, None)

    def do(
        self,
        decide: Callable[..., E],
        occurred: float,
        *args: Any,
        recorded: float | None = None,
        actor: str = "dispatcher-li",
        role: Role = Role.DISPATCHER,
        **kwargs: Any,
    ) -> E:
        event = decide(
            self.ticket, stamp(occurred, recorded, actor=actor, role=role), *args, **kwargs
        )
        self.events.append(event)
        self.ticket = mutate(event, self.ticket)
        return event

    # ready-made states ------------------------------------------------------------

    def dispatched(self, engineer: str = "bob", minute: float = 10) -> History:
        self.do(decide_dispatch, minute, engineer)
        return self

    def on_site(self, engineer: str = "bob") -> History:
        self.dispatched(engineer)
        self.do(decide_arrive, 60, actor=engineer, role=Role.ENGINEER)
        return self

    def resolved(self) -> History:
        self.do(decide_resolve, 90, "Replaced the power supply", ResolutionMode.REMOTE)
        return self

    def signed(self, kind: SignatureKind = SignatureKind.CUSTOMER) -> History:
        self.resolved()
        self.do(decide_sign, 100, "Wang Wei", kind)
        return self

    def closed(self) -> History:
        self.signed()
        self.do(decide_close, 110)
        return self

    def suspended(self) -> History:
        self.do(decide_suspend, 20, "Waiting for the customer to free the cabinet")
        return self

    def cancelled(self) -> History:
        self.do(decide_cancel, 200, "Duplicate of T-2026-000122")
        return self


def status(h: History) -> TicketStatus:
    """The current status, read through a call (mypy keeps narrowing ``h.ticket.status``
    across ``h.do`` calls otherwise)."""
    return h.ticket.status


def rejected(match: str) -> Any:
    return pytest.raises(RuleViolation, match=match)


# --------------------------------------------------------------------------- report


def test_report_records_every_field_and_starts_the_ticket() -> None:
    event = report(occurred=-30, recorded=0, external_ref="CRM-991")

    assert type(event) is Reported
    assert event.originator_id == TICKET_ID
    assert event.originator_version == 1
    assert event.occurred_at == at(-30)
    assert event.timestamp == at(0)
    assert event.number == NUMBER
    assert event.contract_id == "HT-2025-017"
    assert event.customer == "Huadong Water Works"
    assert event.contact == Contact(name="Wang Wei", phone="+86 138 0000 0000")
    assert event.site == "Pump station 3"
    assert event.device == "PLC cabinet A"
    assert event.category is Category.DEFECT
    assert event.severity is Severity.MAJOR
    assert event.description == "Cabinet reboots every hour"
    assert event.channel is Channel.PHONE
    assert event.external_ref == "CRM-991"

    ticket = mutate(event, None)
    assert ticket.id == TICKET_ID
    assert ticket.version == 1
    assert ticket.status is TicketStatus.REPORTED
    assert ticket.reported_at == at(-30)
    assert ticket.created_on == ticket.modified_on == at(0)
    assert ticket.number == NUMBER
    assert ticket.external_ref == "CRM-991"
    assert ticket.escalation_level is EscalationLevel.ENGINEER
    assert ticket.is_open and not ticket.is_suspended and not ticket.is_resolved
    assert ticket.responded_at is None and ticket.engineer is None
    assert ticket.signature is None and ticket.replacements == ()
    assert ticket.reopen_count == 0


def test_report_in_the_future_is_rejected() -> None:
    with rejected(r"occurred_at 2026-03-02T09:06:00\+00:00 is in the future"):
        report(occurred=6, recorded=0)


def test_report_within_the_clock_skew_is_accepted() -> None:
    assert report(occurred=5, recorded=0).occurred_at == at(5)


# --------------------------------------------------------------------------- happy path


def test_happy_path_report_to_close() -> None:
    h = History()

    responded = h.do(decide_respond, 5, "Called back, collecting logs")
    assert type(responded) is Responded
    assert responded.note == "Called back, collecting logs"
    assert status(h) is TicketStatus.RESPONDED
    assert h.ticket.responded_at == at(5)

    dispatched = h.do(decide_dispatch, 10, "bob", "Bring a spare PSU")
    assert type(dispatched) is Dispatched
    assert (dispatched.engineer, dispatched.note) == ("bob", "Bring a spare PSU")
    assert status(h) is TicketStatus.DISPATCHED
    assert (h.ticket.engineer, h.ticket.dispatched_at) == ("bob", at(10))
    assert h.ticket.on_site is False

    arrived = h.do(decide_arrive, 60, "bob", actor="bob", role=Role.ENGINEER)
    assert type(arrived) is Arrived
    assert arrived.engineer == "bob"
    assert (arrived.actor, arrived.role) == ("bob", Role.ENGINEER)
    assert status(h) is TicketStatus.ON_SITE
    assert h.ticket.on_site is True
    assert h.ticket.first_arrived_at == at(60)

    resolved = h.do(decide_resolve, 90, "Replaced the PSU", ResolutionMode.ON_SITE)
    assert type(resolved) is Resolved
    assert (resolved.summary, resolved.mode) == ("Replaced the PSU", ResolutionMode.ON_SITE)
    assert status(h) is TicketStatus.RESOLVED
    assert h.ticket.is_resolved
    assert h.ticket.resolved_at == at(90)
    assert h.ticket.resolution == "Replaced the PSU"
    assert h.ticket.resolution_mode is ResolutionMode.ON_SITE

    signed = h.do(decide_sign, 95, "Wang Wei", actor="bob", role=Role.ENGINEER)
    assert type(signed) is CustomerSigned
    assert (signed.kind, signed.signer) == (SignatureKind.CUSTOMER, "Wang Wei")
    assert h.ticket.signature == Signature(
        kind=SignatureKind.CUSTOMER, signer="Wang Wei", signed_at=at(95)
    )
    assert status(h) is TicketStatus.RESOLVED

    closed = h.do(decide_close, 120, "Customer satisfied", role=Role.QUALITY)
    assert type(closed) is Closed
    assert closed.note == "Customer satisfied"
    assert status(h) is TicketStatus.CLOSED
    assert h.ticket.closed_at == at(120)
    assert not h.ticket.is_open

    assert [type(e) for e in h.events] == [
        Reported,
        Responded,
        Dispatched,
        Arrived,
        Resolved,
        CustomerSigned,
        Closed,
    ]
    assert h.ticket.version == 7
    assert h.ticket.modified_on == at(120)
    assert h.ticket.created_on == at(0)


# --------------------------------------------------------------------------- respond


def test_second_respond_is_rejected() -> None:
    h = History()
    h.do(decide_respond, 5)
    with rejected(r"already responded to at 2026-03-02T09:05:00\+00:00"):
        decide_respond(h.ticket, stamp(6))


def test_respond_after_dispatch_keeps_the_dispatched_status() -> None:
    h = History().dispatched()
    h.do(decide_respond, 15)
    assert h.ticket.status is TicketStatus.DISPATCHED
    assert h.ticket.responded_at == at(15)


# --------------------------------------------------------------------------- dispatch / arrive


def test_no_arrival_before_a_dispatch() -> None:
    h = History()
    with rejected("has not been dispatched: no arrival before it"):
        decide_arrive(h.ticket, stamp(5), "bob")
    h.do(decide_respond, 5)
    with rejected("has not been dispatched"):
        decide_arrive(h.ticket, stamp(6))


def test_arrival_by_another_engineer_is_rejected() -> None:
    h = History().dispatched("bob")
    with rejected("is dispatched to bob, not carol: re-dispatch it first"):
        decide_arrive(h.ticket, stamp(30), "carol")


def test_arrival_without_a_name_is_the_dispatched_engineer() -> None:
    h = History().dispatched("bob")
    event = h.do(decide_arrive, 30)
    assert type(event) is Arrived
    assert event.engineer == "bob"


def test_second_arrival_without_a_new_dispatch_is_rejected() -> None:
    h = History().on_site("bob")
    with rejected("bob is already on site"):
        decide_arrive(h.ticket, stamp(70), "bob")


def test_arrival_on_a_resolved_ticket_is_rejected() -> None:
    h = History().dispatched("bob").resolved()
    with rejected("is already resolved"):
        decide_arrive(h.ticket, stamp(95), "bob")


def test_redispatch_to_another_engineer_is_allowed() -> None:
    h = History().dispatched("bob")
    event = h.do(decide_dispatch, 20, "carol", "bob is ill")
    assert type(event) is Dispatched
    assert event.engineer == "carol"
    assert (h.ticket.engineer, h.ticket.dispatched_at) == ("carol", at(20))
    assert h.ticket.status is TicketStatus.DISPATCHED
    with rejected("is dispatched to carol, not bob"):
        decide_arrive(h.ticket, stamp(30), "bob")
    assert h.do(decide_arrive, 30, "carol").engineer == "carol"


def test_redispatch_while_on_site_clears_the_presence() -> None:
    h = History().on_site("bob")
    h.do(decide_dispatch, 70, "carol")
    assert h.ticket.on_site is False
    assert h.ticket.status is TicketStatus.DISPATCHED
    assert h.ticket.first_arrived_at == at(60)


@pytest.mark.parametrize("name", ["bob", " bob ", "bob  "])
def test_redispatch_to_the_same_engineer_not_yet_on_site_is_rejected(name: str) -> None:
    h = History().dispatched("bob")
    with rejected("is already dispatched to"):
        decide_dispatch(h.ticket, stamp(20), name)


def test_redispatch_to_the_same_engineer_after_arrival_is_allowed() -> None:
    h = History().on_site("bob")
    event = h.do(decide_dispatch, 70, "bob", "second visit")
    assert event.engineer == "bob"
    assert h.ticket.on_site is False
    assert h.ticket.dispatched_at == at(70)


def test_dispatch_on_a_resolved_ticket_is_rejected() -> None:
    h = History().resolved()
    with rejected("is resolved: reopen it before dispatching again"):
        decide_dispatch(h.ticket, stamp(95), "bob")


def test_arrival_before_the_dispatch_time_is_rejected() -> None:
    h = History().dispatched("bob", minute=30)
    with rejected(r"is before the dispatch \(2026-03-02T09:30:00\+00:00\)"):
        decide_arrive(h.ticket, stamp(29, recorded=40), "bob")
    assert h.do(decide_arrive, 30).occurred_at == at(30)


# --------------------------------------------------------------------------- resolve


def test_on_site_resolution_needs_an_arrival() -> None:
    h = History()
    with rejected("an on-site resolution needs the engineer's arrival first"):
        decide_resolve(h.ticket, stamp(30), "fixed", ResolutionMode.ON_SITE)
    h.dispatched("bob")
    with rejected("an on-site resolution needs the engineer's arrival first"):
        decide_resolve(h.ticket, stamp(30), "fixed", ResolutionMode.ON_SITE)
    h.do(decide_arrive, 60)
    event = h.do(decide_resolve, 90, "fixed", ResolutionMode.ON_SITE)
    assert (type(event), event.mode) == (Resolved, ResolutionMode.ON_SITE)


def test_remote_resolution_needs_no_arrival_nor_dispatch() -> None:
    h = History()
    event = h.do(decide_resolve, 30, "Talked them through a reset", ResolutionMode.REMOTE)
    assert type(event) is Resolved
    assert event.mode is ResolutionMode.REMOTE
    assert h.ticket.status is TicketStatus.RESOLVED
    assert h.ticket.resolution_mode is ResolutionMode.REMOTE
    assert h.ticket.engineer is None


def test_second_resolution_is_rejected() -> None:
    h = History().resolved()
    with rejected("is already resolved"):
        decide_resolve(h.ticket, stamp(95), "again", ResolutionMode.REMOTE)


def test_no_resolution_on_a_closed_ticket() -> None:
    h = History().closed()
    with rejected(r"is closed: cannot resolve \(reopen it first\)"):
        decide_resolve(h.ticket, stamp(130), "again", ResolutionMode.REMOTE)


# --------------------------------------------------------------------------- sign / close


def test_signature_before_a_resolution_is_rejected() -> None:
    h = History()
    with rejected("is not resolved: nothing to sign yet"):
        decide_sign(h.ticket, stamp(5), "Wang Wei")


def test_second_signature_is_rejected() -> None:
    h = History().signed()
    with rejected("service form is already signed by Wang Wei"):
        decide_sign(h.ticket, stamp(105), "Li Na", SignatureKind.FAX_COPY)


def test_signature_before_the_resolution_time_is_rejected() -> None:
    h = History().resolved()
    with rejected(r"is before the resolution \(2026-03-02T10:30:00\+00:00\)"):
        decide_sign(h.ticket, stamp(89, recorded=100), "Wang Wei")
    assert h.do(decide_sign, 90, "Wang Wei").occurred_at == at(90)


def test_no_close_without_a_resolution() -> None:
    h = History().on_site()
    with rejected("cannot be closed: it is not resolved"):
        decide_close(h.ticket, stamp(70))


def test_no_close_without_a_signature() -> None:
    h = History().resolved()
    with rejected("cannot be closed: the service form has no customer signature"):
        decide_close(h.ticket, stamp(95))


@pytest.mark.parametrize("kind", list(SignatureKind))
def test_every_signature_kind_allows_closing(kind: SignatureKind) -> None:
    h = History().signed(kind)
    assert h.ticket.signature == Signature(kind=kind, signer="Wang Wei", signed_at=at(100))
    event = h.do(decide_close, 110)
    assert type(event) is Closed
    assert h.ticket.status is TicketStatus.CLOSED


def test_signature_kinds_are_exactly_the_three_of_the_seeds() -> None:
    assert {k.value for k in SignatureKind} == {"customer", "manager_approved", "fax_copy"}


def test_close_before_the_signature_time_is_rejected() -> None:
    h = History().signed()
    with rejected(r"is before the signature \(2026-03-02T10:40:00\+00:00\)"):
        decide_close(h.ticket, stamp(99, recorded=120))


def test_second_close_is_rejected() -> None:
    h = History().closed()
    with rejected("is closed: cannot close"):
        decide_close(h.ticket, stamp(130))


# --------------------------------------------------------------------------- cancelled / closed

# For every decide_* function: a history in which it is accepted, and the call itself.
COMMANDS: dict[str, tuple[Callable[[History], History], Callable[[Ticket, Stamp], TicketEvent]]] = {
    "respond": (lambda h: h, lambda t, s: decide_respond(t, s, "hello")),
    "dispatch": (lambda h: h, lambda t, s: decide_dispatch(t, s, "carol")),
    "arrive": (lambda h: h.dispatched("bob"), lambda t, s: decide_arrive(t, s, "bob")),
    "resolve": (lambda h: h, lambda t, s: decide_resolve(t, s, "fixed", ResolutionMode.REMOTE)),
    "sign": (lambda h: h.resolved(), lambda t, s: decide_sign(t, s, "Wang Wei")),
    "escalate": (
        lambda h: h,
        lambda t, s: decide_escalate(t, s, EscalationLevel.DEPARTMENT_MANAGER, "slow"),
    ),
    "suspend": (lambda h: h, lambda t, s: decide_suspend(t, s, "waiting")),
    "resume": (lambda h: h.suspended(), lambda t, s: decide_resume(t, s, "go on")),
    "replace": (lambda h: h, lambda t, s: decide_replace(t, s, "PSU-24V", "loan unit")),
    "reclassify": (
        lambda h: h,
        lambda t, s: decide_reclassify(t, s, "worse than thought", Severity.CRITICAL),
    ),
    "close": (lambda h: h.signed(), lambda t, s: decide_close(t, s)),
    "reopen": (lambda h: h.resolved(), lambda t, s: decide_reopen(t, s, "it broke again")),
    "cancel": (lambda h: h, lambda t, s: decide_cancel(t, s, "duplicate")),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_nothing_happens_on_a_cancelled_ticket(name: str) -> None:
    setup, command = COMMANDS[name]
    h = setup(History())
    assert isinstance(command(h.ticket, stamp(150)), TicketEvent)  # accepted before cancelling

    cancelled = h.do(decide_cancel, 200, "Duplicate of T-2026-000122", role=Role.ADMIN)
    assert type(cancelled) is Cancelled
    assert cancelled.reason == "Duplicate of T-2026-000122"
    assert h.ticket.status is TicketStatus.CANCELLED
    assert h.ticket.cancelled_at == at(200)
    assert not h.ticket.is_open

    with rejected(f"ticket {NUMBER} is cancelled: cannot"):
        command(h.ticket, stamp(210))


@pytest.mark.parametrize("name", [n for n in COMMANDS if n != "reopen"])
def test_only_reopen_is_allowed_on_a_closed_ticket(name: str) -> None:
    _, command = COMMANDS[name]
    h = History().dispatched("bob").closed()
    with rejected(f"ticket {NUMBER} is closed: cannot .* \\(reopen it first\\)"):
        command(h.ticket, stamp(150))
    assert type(decide_reopen(h.ticket, stamp(150), "broke again")) is Reopened


def test_cancel_is_allowed_while_suspended() -> None:
    h = History().suspended()
    h.do(decide_cancel, 30, "customer withdrew")
    assert h.ticket.status is TicketStatus.CANCELLED


# --------------------------------------------------------------------------- escalation


def test_escalation_climbs_the_ladder_one_step_at_a_time() -> None:
    h = History()
    ladder = [
        EscalationLevel.DEPARTMENT_MANAGER,
        EscalationLevel.PROJECT_GENERAL_MANAGER,
        EscalationLevel.CHIEF_ENGINEER_OFFICE,
    ]
    previous = EscalationLevel.ENGINEER
    for minute, level in enumerate(ladder, start=30):
        event = h.do(decide_escalate, minute, level, f"overdue at {level.value}")
        assert type(event) is Escalated
        assert (event.from_level, event.to_level) == (previous, level)
        assert event.reason == f"overdue at {level.value}"
        assert h.ticket.escalation_level is level
        previous = level
    with rejected(
        "is already at chief_engineer_office: escalation must go up the ladder, "
        "not to chief_engineer_office"
    ):
        decide_escalate(h.ticket, stamp(40), EscalationLevel.CHIEF_ENGINEER_OFFICE, "again")


def test_escalation_ladder_order() -> None:
    assert [level.value for level in EscalationLevel] == [
        "engineer",
        "department_manager",
        "project_general_manager",
        "chief_engineer_office",
    ]
    assert [level.rank for level in EscalationLevel] == [0, 1, 2, 3]
    assert EscalationLevel("project_general_manager") is EscalationLevel.PROJECT_GENERAL_MANAGER
    with pytest.raises(ValueError, match="'ceo' is not a valid EscalationLevel"):
        EscalationLevel("ceo")


def test_escalation_may_skip_rungs_but_records_where_it_came_from() -> None:
    h = History()
    event = h.do(decide_escalate, 30, EscalationLevel.PROJECT_GENERAL_MANAGER, "emergency")
    assert (event.from_level, event.to_level) == (
        EscalationLevel.ENGINEER,
        EscalationLevel.PROJECT_GENERAL_MANAGER,
    )


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (EscalationLevel.ENGINEER, EscalationLevel.ENGINEER),
        (EscalationLevel.DEPARTMENT_MANAGER, EscalationLevel.DEPARTMENT_MANAGER),
        (EscalationLevel.DEPARTMENT_MANAGER, EscalationLevel.ENGINEER),
        (EscalationLevel.CHIEF_ENGINEER_OFFICE, EscalationLevel.PROJECT_GENERAL_MANAGER),
    ],
)
def test_escalation_to_the_same_or_a_lower_level_is_rejected(
    current: EscalationLevel, target: EscalationLevel
) -> None:
    h = History()
    if current is not EscalationLevel.ENGINEER:
        h.do(decide_escalate, 30, current, "setup")
    with rejected(
        f"is already at {current.value}: escalation must go up the ladder, not to {target.value}"
    ):
        decide_escalate(h.ticket, stamp(40), target, "again")


def test_escalation_is_allowed_while_suspended_and_on_a_resolved_ticket() -> None:
    h = History().suspended()
    h.do(decide_escalate, 30, EscalationLevel.DEPARTMENT_MANAGER, "customer complained")
    h.do(decide_resume, 40)
    h.resolved()
    h.do(decide_escalate, 95, EscalationLevel.PROJECT_GENERAL_MANAGER, "quality review")
    assert h.ticket.escalation_level is EscalationLevel.PROJECT_GENERAL_MANAGER


# --------------------------------------------------------------------------- suspend / resume


def test_suspend_and_resume() -> None:
    h = History()
    suspended = h.do(decide_suspend, 20, "Waiting for spare parts")
    assert type(suspended) is Suspended
    assert suspended.reason == "Waiting for spare parts"
    assert h.ticket.is_suspended
    assert h.ticket.suspended_at == at(20)
    assert h.ticket.status is TicketStatus.REPORTED

    resumed = h.do(decide_resume, 50, "Parts arrived")
    assert type(resumed) is Resumed
    assert resumed.reason == "Parts arrived"
    assert not h.ticket.is_suspended
    assert h.ticket.suspended_at is None
    assert type(h.do(decide_respond, 55)) is Responded


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t, s: decide_respond(t, s), "suspended: resume it before you respond"),
        (lambda t, s: decide_dispatch(t, s, "carol"), "suspended: resume it before you dispatch"),
        (
            lambda t, s: decide_arrive(t, s, "bob"),
            "suspended: resume it before you record an arrival",
        ),
        (
            lambda t, s: decide_resolve(t, s, "fixed", ResolutionMode.REMOTE),
            "suspended: resume it before you resolve",
        ),
        (
            lambda t, s: decide_sign(t, s, "Wang Wei"),
            "suspended: resume it before you sign the service form",
        ),
        (lambda t, s: decide_suspend(t, s, "again"), "suspended: resume it before you suspend"),
        (lambda t, s: decide_close(t, s), "suspended: resume it before you close"),
        # A suspended ticket is never resolved, so reopen fails on its own rule.
        (lambda t, s: decide_reopen(t, s, "again"), "there is nothing to reopen"),
    ],
    ids=["respond", "dispatch", "arrive", "resolve", "sign", "suspend", "close", "reopen"],
)
def test_commands_are_rejected_while_suspended(
    call: Callable[[Ticket, Stamp], TicketEvent], message: str
) -> None:
    h = History().dispatched("bob")
    h.do(decide_suspend, 20, "waiting")
    with rejected(message):
        call(h.ticket, stamp(30))


@pytest.mark.parametrize("name", ["resume", "escalate", "replace", "reclassify", "cancel"])
def test_commands_allowed_while_suspended(name: str) -> None:
    _, command = COMMANDS[name]
    h = History().suspended()
    event = h.do(command, 30)
    assert (
        type(event).__name__
        == {
            "resume": "Resumed",
            "escalate": "Escalated",
            "replace": "ReplacementProvided",
            "reclassify": "Reclassified",
            "cancel": "Cancelled",
        }[name]
    )


def test_resume_needs_a_suspension() -> None:
    h = History()
    with rejected(f"ticket {NUMBER} is not suspended"):
        decide_resume(h.ticket, stamp(5))
    h.suspended()
    h.do(decide_resume, 30)
    with rejected("is not suspended"):
        decide_resume(h.ticket, stamp(35))


def test_resume_before_the_suspension_time_is_rejected() -> None:
    h = History().suspended()
    with rejected(r"is before the suspension \(2026-03-02T09:20:00\+00:00\)"):
        decide_resume(h.ticket, stamp(19, recorded=30))


def test_suspend_on_a_resolved_ticket_is_rejected() -> None:
    h = History().resolved()
    with rejected("is resolved: there is no clock to pause"):
        decide_suspend(h.ticket, stamp(95), "waiting")


# --------------------------------------------------------------------------- replace / reclassify


def test_replacement_units_are_recorded_in_order() -> None:
    h = History()
    first = h.do(decide_replace, 20, "PSU-24V", "loan unit")
    assert type(first) is ReplacementProvided
    assert (first.unit, first.note) == ("PSU-24V", "loan unit")
    h.do(decide_replace, 25, "CPU-315")
    assert [(r.unit, r.provided_at, r.note) for r in h.ticket.replacements] == [
        ("PSU-24V", at(20), "loan unit"),
        ("CPU-315", at(25), None),
    ]


def test_reclassify_records_the_previous_values() -> None:
    h = History()
    event = h.do(
        decide_reclassify, 20, "Plant stopped", severity=Severity.EMERGENCY, role=Role.QUALITY
    )
    assert type(event) is Reclassified
    assert (event.severity, event.category) == (Severity.EMERGENCY, Category.DEFECT)
    assert (event.previous_severity, event.previous_category) == (Severity.MAJOR, Category.DEFECT)
    assert event.reason == "Plant stopped"
    assert (h.ticket.severity, h.ticket.category) == (Severity.EMERGENCY, Category.DEFECT)

    event = h.do(decide_reclassify, 25, "Only a question", category=Category.CONSULTATION)
    assert (event.severity, event.category) == (Severity.EMERGENCY, Category.CONSULTATION)
    assert (event.previous_severity, event.previous_category) == (
        Severity.EMERGENCY,
        Category.DEFECT,
    )
    assert (h.ticket.severity, h.ticket.category) == (Severity.EMERGENCY, Category.CONSULTATION)


@pytest.mark.parametrize(
    ("severity", "category"),
    [
        (None, None),
        (Severity.MAJOR, None),
        (None, Category.DEFECT),
        (Severity.MAJOR, Category.DEFECT),
    ],
)
def test_reclassify_without_a_change_is_rejected(
    severity: Severity | None, category: Category | None
) -> None:
    h = History()
    with rejected("is already major/defect: nothing to reclassify"):
        decide_reclassify(h.ticket, stamp(5), "no reason", severity, category)


# --------------------------------------------------------------------------- reopen


def test_reopen_needs_a_resolution() -> None:
    h = History().on_site()
    with rejected("is not resolved or closed: there is nothing to reopen"):
        decide_reopen(h.ticket, stamp(70), "again")


def test_reopen_of_a_closed_ticket_clears_the_resolution_and_signature() -> None:
    h = History().on_site("bob")
    h.do(decide_resolve, 90, "Replaced the PSU", ResolutionMode.ON_SITE)
    h.do(decide_sign, 100, "Wang Wei")
    h.do(decide_close, 110)

    event = h.do(decide_reopen, 24 * 60, "Reboots again", role=Role.CUSTOMER)
    assert type(event) is Reopened
    assert event.reason == "Reboots again"
    t = h.ticket
    assert t.status is TicketStatus.REOPENED
    assert t.is_open and not t.is_resolved
    assert (t.resolved_at, t.resolution, t.resolution_mode) == (None, None, None)
    assert t.signature is None
    assert t.closed_at is None
    assert t.on_site is False
    assert t.reopen_count == 1
    # History that stays: who was sent, when they first arrived.
    assert (t.engineer, t.first_arrived_at) == ("bob", at(60))

    with rejected("an on-site resolution needs the engineer's arrival first"):
        decide_resolve(t, stamp(24 * 60 + 10), "again", ResolutionMode.ON_SITE)
    with rejected("cannot be closed: it is not resolved"):
        decide_close(t, stamp(24 * 60 + 10))
    with rejected("is not resolved: nothing to sign yet"):
        decide_sign(t, stamp(24 * 60 + 10), "Wang Wei")

    again = h.do(decide_resolve, 24 * 60 + 30, "Replaced the CPU", ResolutionMode.REMOTE)
    assert type(again) is Resolved
    assert h.ticket.resolution == "Replaced the CPU"
    assert h.ticket.status is TicketStatus.RESOLVED
    h.do(decide_sign, 24 * 60 + 40, "Li Na", SignatureKind.MANAGER_APPROVED)
    h.do(decide_close, 24 * 60 + 50)
    assert status(h) is TicketStatus.CLOSED
    assert h.ticket.signature == Signature(
        kind=SignatureKind.MANAGER_APPROVED, signer="Li Na", signed_at=at(24 * 60 + 40)
    )


def test_reopen_of_a_resolved_unsigned_ticket() -> None:
    h = History().resolved()
    h.do(decide_reopen, 95, "Not actually fixed")
    assert h.ticket.status is TicketStatus.REOPENED
    assert h.ticket.resolved_at is None
    with rejected("there is nothing to reopen"):
        decide_reopen(h.ticket, stamp(96), "twice")


def test_reopen_before_the_resolution_time_is_rejected() -> None:
    h = History().resolved()
    with rejected(r"is before the resolution \(2026-03-02T10:30:00\+00:00\)"):
        decide_reopen(h.ticket, stamp(89, recorded=100), "again")


# --------------------------------------------------------------------------- times


@pytest.mark.parametrize("name", [n for n in COMMANDS if n not in {"sign", "close", "reopen"}])
def test_occurred_at_before_the_report_is_rejected(name: str) -> None:
    setup, command = COMMANDS[name]
    h = History()
    setup_events = len(setup(h).events)
    floor = {"arrive": "the dispatch", "resume": "the suspension"}.get(name, "the report")
    with rejected(f"is before {floor}"):
        command(h.ticket, stamp(-1, recorded=300))
    assert len(h.events) == setup_events


@pytest.mark.parametrize("name", list(COMMANDS))
def test_occurred_at_beyond_the_clock_skew_is_rejected(name: str) -> None:
    setup, command = COMMANDS[name]
    h = setup(History())
    now = 300
    with rejected(r"is in the future \(now 2026-03-02T14:00:00\+00:00\)"):
        command(h.ticket, stamp(now + 5 + 1 / 60, recorded=now))  # 5 min 1 s ahead


@pytest.mark.parametrize("name", list(COMMANDS))
def test_occurred_at_within_the_clock_skew_is_accepted(name: str) -> None:
    setup, command = COMMANDS[name]
    h = setup(History())
    event = command(h.ticket, stamp(305, recorded=300))  # exactly 5 minutes ahead
    assert event.occurred_at == at(305)
    assert event.timestamp == at(300)
    assert timedelta(minutes=5) == CLOCK_SKEW


def test_backdated_facts_keep_both_times() -> None:
    h = History()
    event = h.do(decide_respond, 5, recorded=8 * 60)
    assert (event.occurred_at, event.timestamp, event.recorded_at) == (at(5), at(480), at(480))
    assert h.ticket.responded_at == at(5)
    assert h.ticket.modified_on == at(480)


# --------------------------------------------------------------------------- replay & envelope


def _rich_history() -> History:
    h = History()
    h.do(decide_respond, 5)
    h.do(decide_reclassify, 6, "stopped the plant", severity=Severity.CRITICAL)
    h.do(decide_dispatch, 10, "bob")
    h.do(decide_suspend, 15, "customer site closed")
    h.do(decide_escalate, 20, EscalationLevel.DEPARTMENT_MANAGER, "overdue")
    h.do(decide_replace, 25, "PSU-24V")
    h.do(decide_resume, 30)
    h.do(decide_dispatch, 35, "carol")
    h.do(decide_arrive, 60, "carol", actor="carol", role=Role.ENGINEER)
    h.do(decide_resolve, 90, "fixed", ResolutionMode.ON_SITE, actor="carol", role=Role.ENGINEER)
    h.do(decide_sign, 95, "Wang Wei", SignatureKind.FAX_COPY)
    h.do(decide_close, 100)
    h.do(decide_reopen, 200, "again", role=Role.CUSTOMER)
    h.do(decide_escalate, 210, EscalationLevel.CHIEF_ENGINEER_OFFICE, "repeat fault")
    h.do(decide_resolve, 220, "really fixed", ResolutionMode.REMOTE)
    h.do(decide_sign, 230, "Li Na", SignatureKind.MANAGER_APPROVED)
    h.do(decide_close, 240)
    return h


@pytest.mark.parametrize(
    "build",
    [
        lambda: History(),
        lambda: History().closed(),
        lambda: History().on_site().cancelled(),
        _rich_history,
    ],
    ids=["reported", "closed", "cancelled", "rich"],
)
def test_project_ticket_rebuilds_the_same_state(build: Callable[[], History]) -> None:
    h = build()
    assert project_ticket(None, h.events) == h.ticket
    assert project_ticket(None, iter(h.events)) == h.ticket
    middle = len(h.events) // 2
    assert project_ticket(project_ticket(None, h.events[:middle]), h.events[middle:]) == h.ticket


def test_project_ticket_of_no_events_is_none() -> None:
    assert project_ticket(None, []) is None


def test_rich_history_final_state() -> None:
    t = _rich_history().ticket
    assert t.version == 18
    assert t.status is TicketStatus.CLOSED
    assert (t.severity, t.category) == (Severity.CRITICAL, Category.DEFECT)
    assert t.escalation_level is EscalationLevel.CHIEF_ENGINEER_OFFICE
    assert t.engineer == "carol"
    assert t.first_arrived_at == at(60)
    assert t.reopen_count == 1
    assert t.resolution == "really fixed"
    assert t.signature == Signature(
        kind=SignatureKind.MANAGER_APPROVED, signer="Li Na", signed_at=at(230)
    )
    assert [r.unit for r in t.replacements] == ["PSU-24V"]
    assert t.suspended_at is None


def test_versions_increment_by_one_and_deciding_does_not_change_the_ticket() -> None:
    h = _rich_history()
    assert [e.originator_version for e in h.events] == list(range(1, len(h.events) + 1))
    assert {e.originator_id for e in h.events} == {TICKET_ID}

    before = History().dispatched()
    snapshot = before.ticket.model_copy(deep=True)
    event = decide_arrive(before.ticket, stamp(60))
    assert event.originator_version == before.ticket.version + 1 == 3
    assert before.ticket == snapshot
    with rejected("already dispatched"):
        decide_dispatch(before.ticket, stamp(60), "bob")
    assert before.ticket == snapshot


def test_every_event_carries_actor_role_and_utc_times() -> None:
    h = _rich_history()
    expected_actors = {"dispatcher-li", "carol"}
    for event in h.events:
        assert event.actor in expected_actors
        assert isinstance(event.role, Role)
        for moment in (event.occurred_at, event.timestamp):
            assert moment.tzinfo is UTC
            assert moment.utcoffset() == timedelta(0)
    assert h.events[9].actor == "carol" and h.events[9].role is Role.ENGINEER


def test_times_in_another_zone_are_normalised_to_utc() -> None:
    h = History()
    local = Stamp(
        actor="engineer-zhao",
        role=Role.ENGINEER,
        occurred_at=datetime(2026, 3, 2, 17, 30, tzinfo=SHANGHAI),
        recorded_at=datetime(2026, 3, 2, 17, 45, tzinfo=SHANGHAI),
    )
    event = decide_respond(h.ticket, local)
    assert event.occurred_at == at(30)
    assert event.occurred_at.tzinfo is UTC
    assert event.timestamp == at(45)
    assert event.timestamp.tzinfo is UTC
    assert (event.actor, event.role) == ("engineer-zhao", Role.ENGINEER)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Stamp(
            actor="x",
            role=Role.SYSTEM,
            occurred_at=datetime(2026, 3, 2, 9, 0),
            recorded_at=T0,
        )


def test_rule_violation_is_a_domain_error() -> None:
    assert issubclass(RuleViolation, DomainError)


# --------------------------------------------------------------------------- numbering


def test_format_number_pads_year_and_sequence() -> None:
    assert format_number(2026, 123) == "T-2026-000123"
    assert format_number(2026, 1) == "T-2026-000001"
    assert format_number(2026, 1_234_567) == "T-2026-1234567"
    assert format_number(999, 7) == "T-0999-000007"


def test_ticket_id_for_is_deterministic_and_distinct() -> None:
    assert ticket_id_for("T-2026-000123") == ticket_id_for("T-2026-000123")
    assert ticket_id_for("T-2026-000123") == uuid5(NAMESPACE, "ticket:T-2026-000123")
    assert uuid5(NAMESPACE_URL, "urn:ledger:after-sales") == NAMESPACE
    assert ticket_id_for("T-2026-000123").version == 5
    ids = {ticket_id_for(format_number(year, n)) for year in (2025, 2026) for n in range(1, 51)}
    assert len(ids) == 100
    assert ticket_id_for(format_number(2026, 1_234_567)) != ticket_id_for("T-2026-000123")


@pytest.mark.parametrize(
    "number",
    [
        "",
        "T-2026-123",
        "T-26-000123",
        "t-2026-000123",
        "X-2026-000123",
        "T-2026-00012a",
        "T2026000123",
        "T-2026-000123-1",
        " T-2026-000123",
        "T-2026-000123 ",
    ],
)
def test_ticket_id_for_rejects_malformed_numbers(number: str) -> None:
    with pytest.raises(ValueError, match="is not a ticket number"):
        ticket_id_for(number)


def test_ticket_id_for_rejects_a_trailing_newline() -> None:
    with pytest.raises(ValueError, match="is not a ticket number"):
        ticket_id_for("T-2026-000123\n")


def test_ticket_id_for_rejects_fullwidth_digits() -> None:
    with pytest.raises(ValueError, match="is not a ticket number"):
        ticket_id_for("T-２０２６-000123")


def test_sequence_id_is_per_year_and_deterministic() -> None:
    assert sequence_id(2026) == sequence_id(2026)
    assert sequence_id(2026) == uuid5(NAMESPACE, "ticket-number-sequence:2026")
    years = range(2000, 2100)
    assert len({sequence_id(y) for y in years}) == len(years)
    assert sequence_id(2026) != ticket_id_for("T-2026-000001")


# --- time order of causally dependent steps --------------------------------------------


def test_on_site_resolution_before_the_arrival_time_is_rejected() -> None:
    h = History().on_site()  # arrives at minute 60
    with pytest.raises(RuleViolation, match="before the arrival"):
        h.do(decide_resolve, 30, "Fixed", ResolutionMode.ON_SITE, recorded=70)
    event = h.do(decide_resolve, 75, "Fixed", ResolutionMode.ON_SITE)
    assert event.occurred_at == at(75)


def test_redispatch_before_the_previous_dispatch_is_rejected() -> None:
    h = History().dispatched("bob", minute=50)
    with pytest.raises(RuleViolation, match="before the previous dispatch"):
        h.do(decide_dispatch, 5, "carol", recorded=55)
    assert h.ticket.dispatched_at == at(50)


def test_reopen_before_the_closing_is_rejected() -> None:
    h = History().closed()  # resolved 90, signed 100, closed 110
    with pytest.raises(RuleViolation, match="before the closing"):
        h.do(decide_reopen, 105, "Fault came back", recorded=120)
    assert h.do(decide_reopen, 115, "Fault came back").occurred_at == at(115)


def test_the_same_engineer_may_be_dispatched_again_after_a_reopen() -> None:
    h = History().on_site("bob")
    h.do(decide_resolve, 90, "Fixed", ResolutionMode.ON_SITE, actor="bob", role=Role.ENGINEER)
    h.do(decide_reopen, 120, "Fault came back")
    event = h.do(decide_dispatch, 130, "bob")
    assert event.engineer == "bob"
    assert h.ticket.status is TicketStatus.DISPATCHED


def test_cancelling_a_suspended_ticket_ends_the_suspension() -> None:
    h = History().suspended()
    h.do(decide_cancel, 30, "Customer withdrew the request")
    assert h.ticket.status is TicketStatus.CANCELLED
    assert h.ticket.is_suspended is False


def test_reclassify_compares_values_not_identity() -> None:
    h = History()  # major / defect
    with pytest.raises(RuleViolation, match="nothing to reclassify"):
        h.do(decide_reclassify, 5, "same again", severity="major")  # a plain string


# --------------------------------------------------------------------------- whose ticket


def test_an_engineer_records_an_arrival_only_on_a_ticket_dispatched_to_them() -> None:
    h = History().dispatched("王工")
    with rejected(
        "ticket T-2026-000123 is dispatched to 王工: engineer 李工 may not record an arrival on "
        "it \\(re-dispatch it to 李工 first, or the desk records it on 王工's behalf\\)"
    ):
        decide_arrive(h.ticket, stamp(30, actor="李工", role=Role.ENGINEER))
    with rejected("engineer 李工 may not record an arrival"):
        decide_arrive(h.ticket, stamp(30, actor="李工", role=Role.ENGINEER), "王工")
    # the dispatched engineer (the name compared as people are: spaces and case aside) ...
    assert h.do(decide_arrive, 30, actor=" 王工 ", role=Role.ENGINEER).engineer == "王工"
    # ... or the desk, recording what the engineer phoned in
    desk = History().dispatched("王工")
    assert desk.do(decide_arrive, 30, role=Role.DISPATCHER).actor == "dispatcher-li"


def test_a_redispatch_hands_the_ticket_to_the_new_engineer() -> None:
    h = History().on_site("bob")
    h.dispatched("carol", minute=70)
    with rejected("dispatched to carol: engineer bob may not record an arrival"):
        decide_arrive(h.ticket, stamp(80, actor="bob", role=Role.ENGINEER))
    h.do(decide_arrive, 80, actor="Carol", role=Role.ENGINEER)


ENGINEER_STEPS: dict[str, tuple[Callable[[History], Any], Callable[..., Any], tuple[Any, ...]]] = {
    "respond": (lambda h: h.dispatched(), decide_respond, ()),
    "record an arrival": (lambda h: h.dispatched(), decide_arrive, ()),
    "resolve it": (lambda h: h.on_site(), decide_resolve, ("Fixed", ResolutionMode.ON_SITE)),
    "record the signed service form": (
        lambda h: h.dispatched().resolved(),
        decide_sign,
        ("Wang Wei",),
    ),
    "escalate it": (
        lambda h: h.dispatched(),
        decide_escalate,
        (EscalationLevel.CHIEF_ENGINEER_OFFICE, "Beyond me"),
    ),
    "suspend it": (lambda h: h.dispatched(), decide_suspend, ("Waiting for parts",)),
    "resume it": (lambda h: h.dispatched().suspended(), decide_resume, ()),
    "provide a replacement unit": (lambda h: h.dispatched(), decide_replace, ("PLC B",)),
    "reclassify it": (
        lambda h: h.dispatched(),
        decide_reclassify,
        ("Worse than told", Severity.CRITICAL),
    ),
    "close it": (lambda h: h.dispatched().signed(), decide_close, ()),
}


@pytest.mark.parametrize("action", ENGINEER_STEPS)
def test_every_engineer_step_is_the_dispatched_engineers(action: str) -> None:
    prepare, decide, args = ENGINEER_STEPS[action]
    h = History()
    prepare(h)
    with rejected(f"dispatched to bob: engineer carol may not {action} on it"):
        decide(h.ticket, stamp(200, actor="carol", role=Role.ENGINEER), *args)
    event = h.do(decide, 200, *args, actor="bob", role=Role.ENGINEER)
    assert event.actor == "bob"


def test_before_any_dispatch_any_engineer_may_respond_and_fix_remotely() -> None:
    h = History()
    h.do(decide_respond, 5, actor="carol", role=Role.ENGINEER)
    h.do(decide_resolve, 20, "Talked them through it", ResolutionMode.REMOTE, actor="dave",
         role=Role.ENGINEER)  # fmt: skip
    assert status(h) is TicketStatus.RESOLVED


# --------------------------------------------------------------------------- coverage


def out_of_contract(h: History) -> None:
    """The report of ``h`` noted outside a coverage that starts after it."""
    ticket = h.ticket
    noted = decide_coverage(
        ticket,
        stamp(0),
        reported_on=date(2026, 3, 2),
        warranty_start=date(2026, 3, 15),
        warranty_end=date(2027, 3, 14),
    )
    assert isinstance(noted, OutOfContractNoted) and noted.originator_version == 2
    h.events.append(noted)
    h.ticket = mutate(noted, h.ticket)


@pytest.mark.parametrize(
    ("reported_on", "covered"),
    [
        (date(2026, 3, 14), False),
        (date(2026, 3, 15), True),
        (date(2027, 3, 14), True),
        (date(2027, 3, 15), False),
    ],
)
def test_coverage_is_the_warranty_days_both_ends_included(reported_on: date, covered: bool) -> None:
    h = History()
    noted = decide_coverage(
        h.ticket,
        stamp(0),
        reported_on=reported_on,
        warranty_start=date(2026, 3, 15),
        warranty_end=date(2027, 3, 14),
    )
    assert (noted is None) is covered
    if noted is not None:
        assert (noted.reported_on, noted.warranty_start, noted.warranty_end) == (
            reported_on,
            date(2026, 3, 15),
            date(2027, 3, 14),
        )
        assert mutate(noted, h.ticket).out_of_contract


def test_an_out_of_contract_ticket_is_dispatched_only_after_its_contact_sheet() -> None:
    h = History()
    out_of_contract(h)
    h.do(decide_respond, 5)  # the hotline still answers
    with rejected(
        "ticket T-2026-000123 is out of contract: record its work contact sheet "
        "\\(工作联系单\\) with the fee confirmed before dispatching it"
    ):
        decide_dispatch(h.ticket, stamp(10), "bob")
    sheet = h.do(decide_contact_sheet, 30, "LXD-2026-017", Decimal("800"), "Wang Wei", "上门费")
    assert type(sheet) is WorkContactSheetRecorded
    assert (sheet.sheet, sheet.fee, sheet.confirmed_by, sheet.note) == (
        "LXD-2026-017",
        Decimal("800"),
        "Wang Wei",
        "上门费",
    )
    assert h.ticket.contact_sheet is not None
    assert h.ticket.contact_sheet.recorded_at == at(30)
    with rejected("already has its work contact sheet \\(LXD-2026-017\\)"):
        decide_contact_sheet(h.ticket, stamp(40), "LXD-2026-018", Decimal("900"), "Wang Wei")
    h.do(decide_dispatch, 40, "bob")
    assert status(h) is TicketStatus.DISPATCHED
    assert project_ticket(None, h.events) == h.ticket


def test_a_ticket_within_its_coverage_needs_no_contact_sheet() -> None:
    h = History()
    with rejected("is within its contract's coverage: it needs no work contact sheet"):
        decide_contact_sheet(h.ticket, stamp(5), "LXD-1", Decimal("0"), "Wang Wei")
    h.dispatched()
    assert not h.ticket.out_of_contract and h.ticket.contact_sheet is None


def test_a_contact_sheet_follows_the_report_on_an_active_ticket() -> None:
    h = History(occurred=0)
    out_of_contract(h)
    with rejected("before the report"):
        decide_contact_sheet(h.ticket, stamp(-5), "LXD-1", Decimal("10"), "Wang Wei")
    h.cancelled()
    with rejected("is cancelled: cannot record a work contact sheet"):
        decide_contact_sheet(h.ticket, stamp(210), "LXD-1", Decimal("10"), "Wang Wei")
