"""What the dashboard reads from the read models: the inputs of the pure view models,
fetched after the projections caught up with the log (the page is never staler than the
CLI), and narrowed to what the user may see."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, select

from ledger.dashboard.overview import (
    DrillQuery,
    DrillRow,
    Overview,
    Risk,
    drill,
    drill_escalated,
    escalations,
    overview,
)
from ledger.domain.compliance import share_used
from ledger.domain.sla import SlaStatus
from ledger.projections.sla import (
    TicketSla,
    by_contract_id,
    load_contracts,
    load_holidays,
    load_tickets,
    sla_contracts,
    sla_tickets,
    ticket_slas,
    work_calendar,
)
from ledger.projections.supervision import SupervisionFact, SupervisionKind, supervision_facts
from ledger.reports.common import Period, caught_up

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger

PeriodKind = Literal["week", "month", "quarter", "custom"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("week", "month", "quarter", "custom")
OVERVIEW_MODELS = ("sla", "supervision")


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


def _visible(tickets: Sequence[TicketSla], filters: Filters, scope: Scope) -> list[TicketSla]:
    return [
        t
        for t in tickets
        if scope.allows(t.engineer) and (filters.customer is None or t.customer == filters.customer)
    ]


def _period_tickets(
    conn: Connection, period: Period, filters: Filters, scope: Scope, now: datetime, ledger: Ledger
) -> list[TicketSla]:
    start, end = period.bounds(ledger.tz)
    found = ticket_slas(
        conn, now, reported_from=start, reported_before=end, contract=filters.contract
    )
    return _visible(found, filters, scope)


def _open_tickets(
    conn: Connection, filters: Filters, scope: Scope, now: datetime
) -> list[TicketSla]:
    """Every open ticket the user may see (reported whenever), within the filters."""
    found = ticket_slas(conn, now, contract=filters.contract, only_open=True)
    return _visible(found, filters, scope)


def _escalation_facts(conn: Connection, open_tickets: Sequence[TicketSla]) -> list[SupervisionFact]:
    return supervision_facts(
        conn, kinds=(SupervisionKind.ESCALATED,), tickets=[t.ticket_id for t in open_tickets]
    )


def measure_risks(conn: Connection, open_tickets: Sequence[TicketSla], now: datetime) -> list[Risk]:
    """Every pending target of the open tickets, with the share of its time used."""
    pending = [t for t in open_tickets if any(j.status is SlaStatus.PENDING for j in t.targets)]
    if not pending:
        return []
    states = load_tickets(conn, [t.ticket_id for t in pending])
    contracts = by_contract_id(load_contracts(conn))
    official = work_calendar(load_holidays(conn))
    risks = []
    for ticket in pending:
        state, contract = states.get(ticket.ticket_id), contracts.get(ticket.contract_id)
        policy = (
            None if contract is None or state is None else contract.policy_at(ticket.reported_at)
        )
        for j in ticket.targets:
            if j.status is not SlaStatus.PENDING or j.due_at is None:
                continue
            used = (
                None
                if policy is None or state is None
                else share_used(state, policy, official, j.metric, now)
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
                    used,
                )
            )
    return risks


def load_overview(ledger: Ledger, filters: Filters, scope: Scope) -> Overview:
    with caught_up(ledger, OVERVIEW_MODELS) as (conn, now):
        current = _period_tickets(conn, filters.period, filters, scope, now, ledger)
        before = filters.period.previous()
        previous = (
            None if before is None else _period_tickets(conn, before, filters, scope, now, ledger)
        )
        open_tickets = _open_tickets(conn, filters, scope, now)
        start, end = filters.period.bounds(ledger.tz)
        visible_numbers = {t.number for t in current} | {t.number for t in open_tickets}
        period_facts = [
            f
            for f in supervision_facts(
                conn,
                occurred_from=start,
                occurred_until=end,
                kinds=(SupervisionKind.INSPECTION_NOTICE, SupervisionKind.RECTIFICATION_NOTICE),
            )
            if scope.allows(f.engineer)
            and (filters.contract is None or f.contract_id == filters.contract)
            and (filters.customer is None or f.number in visible_numbers)
        ]
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


def load_drill(ledger: Ledger, filters: Filters, scope: Scope, query: DrillQuery) -> list[DrillRow]:
    if query.level is not None:
        with caught_up(ledger, OVERVIEW_MODELS) as (conn, now):
            open_tickets = _open_tickets(conn, filters, scope, now)
            facts = _escalation_facts(conn, open_tickets)
        return drill_escalated(open_tickets, escalations(open_tickets, facts, now), query)
    with caught_up(ledger, ("sla",)) as (conn, now):
        current = _period_tickets(conn, filters.period, filters, scope, now, ledger)
    return drill(current, query, ledger.tz)


def filter_choices(ledger: Ledger, scope: Scope) -> tuple[list[str], list[str]]:
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
