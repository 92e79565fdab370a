"""The SLA read model's queries: tickets with their verdicts as of ``now``
(:func:`ticket_slas`), the open tickets' standings for the workbench's queues
(:func:`open_standings`), the closed tickets a promise still runs on (the sweep's).

Final verdicts come straight from the table; the targets still running are judged at ``now``
with the projection's own copies of the contracts, holiday tables and, when needed, tickets
(:mod:`ledger.projections.sla`), so ``overdue`` and its breach minutes are exact at read time:
a ``pending`` one from its stored due time (``judged_again``), a ticket with an ``unknown``
target whole. The rows are read plain (no ORM mapping, no UUID per target row): a report
reads every ticket's."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    case,
    func,
    or_,
    select,
    true,
)

from ledger.domain.compliance import (
    Judgement,
    judged_again,
    past_due,
    pauses_matter,
    suspension_pauses,
)
from ledger.domain.contract import METRICS, policy_for_ticket
from ledger.domain.sla import SlaStatus
from ledger.domain.values import Severity
from ledger.projections.rows import chunks
from ledger.projections.sla import (
    by_contract_id,
    judge,
    load_contracts,
    load_holidays,
    load_suspensions,
    load_tickets,
    sla_contracts,
    sla_out_of_contract,
    sla_targets,
    sla_tickets,
    work_calendar,
)
from ledger.timeutil import as_utc


@dataclass(frozen=True)
class TicketSla:
    """A ticket with its verdicts. ``judged`` is false when its contract is unknown."""

    ticket_id: UUID
    number: str
    contract_id: str
    customer: str
    severity: str
    engineer: str | None
    reported_at: datetime
    is_open: bool
    judged: bool
    targets: tuple[Judgement, ...]
    out_of_contract: bool = False
    """Reported outside the contract's coverage: judged, but in no met %."""


def ticket_slas(
    conn: Connection,
    now: datetime,
    *,
    reported_from: datetime | None = None,
    reported_before: datetime | None = None,
    contract: str | None = None,
    include_cancelled: bool = False,
    only_open: bool = False,
    customer: str | None = None,
    engineer: str | None = None,
    numbers: Sequence[str] | None = None,
    late_minutes: bool = True,
) -> list[TicketSla]:
    """Tickets reported in ``[reported_from, reported_before)`` with their verdicts at
    ``now``, by report time then number. Cancelled tickets are left out unless asked for;
    ``only_open`` keeps the open ones; ``customer`` and ``engineer`` keep that one's;
    ``numbers`` those tickets (the workbench's search results, its ticket page).

    ``late_minutes=False``: nothing is re-judged — the stored verdicts are read as of
    ``now`` (:func:`as_of`), every status and due time exact but an overdue target's
    ``breach_minutes`` not counted (0): counting them walks the contract's clock from the
    due time to ``now``, long for a ticket overdue for months (the workbench's rows show
    the due time, not the minutes)."""
    where: list[ColumnElement[bool]] = []
    if numbers is not None:
        where.append(sla_tickets.c.number.in_(list(numbers)))
    if only_open:
        where.append(sla_tickets.c.is_open.is_(True))
    if customer is not None:
        where.append(sla_tickets.c.customer == customer)
    if engineer is not None:
        where.append(sla_tickets.c.engineer == engineer)
    if reported_from is not None:
        where.append(sla_tickets.c.reported_at >= reported_from.astimezone(UTC))
    if reported_before is not None:
        where.append(sla_tickets.c.reported_at < reported_before.astimezone(UTC))
    if contract:
        where.append(sla_tickets.c.contract_id == contract)
    if not include_cancelled:
        where.append(sla_tickets.c.cancelled.is_(False))
    s = sla_tickets.c
    tickets = conn.execute(
        select(
            s.ticket_id,
            s.number,
            s.contract_id,
            s.customer,
            s.severity,
            s.engineer,
            s.is_open,
            s.reported_at,
        )
        .where(*where)
        .order_by(s.reported_at, s.number)
    ).all()
    stored = _stored_verdicts(conn, where)
    by_number = {row.number: row for row in tickets}
    running = {
        by_number[number]: verdicts
        for number, verdicts in stored.items()
        if number in by_number and any(not v.status.is_final for v in verdicts)
    }
    if late_minutes:
        fresh = _judged_at(conn, running, now)
    else:
        fresh = {row.ticket_id: [as_of(v, now) for v in vs] for row, vs in running.items()}
    known = set(conn.scalars(select(sla_contracts.c.contract_id)))
    outside = set(
        conn.scalars(
            select(sla_tickets.c.number)
            .join(sla_out_of_contract, sla_tickets.c.ticket_id == sla_out_of_contract.c.ticket_id)
            .where(*where)
        )
    )
    result = []
    for ticket_id, number, contract_id, customer, severity, engineer, is_open, reported in tickets:
        verdicts = fresh[ticket_id] if ticket_id in fresh else stored.get(number, [])
        result.append(
            TicketSla(
                ticket_id=ticket_id,
                number=number,
                contract_id=contract_id,
                customer=customer,
                severity=severity,
                engineer=engineer,
                reported_at=as_utc(reported),
                is_open=is_open,
                judged=contract_id in known,
                targets=tuple(sorted(verdicts, key=_metric_order)),
                out_of_contract=number in outside,
            )
        )
    return result


def closed_with_promises_running(
    conn: Connection, leave_out: Collection[str]
) -> list[tuple[UUID, str]]:
    """Closed tickets (not cancelled) with a promise not kept when last judged, other than
    ``leave_out``'s metrics: a promise that runs on after closing (seed 004's signed form
    filed within 5 days) is still the sweep's business. By number."""
    rows = conn.execute(
        select(sla_tickets.c.ticket_id, sla_tickets.c.number)
        .distinct()
        .join(sla_targets, sla_targets.c.ticket_id == sla_tickets.c.ticket_id)
        .where(
            sla_tickets.c.is_open.is_(False),
            sla_tickets.c.cancelled.is_(False),
            sla_targets.c.status.in_([SlaStatus.PENDING.value, SlaStatus.OVERDUE.value]),
            sla_targets.c.metric.not_in(list(leave_out)),
        )
        .order_by(sla_tickets.c.number)
    )
    return [(row.ticket_id, row.number) for row in rows]


def as_of(verdict: Judgement, now: datetime) -> Judgement:
    """A stored verdict (judged at the report) as of ``now``, without judging: a pending
    target whose due time has passed is overdue (``verdict_at``: late once ``now`` is past
    the due time; nothing else about a target changes with ``now``), its minutes late not
    counted. :func:`open_standings` applies the same rule in SQL."""
    if past_due(verdict, now):
        return replace(verdict, status=SlaStatus.OVERDUE)
    return verdict


def _judged_at(
    conn: Connection, running: Mapping[Row[*tuple[Any, ...]], list[Judgement]], now: datetime
) -> dict[UUID, list[Judgement]]:
    """The tickets (``sla_tickets`` rows) with targets not final, judged at ``now`` from their
    stored verdicts (``judged_again``) when each such target is ``pending``: a ticket's
    suspensions are read (not the ticket) when they stop the clock of a target now late. One with a
    target stored ``unknown`` or ``overdue`` is judged again, its final verdicts taken as
    they are."""
    if not running:
        return {}
    contracts = by_contract_id(load_contracts(conn))
    calendar = work_calendar(load_holidays(conn))
    policies = {
        row.ticket_id: policy_for_ticket(contracts.get(row.contract_id), as_utc(row.reported_at))
        for row in running
    }
    whole: set[UUID] = set()
    paused: set[UUID] = set()
    for row, verdicts in running.items():
        policy = policies[row.ticket_id]
        if policy is None:
            continue
        if any(not v.status.is_final and v.status is not SlaStatus.PENDING for v in verdicts):
            whole.add(row.ticket_id)
        elif any(past_due(v, now) and pauses_matter(policy, v.metric) for v in verdicts):
            paused.add(row.ticket_id)
    tickets = load_tickets(conn, whole)
    suspensions = load_suspensions(conn, paused)
    fresh: dict[UUID, list[Judgement]] = {}
    for row, verdicts in running.items():
        tid, policy = row.ticket_id, policies[row.ticket_id]
        if policy is None:  # an unknown contract: no verdicts
            fresh[tid] = []
        elif tid in whole:
            if tid in tickets:
                final = {v.metric: v for v in verdicts if v.status.is_final}
                fresh[tid] = judge(tickets[tid], contracts, calendar, now, final) or []
        elif tid not in paused or tid in suspensions:
            pauses = suspension_pauses(suspensions[tid], policy) if tid in paused else ()
            earlier = {v.metric: v for v in verdicts}
            severity = Severity(row.severity)
            fresh[tid] = judged_again(earlier, policy, calendar, severity, now, pauses)
    return fresh


_STATUSES = {status.value: status for status in SlaStatus}
"""A stored status's member by value: quicker than calling the enum, once per target."""


def _stored_verdicts(
    conn: Connection, where: Sequence[ColumnElement[bool]]
) -> dict[str, list[Judgement]]:
    """The stored verdicts of the tickets ``where`` selects, by ticket number: plain rows
    (the number rather than the ticket's UUID, which the driver would convert on every
    row), a :class:`Judgement` each."""
    t = sla_targets.c
    rows = conn.execute(
        select(
            sla_tickets.c.number,
            t.metric,
            t.target,
            t.status,
            t.due_at,
            t.done_at,
            t.breach_minutes,
            t.elapsed_seconds,
            t.note,
        )
        .join(sla_tickets, sla_tickets.c.ticket_id == t.ticket_id)
        .where(*where)
    ).all()  # one fetchall: iterating the result fetches row by row
    stored: dict[str, list[Judgement]] = {}
    for number, metric, target, status, due, done, minutes, seconds, note in rows:
        stored.setdefault(number, []).append(
            Judgement(
                metric,
                target,
                _STATUSES[status],
                None if due is None else as_utc(due),
                None if done is None else as_utc(done),
                minutes,
                None if seconds is None else timedelta(seconds=seconds),
                note,
            )
        )
    return stored


_RANKS = {metric: rank for rank, metric in enumerate(METRICS)}


def _metric_order(j: Judgement) -> int:
    """The built-in metrics in their order, then the declared ones as they came."""
    return _RANKS.get(j.metric, len(METRICS))


@dataclass(frozen=True)
class Standing:
    """An open ticket's promises at ``now`` as its stored verdicts give them, without
    judging (:func:`as_of`'s rule: a ``pending`` target whose due time has passed by
    ``now`` is overdue)."""

    ticket_id: UUID
    number: str
    engineer: str | None
    missed: bool
    """A promise overdue at ``now``, or kept late."""
    running: bool
    """A promise not done, its due time still ahead: it may be at risk."""
    kept: bool
    """A promise met."""
    soonest_due: datetime | None
    """The soonest due time of the promises not done (overdue ones included)."""


def open_standings(
    conn: Connection, now: datetime, *, engineer: str | None = None
) -> list[Standing]:
    """Every open ticket (or ``engineer``'s) with its :class:`Standing` at ``now``: one
    query over ``sla_tickets`` (by its open/engineer index) and their stored targets."""
    s, t = sla_tickets.c, sla_targets.c
    at = now.astimezone(UTC)
    pending, met = SlaStatus.PENDING.value, SlaStatus.MET.value
    not_done = (pending, SlaStatus.OVERDUE.value)
    missed = or_(
        t.status.in_((SlaStatus.OVERDUE.value, SlaStatus.BREACHED.value)),
        and_(t.status == pending, t.due_at < at),
    )

    def any_(condition: ColumnElement[bool]) -> Any:
        return func.max(case((condition, 1), else_=0))

    query = (
        select(
            s.ticket_id,
            s.number,
            s.engineer,
            any_(missed).label("missed"),
            any_(and_(t.status == pending, t.due_at >= at)).label("running"),
            any_(t.status == met).label("kept"),
            func.min(case((t.status.in_(not_done), t.due_at))).label("soonest_due"),
        )
        .select_from(sla_tickets.outerjoin(sla_targets, t.ticket_id == s.ticket_id))
        .where(s.is_open == true(), s.cancelled.is_(False))
        .group_by(s.ticket_id, s.number, s.engineer)
    )
    if engineer is not None:
        query = query.where(s.engineer == engineer)
    return [
        Standing(
            row.ticket_id,
            row.number,
            row.engineer,
            bool(row.missed),
            bool(row.running),
            bool(row.kept),
            None if row.soonest_due is None else as_utc(row.soonest_due),
        )
        for row in conn.execute(query)
    ]


def running_targets(conn: Connection, ids: Iterable[UUID], now: datetime) -> dict[UUID, list[str]]:
    """The metrics of the tickets ``ids`` that are not done and not yet due at ``now``
    (from the stored verdicts, as :func:`open_standings`)."""
    at = now.astimezone(UTC)
    found: dict[UUID, list[str]] = {}
    for chunk in chunks(list(ids)):
        rows = conn.execute(
            select(sla_targets.c.ticket_id, sla_targets.c.metric).where(
                sla_targets.c.ticket_id.in_(chunk),
                sla_targets.c.status == SlaStatus.PENDING.value,
                sla_targets.c.due_at >= at,
            )
        )
        for row in rows:
            found.setdefault(row.ticket_id, []).append(row.metric)
    return found
