"""What the dashboard reads from the read models: the inputs of the pure view models,
fetched after the projections caught up with the log (the page is never staler than the
CLI), and narrowed to what the user may see."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

from sqlalchemy import Connection, select

from ledger.bounds import FIRST_DATE, LAST_DATE
from ledger.dashboard.overview import (
    NOTICE_KINDS,
    DrillQuery,
    DrillRow,
    Overview,
    Risk,
    drill,
    drill_escalated,
    escalations,
    overview,
)
from ledger.domain.compliance import time_used
from ledger.domain.contract import policy_for_ticket
from ledger.domain.sla import SlaStatus
from ledger.projections.sla import (
    by_contract_id,
    load_contracts,
    load_holidays,
    load_tickets,
    sla_contracts,
    sla_tickets,
    work_calendar,
)
from ledger.projections.sla_queries import TicketSla, ticket_slas
from ledger.projections.supervision import (
    SupervisionFact,
    SupervisionKind,
    fact_of,
    supervision_events,
    supervision_facts,
)
from ledger.reports.common import Period, ReadModels, caught_up
from ledger.timeutil import as_utc

PeriodKind = Literal["week", "month", "quarter", "custom"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("week", "month", "quarter", "custom")
OVERVIEW_MODELS = ("sla", "supervision")
EARLIEST, LATEST = FIRST_DATE, LAST_DATE
"""The dates a custom period may span (the period before it, and its instants, must exist):
those of every report period (:mod:`ledger.bounds`)."""


def period_of(kind: PeriodKind, today: date, first: date | None, last: date | None) -> Period:
    """The local dates of "this week / month / quarter" around ``today``, or the custom
    ``first``..``last`` (both needed)."""
    if kind == "week":
        monday = today - timedelta(days=today.weekday())
        return Period(monday, monday + timedelta(days=6))
    if kind == "month":
        end = calendar.monthrange(today.year, today.month)[1]
        return Period(today.replace(day=1), today.replace(day=end))
    if kind == "quarter":
        start_month = 3 * ((today.month - 1) // 3) + 1
        end_month = start_month + 2
        end = calendar.monthrange(today.year, end_month)[1]
        return Period(date(today.year, start_month, 1), date(today.year, end_month, end))
    if first is None or last is None:
        raise ValueError("a custom period needs both a first and a last date")
    if not all(EARLIEST <= d <= LATEST for d in (first, last)):
        raise ValueError(f"a custom period lies between {EARLIEST} and {LATEST}")
    if (last - first).days > 366 * 3:
        raise ValueError("a custom period is at most three years long")
    return Period(first, last)


@dataclass(frozen=True)
class Filters:
    """The overview's choices: the period, and optionally one contract and one customer."""

    period: Period
    kind: PeriodKind = "month"
    contract: str | None = None
    customer: str | None = None


@dataclass(frozen=True)
class Scope:
    """What a user may see: everything, or one engineer's own tickets."""

    engineer: str | None = None

    def allows(self, engineer: str | None) -> bool:
        return self.engineer is None or engineer == self.engineer


def _tickets(
    conn: Connection,
    filters: Filters,
    scope: Scope,
    now: datetime,
    *,
    reported_from: datetime | None = None,
    reported_before: datetime | None = None,
    only_open: bool = False,
) -> list[TicketSla]:
    """The tickets the user may see within the filters (in SQL: an engineer's overview
    judges only their tickets)."""
    return ticket_slas(
        conn,
        now,
        reported_from=reported_from,
        reported_before=reported_before,
        contract=filters.contract,
        customer=filters.customer,
        engineer=scope.engineer,
        only_open=only_open,
    )


def _period_tickets(
    conn: Connection, period: Period, filters: Filters, scope: Scope, now: datetime, tz: tzinfo
) -> list[TicketSla]:
    start, end = period.bounds(tz)
    return _tickets(conn, filters, scope, now, reported_from=start, reported_before=end)


def _open_tickets(
    conn: Connection,
    filters: Filters,
    scope: Scope,
    now: datetime,
    tz: tzinfo,
    in_period: Sequence[TicketSla] | None = None,
) -> list[TicketSla]:
    """Every open ticket the user may see (reported whenever), within the filters; those
    reported in the period taken from ``in_period`` when given (not judged twice)."""
    if in_period is None:
        return _tickets(conn, filters, scope, now, only_open=True)
    start, end = filters.period.bounds(tz)
    found = [t for t in in_period if t.is_open]
    if start is not None:
        found += _tickets(conn, filters, scope, now, reported_before=start, only_open=True)
    if end is not None:
        found += _tickets(conn, filters, scope, now, reported_from=end, only_open=True)
    return sorted(found, key=lambda t: (t.reported_at, t.number))


def _notices(conn: Connection, filters: Filters, scope: Scope, tz: tzinfo) -> list[SupervisionFact]:
    """The inspection and rectification notices issued in the period on tickets the user
    may see: scoped by each ticket's engineer, customer and contract *now* (as every other
    panel is), not by whom a notice was credited to when it was issued."""
    e, t = supervision_events, sla_tickets
    start, end = filters.period.bounds(tz)
    query = (
        select(e, t.c.engineer.label("current_engineer"))
        .join(t, t.c.ticket_id == e.c.ticket_id)
        .where(e.c.kind.in_([k.value for k in NOTICE_KINDS]))
        .order_by(e.c.position)
    )
    if start is not None:
        query = query.where(e.c.occurred_at >= as_utc(start))
    if end is not None:
        query = query.where(e.c.occurred_at < as_utc(end))
    for column, value in (
        (t.c.contract_id, filters.contract),
        (t.c.customer, filters.customer),
        (t.c.engineer, scope.engineer),
    ):
        if value is not None:
            query = query.where(column == value)
    return [fact_of(row, row.current_engineer) for row in conn.execute(query)]


def _escalation_facts(conn: Connection, open_tickets: Sequence[TicketSla]) -> list[SupervisionFact]:
    return supervision_facts(
        conn, kinds=(SupervisionKind.ESCALATED,), tickets=[t.ticket_id for t in open_tickets]
    )


def measure_risks(conn: Connection, open_tickets: Sequence[TicketSla], now: datetime) -> list[Risk]:
    """Every pending target of the open tickets, with the share of its covered time used
    and the covered time left."""
    pending = [t for t in open_tickets if any(j.status is SlaStatus.PENDING for j in t.targets)]
    if not pending:
        return []
    states = load_tickets(conn, [t.ticket_id for t in pending])
    contracts = by_contract_id(load_contracts(conn))
    official = work_calendar(load_holidays(conn))
    risks = []
    for ticket in pending:
        state, contract = states.get(ticket.ticket_id), contracts.get(ticket.contract_id)
        policy = None if state is None else policy_for_ticket(contract, ticket.reported_at)
        for j in ticket.targets:
            if j.status is not SlaStatus.PENDING or j.due_at is None:
                continue
            used = (
                None
                if policy is None or state is None
                else time_used(state, policy, official, j.metric, now)
            )
            risks.append(
                Risk(
                    ticket.number,
                    ticket.contract_id,
                    ticket.customer,
                    ticket.engineer,
                    j.metric,
                    j.target,
                    j.due_at,
                    None if used is None else used.share,
                    None if used is None else used.left,
                )
            )
    return risks


def load_overview(ledger: ReadModels, filters: Filters, scope: Scope) -> Overview:
    tz = ledger.tz
    with caught_up(ledger, OVERVIEW_MODELS) as (conn, now):
        current = _period_tickets(conn, filters.period, filters, scope, now, tz)
        before = filters.period.previous()
        previous = (
            None if before is None else _period_tickets(conn, before, filters, scope, now, tz)
        )
        open_tickets = _open_tickets(conn, filters, scope, now, tz, in_period=current)
        period_facts = _notices(conn, filters, scope, tz)
        escalated = _escalation_facts(conn, open_tickets)
        return overview(
            period=filters.period,
            current=current,
            previous=previous,
            open_tickets=open_tickets,
            risks=measure_risks(conn, open_tickets, now),
            facts=escalated,
            period_facts=period_facts,
            now=now,
            tz=ledger.tz,
        )


def load_drill(
    ledger: ReadModels, filters: Filters, scope: Scope, query: DrillQuery
) -> list[DrillRow]:
    if query.level is not None:
        with caught_up(ledger, OVERVIEW_MODELS) as (conn, now):
            open_tickets = _open_tickets(conn, filters, scope, now, ledger.tz)
            facts = _escalation_facts(conn, open_tickets)
        return drill_escalated(open_tickets, escalations(open_tickets, facts, now), query)
    with caught_up(ledger, ("sla",)) as (conn, now):
        current = _period_tickets(conn, filters.period, filters, scope, now, ledger.tz)
    return drill(current, query, ledger.tz)


def contract_names(ledger: ReadModels) -> dict[str, str]:
    """Each contract's name (its latest revision's), by contract id."""
    with ledger.engine.connect() as conn:
        return {c.contract_id: c.latest.policy.name for c in load_contracts(conn).values()}


def filter_choices(ledger: ReadModels, scope: Scope) -> tuple[list[str], list[str]]:
    """The contracts and customers the filters offer (those the user has tickets of, for
    an engineer)."""
    with ledger.engine.connect() as conn:
        if scope.engineer is None:
            contracts = list(conn.scalars(select(sla_contracts.c.contract_id)))
            customers = list(conn.scalars(select(sla_tickets.c.customer).distinct()))
        else:
            rows = conn.execute(
                select(sla_tickets.c.contract_id, sla_tickets.c.customer)
                .where(sla_tickets.c.engineer == scope.engineer)
                .distinct()
            ).all()
            contracts = [r.contract_id for r in rows]
            customers = [r.customer for r in rows]
    return sorted(set(contracts)), sorted(set(customers))
