"""Property tests of the Ticket aggregate: random command sequences, invariants on the result.

A history starts from a decided report. Each generated command is decided against the
current state with a stamp whose recording clock mostly moves forward (sometimes a little
back) and whose ``occurred_at`` is mostly a little before the recording time, sometimes far
back (possibly before the report) and sometimes in the future (within or beyond the allowed
clock skew). Accepted commands are folded into the state; rejected ones
(:class:`RuleViolation`) are skipped. Any other exception fails the test.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.domain.errors import RuleViolation
from ledger.domain.model import Stamp
from ledger.domain.numbering import format_number, ticket_id_for
from ledger.domain.ticket import (
    CLOCK_SKEW,
    Arrived,
    Cancelled,
    Closed,
    Contact,
    CustomerSigned,
    Dispatched,
    Escalated,
    Reclassified,
    Reopened,
    ReplacementProvided,
    Reported,
    Resolved,
    Responded,
    Resumed,
    Suspended,
    Ticket,
    TicketEvent,
    mutate,
    project_ticket,
)
from ledger.domain.ticket_rules import (
    decide_arrive,
    decide_cancel,
    decide_close,
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

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
NUMBER = format_number(2026, 42)
TICKET_ID = ticket_id_for(NUMBER)
ZONES: list[tzinfo] = [UTC, ZoneInfo("Asia/Shanghai"), timezone(timedelta(hours=-5))]

DECIDERS: dict[str, tuple[Callable[..., TicketEvent], type[TicketEvent]]] = {
    "respond": (decide_respond, Responded),
    "dispatch": (decide_dispatch, Dispatched),
    "arrive": (decide_arrive, Arrived),
    "resolve": (decide_resolve, Resolved),
    "sign": (decide_sign, CustomerSigned),
    "escalate": (decide_escalate, Escalated),
    "suspend": (decide_suspend, Suspended),
    "resume": (decide_resume, Resumed),
    "replace": (decide_replace, ReplacementProvided),
    "reclassify": (decide_reclassify, Reclassified),
    "close": (decide_close, Closed),
    "reopen": (decide_reopen, Reopened),
    "cancel": (decide_cancel, Cancelled),
}

# How often each command is drawn: the lifecycle commands often, cancel rarely (it ends
# the history).
WEIGHTS = {
    "respond": 4,
    "dispatch": 6,
    "arrive": 6,
    "resolve": 6,
    "sign": 6,
    "escalate": 4,
    "suspend": 4,
    "resume": 4,
    "replace": 3,
    "reclassify": 4,
    "close": 6,
    "reopen": 4,
    "cancel": 2,
}
WEIGHTED_NAMES = [name for name, weight in WEIGHTS.items() for _ in range(weight)]

# --------------------------------------------------------------------------- strategies

# Each piece of a command is one draw from a fixed list (simplest first, so failures
# shrink towards it): random generation stays fast enough for long histories.
WORDS = [
    "Cabinet reboots",
    "Waiting for parts",
    "Customer asked",
    "x",
    "  padded text  ",
    "门禁控制器无法开机",
    "请尽快派工程师到现场",
    "Long " * 40,
]
words = st.sampled_from(WORDS)
optional_words = st.sampled_from([None, *WORDS])
ENGINEERS = ["bob", "carol", "张工", " bob ", "carol  "]
engineers = st.sampled_from(ENGINEERS)
PEOPLE = ["Wang Wei", "李娜", "dispatcher-li", "bob"]
people = st.sampled_from(PEOPLE)
# Who records a command, and in which zone they typed its times.
authors = st.sampled_from(list(itertools.product(PEOPLE, Role, ZONES)))


def _minutes(*values: int) -> list[timedelta]:
    return [timedelta(minutes=m) for m in values]


# ``occurred_at - recorded_at``: mostly slightly backdated, sometimes far back (possibly
# before the report or before the fact a rule compares with), sometimes ahead of the
# recording clock, on both sides of the 5 minutes allowed.
SKEWS = [
    *_minutes(0, -1, -2, -5, -10, -20, -30, -45, -60, 0, -1, -5, -15),
    *_minutes(-90, -180, -600, -24 * 60, -3 * 24 * 60),
    *[timedelta(seconds=s) for s in (1, 60, 299, 300, 301, 600)],
]
skews = st.sampled_from(SKEWS)
# How far the recording clock moves between commands: mostly forward, sometimes back.
CLOCK_STEPS = _minutes(0, 1, 5, 10, 15, 30, 45, 60, 90, 120, 180, 240, 480, -1, -10, -30)
clock_steps = st.sampled_from(CLOCK_STEPS)
coin = st.booleans()
LENGTHS = [*range(0, 11), *range(20, 61, 2), *range(40, 61, 2)]
LEVELS = list(EscalationLevel)


def plausible_next(ticket: Ticket) -> tuple[str, ...]:
    """The commands a service desk would most likely record next."""
    if ticket.status is TicketStatus.CLOSED:
        return ("reopen",)
    if ticket.is_resolved:
        return ("close",) if ticket.signature else ("sign", "sign", "reopen", "close")
    # An unresolved ticket may always be escalated while there is a rung left.
    more = ("escalate",) if ticket.escalation_level is not LEVELS[-1] else ()
    if ticket.is_suspended:
        return ("resume", *more)
    if ticket.on_site:
        return ("resolve", *more)
    if ticket.engineer is not None:
        return ("arrive", "dispatch", *more)
    return ("respond", "dispatch", "resolve", *more)


ARGUMENTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "respond": st.fixed_dictionaries({"note": optional_words}),
    "dispatch": st.fixed_dictionaries({"engineer": engineers, "note": optional_words}),
    "arrive": st.fixed_dictionaries({"engineer": st.sampled_from([None, *ENGINEERS])}),
    "resolve": st.fixed_dictionaries({"summary": words, "mode": st.sampled_from(ResolutionMode)}),
    "sign": st.fixed_dictionaries({"signer": people, "kind": st.sampled_from(SignatureKind)}),
    "escalate": st.fixed_dictionaries({"to_level": st.sampled_from(LEVELS), "reason": words}),
    "suspend": st.fixed_dictionaries({"reason": words}),
    "resume": st.fixed_dictionaries({"reason": optional_words}),
    "replace": st.fixed_dictionaries({"unit": words, "note": optional_words}),
    "reclassify": st.fixed_dictionaries(
        {
            "reason": words,
            "severity": st.sampled_from([None, *Severity]),
            "category": st.sampled_from([None, *Category]),
        }
    ),
    "close": st.fixed_dictionaries({"note": optional_words}),
    "reopen": st.fixed_dictionaries({"reason": words}),
    "cancel": st.fixed_dictionaries({"reason": words}),
}


@dataclass
class Command:
    name: str
    kwargs: dict[str, Any]
    author: tuple[str, Role, tzinfo]
    clock_step: timedelta
    skew: timedelta

    def stamp(self, now: datetime) -> Stamp:
        actor, role, zone = self.author
        return Stamp(
            actor=actor,
            role=role,
            occurred_at=(now + self.skew).astimezone(zone),
            recorded_at=now.astimezone(zone),
        )


@functools.cache
def commands(
    plausible: tuple[str, ...], engineer: str | None, next_rung: EscalationLevel | None
) -> st.SearchStrategy[Command]:
    """Commands for a ticket in a given situation (cached: building strategies is slow).

    Two times in three a plausible next step, otherwise any command. An arrival often
    names the dispatched engineer and an escalation often goes one rung up, so that those
    commands are accepted now and then."""
    repeat = 2 * len(WEIGHTED_NAMES) // len(plausible)
    names = st.sampled_from([*WEIGHTED_NAMES, *(n for n in plausible for _ in range(repeat))])

    @st.composite
    def command(draw: st.DrawFn) -> Command:
        name = draw(names)
        kwargs = draw(ARGUMENTS[name])
        if name == "arrive" and engineer is not None and draw(coin):
            kwargs["engineer"] = engineer
        if name == "escalate" and next_rung is not None and draw(coin):
            kwargs["to_level"] = next_rung
        return Command(
            name=name,
            kwargs=kwargs,
            author=draw(authors),
            clock_step=draw(clock_steps),
            skew=draw(skews),
        )

    return command()


def commands_for(ticket: Ticket) -> st.SearchStrategy[Command]:
    rank = ticket.escalation_level.rank
    next_rung = LEVELS[rank + 1] if rank + 1 < len(LEVELS) else None
    return commands(plausible_next(ticket), ticket.engineer, next_rung)


@st.composite
def reports(draw: st.DrawFn) -> Reported:
    """A decided report, recorded at T0, that happened up to 10 hours earlier (or just ahead)."""
    ahead = draw(st.booleans())
    if ahead:
        skew = timedelta(seconds=draw(st.integers(0, 300)))
    else:
        skew = -timedelta(minutes=draw(st.integers(0, 600)))
    stamp = Stamp(
        actor=draw(people),
        role=draw(st.sampled_from(Role)),
        occurred_at=(T0 + skew).astimezone(draw(st.sampled_from(ZONES))),
        recorded_at=T0,
    )
    return decide_report(
        TICKET_ID,
        NUMBER,
        stamp,
        contract_id="seed-002",
        customer="禹州市公安局",
        contact=Contact(name="张三", phone="13800138001"),
        site="看守所监控中心",
        device="门禁控制器",
        category=draw(st.sampled_from(Category)),
        severity=draw(st.sampled_from(Severity)),
        description="门禁控制器无法开机",
        channel=draw(st.sampled_from(Channel)),
    )


# --------------------------------------------------------------------------- running


class Run:
    """A history being generated: the accepted events, the state, the rejections."""

    def __init__(self, report: Reported) -> None:
        self.events: list[TicketEvent] = [report]
        self.ticket: Ticket = mutate(report, None)
        self.now = T0
        self.rejected: list[tuple[Command, str]] = []

    def step(self, command: Command) -> None:
        """Decide ``command`` against the current state; keep its event if accepted."""
        self.now += command.clock_step
        decide, expected_type = DECIDERS[command.name]
        before = self.ticket
        snapshot = before.model_copy(deep=True)
        dump = before.model_dump()
        try:
            new = decide(before, command.stamp(self.now), **command.kwargs)
        except RuleViolation as exc:
            # A rejected command records nothing and leaves the state as it was.
            assert self.ticket is before
            assert before == snapshot, f"{command.name} changed the ticket while rejecting"
            assert before.model_dump() == dump
            assert str(exc), "a rule violation must say what is wrong"
            self.rejected.append((command, str(exc)))
            return
        # Deciding never touches the state either.
        assert before == snapshot, f"{command.name} changed the ticket while deciding"
        assert type(new) is expected_type
        self.events.append(new)
        self.ticket = mutate(new, before)


# How many commands a history tries: a few short ones, mostly long enough for the
# reopen-and-close-again cycles (about half the commands are rejected).
lengths = st.sampled_from(LENGTHS)


def generate(data: st.DataObject, report: Reported) -> Run:
    r = Run(report)
    for _ in range(data.draw(lengths, label="commands")):
        r.step(data.draw(commands_for(r.ticket)))
    return r


# --------------------------------------------------------------------------- properties


def check_versions_have_no_gaps(r: Run) -> None:
    versions = [e.originator_version for e in r.events]
    assert versions == list(range(1, len(r.events) + 1)), versions
    assert r.ticket.version == len(r.events)
    assert {e.originator_id for e in r.events} == {TICKET_ID}


def check_replay_gives_the_same_state(r: Run) -> None:
    assert project_ticket(None, r.events) == r.ticket
    assert project_ticket(None, list(r.events)) == r.ticket  # replay is repeatable


def check_nothing_follows_a_cancellation(r: Run) -> None:
    types = [type(e) for e in r.events]
    if Cancelled in types:
        assert types.index(Cancelled) == len(types) - 1, [t.__name__ for t in types]


def _since_last(events: list[TicketEvent], marker: type[TicketEvent]) -> list[TicketEvent]:
    """The events after the last ``marker`` (or after the report if there is none)."""
    for i in range(len(events) - 1, -1, -1):
        if type(events[i]) is marker:
            return events[i + 1 :]
    return events[1:]


def check_close_needs_resolution_and_signature(r: Run) -> None:
    for i, e in enumerate(r.events):
        if type(e) is Closed:
            cycle = _since_last(r.events[:i], Reopened)
            kinds = [type(x) for x in cycle]
            assert Resolved in kinds, f"Closed at v{e.originator_version} without Resolved"
            assert CustomerSigned in kinds, f"Closed at v{e.originator_version} without signature"
            assert kinds.index(Resolved) < kinds.index(CustomerSigned)


def check_arrival_follows_a_dispatch_of_the_same_engineer(r: Run) -> None:
    for i, e in enumerate(r.events):
        if type(e) is Arrived:
            dispatches = [x for x in r.events[:i] if type(x) is Dispatched]
            assert dispatches, f"Arrived at v{e.originator_version} without a dispatch"
            assert dispatches[-1].engineer == e.engineer
            assert e.occurred_at >= dispatches[-1].occurred_at


def check_times_are_within_bounds(r: Run) -> None:
    report = r.events[0]
    for e in r.events:
        assert e.occurred_at.tzinfo is UTC and e.timestamp.tzinfo is UTC
        assert e.occurred_at >= report.occurred_at, e
        assert e.occurred_at <= e.timestamp + CLOCK_SKEW, e


def check_ordered_pairs(r: Run) -> None:
    """The times the rules compare: signature after resolution, close after signature, and
    resume after suspension."""
    last: dict[type[TicketEvent], TicketEvent] = {}
    for e in r.events:
        if type(e) in (CustomerSigned, Reopened):
            assert e.occurred_at >= last[Resolved].occurred_at
        if type(e) is Closed:
            assert e.occurred_at >= last[CustomerSigned].occurred_at
        if type(e) is Resumed:
            assert e.occurred_at >= last[Suspended].occurred_at
        last[type(e)] = e


def check_escalation_goes_strictly_up(r: Run) -> None:
    level = EscalationLevel.ENGINEER
    for e in r.events:
        if type(e) is Escalated:
            assert e.from_level is level
            assert e.to_level.rank > e.from_level.rank
            level = e.to_level
    assert r.ticket.escalation_level is level


def check_no_double_resolution(r: Run) -> None:
    resolved = False
    for e in r.events:
        if type(e) is Resolved:
            assert not resolved, f"second Resolved at v{e.originator_version} without Reopened"
            resolved = True
        elif type(e) is Reopened:
            assert resolved, f"Reopened at v{e.originator_version} with nothing resolved"
            resolved = False
    assert r.ticket.is_resolved is resolved


def check_state_is_consistent(r: Run) -> None:
    t = r.ticket
    assert not (t.is_suspended and t.is_resolved)
    if t.signature is not None:
        assert t.is_resolved and t.signature.signed_at >= t.resolved_at  # type: ignore[operator]
    if t.on_site:
        assert t.engineer is not None and t.first_arrived_at is not None
    if type(r.events[-1]) is Cancelled:
        assert not t.is_open and t.cancelled_at == r.events[-1].occurred_at
    assert t.reopen_count == sum(type(e) is Reopened for e in r.events)
    assert len(t.replacements) == sum(type(e) is ReplacementProvided for e in r.events)


def _last(events: list[TicketEvent], *kinds: type[TicketEvent]) -> TicketEvent | None:
    return next((e for e in reversed(events) if type(e) in kinds), None)


def _current(
    events: list[TicketEvent], kind: type[TicketEvent], *undone_by: type[TicketEvent]
) -> Any:
    """The last ``kind`` event, unless an ``undone_by`` event came after it."""
    last = _last(events, kind, *undone_by)
    return last if type(last) is kind else None


STATUS_OF: dict[type[TicketEvent], TicketStatus] = {
    Dispatched: TicketStatus.DISPATCHED,
    Arrived: TicketStatus.ON_SITE,
    Resolved: TicketStatus.RESOLVED,
    Closed: TicketStatus.CLOSED,
    Reopened: TicketStatus.REOPENED,
    Cancelled: TicketStatus.CANCELLED,
}


def check_state_matches_the_events(r: Run) -> None:
    """An oracle written independently of ``mutate``: each field from the events alone."""
    events, t = r.events, r.ticket
    report = events[0]
    assert isinstance(report, Reported)
    assert (t.created_on, t.reported_at) == (report.timestamp, report.occurred_at)
    assert t.modified_on == events[-1].timestamp

    last_status = _last(events, *STATUS_OF)
    if last_status is not None:
        assert t.status is STATUS_OF[type(last_status)]
    else:
        responded = any(type(e) is Responded for e in events)
        assert t.status is (TicketStatus.RESPONDED if responded else TicketStatus.REPORTED)

    responded_event = _last(events, Responded)
    assert t.responded_at == (responded_event.occurred_at if responded_event else None)

    dispatched = _last(events, Dispatched)
    assert isinstance(dispatched, Dispatched | None)
    assert t.engineer == (dispatched.engineer if dispatched else None)
    assert t.dispatched_at == (dispatched.occurred_at if dispatched else None)
    first_arrival = next((e for e in events if type(e) is Arrived), None)
    assert t.first_arrived_at == (first_arrival.occurred_at if first_arrival else None)
    assert t.on_site == (_current(events, Arrived, Dispatched, Reopened) is not None)

    resolved = _current(events, Resolved, Reopened)
    assert t.resolved_at == (resolved.occurred_at if resolved else None)
    assert t.resolution == (resolved.summary if resolved else None)
    assert t.resolution_mode == (resolved.mode if resolved else None)

    signed = _current(events, CustomerSigned, Reopened)
    if signed is None:
        assert t.signature is None
    else:
        assert t.signature is not None
        assert (t.signature.kind, t.signature.signer) == (signed.kind, signed.signer)
        assert t.signature.signed_at == signed.occurred_at

    suspended = _current(events, Suspended, Resumed, Cancelled)
    assert t.suspended_at == (suspended.occurred_at if suspended else None)
    closed = _current(events, Closed, Reopened)
    assert t.closed_at == (closed.occurred_at if closed else None)
    cancelled = _last(events, Cancelled)
    assert t.cancelled_at == (cancelled.occurred_at if cancelled else None)

    reclassified = _last(events, Reclassified, Reported)
    assert isinstance(reclassified, Reclassified | Reported)
    assert (t.severity, t.category) == (reclassified.severity, reclassified.category)

    assert t.reopen_count == sum(type(e) is Reopened for e in events)
    assert [(u.unit, u.provided_at, u.note) for u in t.replacements] == [
        (e.unit, e.occurred_at, e.note) for e in events if isinstance(e, ReplacementProvided)
    ]


PROPERTIES = [
    check_versions_have_no_gaps,
    check_replay_gives_the_same_state,
    check_nothing_follows_a_cancellation,
    check_close_needs_resolution_and_signature,
    check_arrival_follows_a_dispatch_of_the_same_engineer,
    check_times_are_within_bounds,
    check_ordered_pairs,
    check_escalation_goes_strictly_up,
    check_no_double_resolution,
    check_state_is_consistent,
    check_state_matches_the_events,
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(report=reports(), data=st.data())
def test_every_history_keeps_the_invariants(report: Reported, data: st.DataObject) -> None:
    r = generate(data, report)
    for check in PROPERTIES:
        check(r)
    for e in r.events[1:]:
        event(f"accepted {type(e).__name__}")
    event(f"history of {len(r.events) // 10 * 10}+ events")


@settings(max_examples=50, deadline=None)
@given(report=reports(), data=st.data(), cut=st.integers(0, 60))
def test_replay_can_resume_from_any_intermediate_state(
    report: Reported, data: st.DataObject, cut: int
) -> None:
    r = generate(data, report)
    cut = min(cut, len(r.events))
    middle = project_ticket(None, r.events[:cut])
    assert project_ticket(middle, r.events[cut:]) == r.ticket


# --------------------------------------------------------------------------- the generator


def test_the_generator_reaches_the_interesting_histories() -> None:
    """Guard against a generator that mostly produces rejected commands, or never a
    rejection of a given kind."""
    seen: set[str] = set()
    reasons: set[str] = set()
    closed_twice = arrived_after_redispatch = full_ladder = False

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(report=reports(), data=st.data())
    def explore(report: Reported, data: st.DataObject) -> None:
        nonlocal closed_twice, arrived_after_redispatch, full_ladder
        r = generate(data, report)
        kinds = [type(e) for e in r.events]
        seen.update(k.__name__ for k in kinds)
        reasons.update(REASONS[key] for _, why in r.rejected for key in REASONS if key in why)
        closed_twice |= kinds.count(Closed) >= 2
        engineers_sent = {e.engineer for e in r.events if type(e) is Dispatched}
        arrived_after_redispatch |= Arrived in kinds and len(engineers_sent) >= 2
        full_ladder |= r.ticket.escalation_level is EscalationLevel.CHIEF_ENGINEER_OFFICE

    explore()
    assert seen == {cls.__name__ for _, cls in DECIDERS.values()} | {"Reported"}
    assert closed_twice, "no generated history was closed, reopened and closed again"
    assert arrived_after_redispatch, "no generated history re-dispatched and then arrived"
    assert full_ladder, "no generated history escalated to the chief engineer office"
    assert reasons == set(REASONS.values())


# Fragments of rejection messages, by the rule they come from.
REASONS = {
    "in the future": "future",
    "is before the report": "before report",
    "is before the dispatch": "before dispatch",
    "is before the resolution": "before resolution",
    "is before the signature": "before signature",
    "is before the suspension": "before suspension",
    "is cancelled": "cancelled",
    "is closed": "closed",
    "is suspended": "suspended",
    "already resolved": "resolved twice",
    "not resolved": "not resolved",
    "has not been dispatched": "arrival without dispatch",
    ", not ": "arrival of another engineer",
    "already dispatched": "same engineer",
    "already responded": "responded twice",
    "needs the engineer's arrival": "on-site without arrival",
    "up the ladder": "escalation down",
    "nothing to reclassify": "no reclassification",
    "is not suspended": "resume without suspension",
    "no clock to pause": "suspend resolved",
    "already signed": "signed twice",
    "no customer": "close without signature",
}
