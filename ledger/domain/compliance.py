"""Judging one ticket against its contract: where the SLA clock meets the ticket. Pure.

The SLA projection, ``ledger ticket show`` and the escalation sweep all call
:func:`judge_ticket`, so they can never disagree about a verdict. The rules (see
docs/sla.md):

* every metric is a clock of ``ledger.domain.metrics``: the built-in ones run from
  ``Reported.occurred_at`` to the ``occurred_at`` of the first ``Responded`` (respond),
  ``Arrived`` (arrive), ``Resolved`` (resolve — a reopening does not restart it) or
  ``ReplacementProvided`` (replacement); a contract may declare others, with their own start
  and stop events, and limit one to consultations or defects;
* the targets are those of the ticket's *current* severity, from the report time on (a
  reclassification re-judges the whole ticket), in the policy in force at the report time;
* a metric the contract does not promise for the severity is not judged at all;
* ``arrive`` does not apply to a ticket resolved before anyone arrived (fixed remotely);
  ``replacement`` does not apply to a ticket resolved by the time a replacement was due,
  and is breached if the ticket was resolved later without one (a metric's ``void`` event);
* targets not done when a ticket is cancelled do not apply;
* suspensions stop every clock when the contract allows pausing;
* a target whose clock needs a year the working-day calendar does not know is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ledger.domain.calendar import CalendarError, WorkCalendar
from ledger.domain.contract import Policy
from ledger.domain.metrics import VOID_NOTES, MetricDef, moment_of
from ledger.domain.sla import (
    Coverage,
    Pause,
    SlaStatus,
    Target,
    clock_for,
    covered_between,
    deadline,
    parse_target,
    verdict_at,
    whole_minutes_up,
)
from ledger.domain.ticket import Suspension, Ticket
from ledger.domain.values import Severity


@dataclass(frozen=True)
class Judgement:
    """One promised metric of one ticket, judged at some ``now``; times in UTC."""

    metric: str
    target: str
    status: SlaStatus
    due_at: datetime | None = None
    done_at: datetime | None = None
    breach_minutes: int = 0
    elapsed: timedelta | None = None
    """Covered time from the report to ``done_at``, pauses excluded (for medians)."""
    note: str | None = None


@dataclass
class _Terms:
    """What judging derives from one policy object, remembered for the next ticket under it:
    its coverage per official calendar and its parsed targets per severity. Both inputs are
    immutable, so the results are too; entries are keyed by identity and keep the objects
    (an ``id`` is never reused while its object lives)."""

    policy: Policy
    coverage: dict[int, tuple[WorkCalendar, Coverage]] = field(default_factory=dict)
    targets: dict[Severity, list[tuple[str, Target]]] = field(default_factory=dict)


_TERMS_KEPT = 256
_terms: dict[int, _Terms] = {}


def _terms_of(policy: Policy) -> _Terms:
    found = _terms.get(id(policy))
    if found is None or found.policy is not policy:
        if len(_terms) >= _TERMS_KEPT:
            _terms.clear()
        found = _terms[id(policy)] = _Terms(policy)
    return found


def contract_coverage(policy: Policy, official: WorkCalendar) -> Coverage:
    """The clock a contract runs on: its hours, its zone, China's calendar plus its own days."""
    terms = _terms_of(policy)
    known = terms.coverage.get(id(official))
    if known is not None and known[0] is official:
        return known[1]
    coverage = _coverage(policy, official)
    terms.coverage[id(official)] = (official, coverage)
    return coverage


def _coverage(policy: Policy, official: WorkCalendar) -> Coverage:
    calendar = official.with_overrides(
        policy.workdays.extra_holidays, policy.workdays.extra_workdays
    )
    if policy.business_hours is not None:
        hours = policy.business_hours
        return Coverage.business(hours.open, hours.close, calendar, policy.zone)
    return Coverage.around_the_clock(policy.zone, calendar)


def ticket_pauses(ticket: Ticket, policy: Policy) -> tuple[Pause, ...]:
    """The ticket's suspensions as clock pauses, when the contract allows pausing."""
    return suspension_pauses(ticket.suspensions, policy)


def suspension_pauses(suspensions: Iterable[Suspension], policy: Policy) -> tuple[Pause, ...]:
    """Suspensions as clock pauses, when the contract allows pausing (a ticket's, read
    without the rest of it)."""
    return tuple(Pause(s.start, s.end) for s in suspensions) if policy.pausing else ()


def judge_ticket(
    ticket: Ticket,
    policy: Policy,
    official: WorkCalendar,
    now: datetime,
    final: Mapping[str, Judgement] | None = None,
) -> list[Judgement]:
    """Every metric the policy promises for the ticket's severity and category, judged as
    of ``now``. ``final``: verdicts of this ticket's current state already final (met,
    breached, n/a), by metric — a final verdict does not change with ``now``, so it is
    taken as it is (the SLA read model's stored ones) instead of judged again."""
    coverage = contract_coverage(policy, official)
    pauses = ticket_pauses(ticket, policy)
    definitions = policy.metric_definitions
    known = final or {}
    return [
        known.get(metric)
        or _judge(metric, definitions[metric], target, ticket, coverage, pauses, now)
        for metric, target in promised(policy, ticket.severity)
        if _applies(definitions[metric], ticket)
    ]


def judged_again(
    earlier: Mapping[str, Judgement],
    policy: Policy,
    official: WorkCalendar,
    severity: Severity,
    now: datetime,
    pauses: tuple[Pause, ...] = (),
) -> list[Judgement]:
    """What :func:`judge_ticket` finds at ``now`` for a ticket whose verdicts were judged at
    an earlier instant (by metric: the SLA read model's, judged at the report) when nothing
    but the time has changed since and every target not final was ``pending``: a final one
    stands, and a pending one (its clock's start and due time stand too) is still pending up
    to its due time, then overdue by the covered minutes since, as ``verdict_at`` counts
    them. Spares judging the ticket again, and loading it unless ``pauses`` matter to a
    target now late (:func:`pauses_matter`: the ticket's pauses, ``ticket_pauses``)."""
    judged = []
    for metric, target in promised(policy, severity):  # judge_ticket's order
        verdict = earlier.get(metric)
        if verdict is None:
            continue
        if past_due(verdict, now):
            verdict = _late_at(verdict, target, policy, official, now, pauses)
        judged.append(verdict)
    return judged


def past_due(verdict: Judgement, now: datetime) -> bool:
    """A ``pending`` verdict whose due time ``now`` is past: overdue at ``now`` (the rule of
    ``verdict_at``), by minutes not counted yet."""
    due = verdict.due_at
    return verdict.status is SlaStatus.PENDING and due is not None and now > due


def pauses_matter(policy: Policy, metric: str) -> bool:
    """Whether the ticket's suspensions stop ``metric``'s clock under ``policy``."""
    return policy.pausing and policy.metric_definitions[metric].pausing


def _late_at(
    pending: Judgement,
    target: Target,
    policy: Policy,
    official: WorkCalendar,
    now: datetime,
    pauses: tuple[Pause, ...],
) -> Judgement:
    """A ``pending`` target past its due time at ``now``: overdue by the minutes late (the
    branch of :func:`_judge` after ``verdict_at``, unknown years included)."""
    assert pending.due_at is not None
    definition = policy.metric_definitions[pending.metric]
    coverage = metric_coverage(definition, contract_coverage(policy, official))
    clock = clock_for(target, coverage)
    late = pauses if definition.pausing else ()
    minutes, note = _late_minutes(pending.due_at, now, clock, late)
    return Judgement(
        pending.metric, pending.target, SlaStatus.OVERDUE, pending.due_at, None, minutes, note=note
    )


def _applies(definition: MetricDef, ticket: Ticket) -> bool:
    return not definition.categories or ticket.category in definition.categories


def promised(policy: Policy, severity: Severity) -> list[tuple[str, Target]]:
    """The policy's targets for a severity, parsed (once per policy and severity)."""
    targets = _terms_of(policy).targets
    found = targets.get(severity)
    if found is None:
        found = targets[severity] = policy.targets.for_severity(severity).items()
    return found


def clock_start(
    definition: MetricDef, ticket: Ticket, coverage: Coverage, pauses: tuple[Pause, ...]
) -> datetime | None:
    """When a metric's clock starts for the ticket: its start event's first moment, plus
    ``start_after`` of the contract's clock; ``None`` while that has not happened (or an open
    pause holds it). Raises ``CalendarError`` when that needs an unknown year."""
    started = moment_of(ticket, definition.start)
    if started is None or definition.start_after is None:
        return started
    return deadline(parse_target(definition.start_after), started, coverage, pauses)


def metric_coverage(definition: MetricDef, coverage: Coverage) -> Coverage:
    """The contract's clock, or around the clock for a metric that says ``clock = "24x7"``."""
    if definition.clock == "24x7" and not coverage.is_24x7:
        return replace(coverage, open=None, close=None)
    return coverage


def _judge(
    metric: str,
    definition: MetricDef,
    target: Target,
    ticket: Ticket,
    contract_clock: Coverage,
    all_pauses: tuple[Pause, ...],
    now: datetime,
) -> Judgement:
    text = str(target)
    coverage = metric_coverage(definition, contract_clock)
    pauses = all_pauses if definition.pausing else ()
    done = moment_of(ticket, definition.stop_event)
    void = _void_before_stop(definition, ticket, done)
    try:
        start = clock_start(definition, ticket, coverage, pauses)
        due = None if start is None else deadline(target, start, coverage, pauses)
    except CalendarError as e:
        # Not applicable wins over unknown: a promise that did not apply needs no due time.
        not_applicable = _why_not_applicable(metric, definition, ticket, void, done, None, False)
        if not_applicable:
            return Judgement(metric, text, SlaStatus.NOT_APPLICABLE, note=not_applicable)
        return Judgement(metric, text, SlaStatus.UNKNOWN, done_at=done, note=str(e))
    not_applicable = _why_not_applicable(metric, definition, ticket, void, done, due)
    if not_applicable:
        return Judgement(metric, text, SlaStatus.NOT_APPLICABLE, due, note=not_applicable)
    clock = clock_for(target, coverage)
    if void is not None and due is not None and definition.void_until == "due":
        # The void event came after the due time, before any stop: it ended the wait late
        # (a fix after a replacement unit was due, without one), whatever follows it.
        minutes, note = _late_minutes(due, void, clock, pauses)
        late_note = _late_void_note(metric, definition)
        return Judgement(
            metric,
            text,
            SlaStatus.BREACHED,
            due,
            breach_minutes=minutes,
            note=late_note if note is None else f"{late_note}; {note}",
        )
    if start is None and done is None:
        return Judgement(metric, text, SlaStatus.PENDING)
    try:
        verdict = verdict_at(target, due, done, now, coverage, pauses)
    except CalendarError:
        # The due time is known (it lies in a known year) and has passed: late whatever year
        # "now" or the done time is in; how late is known up to the first unknown year.
        assert due is not None
        end = now if done is None else done
        minutes, note = _late_minutes(due, end, clock, pauses)
        status = SlaStatus.OVERDUE if done is None else SlaStatus.BREACHED
        return Judgement(metric, text, status, due, done, minutes, note=note)
    try:
        elapsed = (
            None if done is None or start is None else covered_between(start, done, clock, pauses)
        )
    except CalendarError:
        elapsed = None  # done in a year not loaded: no time to count in medians yet
    return Judgement(
        metric,
        text,
        verdict.status,
        verdict.due_at,
        verdict.done_at,
        verdict.breach_minutes,
        elapsed,
    )


def _void_before_stop(
    definition: MetricDef, ticket: Ticket, done: datetime | None
) -> datetime | None:
    """The first moment of the metric's void event, if it came before its stop event (a
    unit provided after the fix, an arrival after a remote fix and a reopening: the fix
    decided the metric, what followed does not)."""
    void = None if definition.void is None else moment_of(ticket, definition.void)
    return None if void is None or (done is not None and done <= void) else void


def _late_minutes(
    due: datetime, end: datetime, clock: Coverage, pauses: tuple[Pause, ...]
) -> tuple[int, str | None]:
    """Whole minutes from ``due`` to ``end`` on the target's clock; when that needs a year
    the calendar does not know, the minutes up to that year's first day, and a note saying
    they are a lower bound."""
    try:
        return whole_minutes_up(covered_between(due, end, clock, pauses)), None
    except CalendarError as e:
        known_until = datetime(e.year, 1, 1, tzinfo=clock.tz) - timedelta(microseconds=1)
        try:
            minutes = whole_minutes_up(covered_between(due, known_until, clock, pauses))
        except CalendarError:
            minutes = 0
        return minutes, f"at least {minutes} min late: {e}"


def _why_not_applicable(
    metric: str,
    definition: MetricDef,
    ticket: Ticket,
    void: datetime | None,
    done: datetime | None,
    due: datetime | None,
    due_known: bool = True,
) -> str | None:
    """Why a metric did not apply, or ``None``: its void event came before its stop (and,
    with ``void_until = "due"``, by the due time), or the ticket was cancelled before it was
    done (a late void already ended the wait: that breach stands). With ``due_known=False``
    (the due time needs an unknown year) only the reasons that need no due time are given."""
    if void is not None and (
        definition.void_until == "stop" or (due_known and (due is None or void <= due))
    ):
        return VOID_NOTES.get(metric) or f"{definition.void} before {definition.stop}"
    late_void = void is not None and definition.void_until == "due"
    if done is None and ticket.cancelled_at is not None and not late_void:
        return "ticket cancelled"
    if done is None and void is None and not ticket.is_open and _never_started(definition, ticket):
        return f"{definition.start} never happened"
    return None


def _never_started(definition: MetricDef, ticket: Ticket) -> bool:
    return moment_of(ticket, definition.start) is None


def _late_void_note(metric: str, definition: MetricDef) -> str:
    if metric == "replacement":
        return "resolved late without a replacement unit"
    return f"{definition.void} after the due time, without {definition.stop}"


@dataclass(frozen=True)
class TimeUsed:
    """A target's covered time, as the contract counts it, at some instant."""

    share: float
    """Used ÷ allowed (1.0: all of it)."""
    left: timedelta
    """Covered time left before it is due (negative once past due)."""


def time_used(
    ticket: Ticket, policy: Policy, official: WorkCalendar, metric: str, now: datetime
) -> TimeUsed | None:
    """How much of ``metric``'s covered time the ticket has used by ``now``, and how much
    is left, on the target's own clock with pauses excluded (an hour left at 17:00 on a
    business-hours contract is tomorrow's first hour); ``None`` when the policy does not
    promise it or its due time cannot be known (an open pause, an unknown year)."""
    target = dict(promised(policy, ticket.severity)).get(metric)
    definition = policy.metric_definitions.get(metric)
    if target is None or definition is None or not _applies(definition, ticket):
        return None
    coverage = metric_coverage(definition, contract_coverage(policy, official))
    pauses = ticket_pauses(ticket, policy) if definition.pausing else ()
    clock = clock_for(target, coverage)
    try:
        start = clock_start(definition, ticket, coverage, pauses)
        due = None if start is None else deadline(target, start, coverage, pauses)
        if start is None or due is None:
            return None
        allowed = covered_between(start, due, clock, pauses)
        used = covered_between(start, now, clock, pauses)
    except CalendarError:
        return None
    if allowed <= timedelta(0):
        return None
    return TimeUsed(used / allowed, allowed - used)


def is_at_risk(used: TimeUsed | None, threshold: int) -> bool:
    """临近超时: a target not yet due has used ``threshold`` % of its covered time (its
    :func:`time_used`). The one rule of the sweep's at-risk warning and the workbench's
    at-risk queue."""
    return used is not None and used.share * 100 >= threshold and used.share < 1
