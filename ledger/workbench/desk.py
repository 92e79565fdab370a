"""The desk's pages as view models: the queues, search results and a ticket's SLA clocks (its
buttons: :mod:`ledger.workbench.actions`; the hotline's intake: :mod:`ledger.workbench.intake`).
The pure parts (:func:`worst_state`, :func:`sla_state`, :func:`queue_row`, :func:`place`,
:func:`select_queue`) take what they need and a ``now``; the loaders read the read models
(caught up first, as the dashboard's do).

A queue page answers from one query of the open tickets' stored verdicts
(:func:`ledger.projections.sla_queries.open_standings`), measures for risk only the
promises still running (the sweep's rule, :func:`targets_at_risk`) and judges only the rows
it shows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from sqlalchemy import Connection

from ledger.bootstrap import Ledger
from ledger.commands.notify_rules import NotificationRules
from ledger.commands.users import User
from ledger.domain.compliance import is_at_risk, time_used
from ledger.domain.contract import policy_for_ticket
from ledger.domain.notification import DEFAULT_AT_RISK
from ledger.domain.sla import SlaStatus
from ledger.projections.search import count_tickets, search_tickets
from ledger.projections.sla import (
    by_contract_id,
    load_contracts,
    load_holidays,
    load_tickets,
    work_calendar,
)
from ledger.projections.sla_queries import (
    Standing,
    TicketSla,
    open_standings,
    running_targets,
    ticket_slas,
)
from ledger.reports.common import caught_up

SlaState = Literal["breached", "at_risk", "ok", "met", "none"]
SLA_ORDER: dict[str, int] = {"breached": 0, "at_risk": 1, "ok": 2, "met": 3, "none": 4}
MISSED = (SlaStatus.OVERDUE, SlaStatus.BREACHED)
QUEUE_MODELS = ("sla",)
SEARCH_MODELS = ("search", "sla")
QUEUE_TABS = ("unassigned", "at_risk", "breached", "mine", "engineers")
PAGE_SIZE = 50
"""Rows a queue's page lists (the rest are counted and on the next pages)."""
SEARCH_LIMIT = 50
"""Tickets a search lists, newest number first (the others are counted)."""

# --------------------------------------------------------------------------- SLA per row


@dataclass(frozen=True)
class Row:
    """One ticket in a queue or a search result."""

    number: str
    customer: str
    severity: str
    engineer: str | None
    is_open: bool
    reported_at: datetime
    sla: SlaState
    next_metric: str | None
    """The pending promise due soonest (or the one overdue longest)."""
    due_at: datetime | None
    minutes_left: int | None
    """Whole minutes to ``due_at`` (negative: overdue), at the page's ``now``."""


def worst_state(*, missed: bool, at_risk: bool, running: bool, kept: bool) -> SlaState:
    """A ticket's SLA state from its promises: breached if one is missed (overdue or done
    late), at risk if one is (:func:`ledger.domain.compliance.is_at_risk`), ok while one
    runs, met if all kept, none if nothing was promised."""
    if missed:
        return "breached"
    if at_risk:
        return "at_risk"
    if running:
        return "ok"
    return "met" if kept else "none"


def sla_state(ticket: TicketSla, at_risk: bool) -> SlaState:
    """The state of a ticket judged at some ``now`` (``at_risk``: one of its running
    promises is, :func:`targets_at_risk`)."""
    statuses = [j.status for j in ticket.targets]
    return worst_state(
        missed=any(s in MISSED for s in statuses),
        at_risk=at_risk,
        running=any(j.status is SlaStatus.PENDING and j.due_at for j in ticket.targets),
        kept=SlaStatus.MET in statuses,
    )


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def queue_row(ticket: TicketSla, now: datetime, at_risk: bool) -> Row:
    """``ticket`` as a row: its state and the clock that matters most now."""
    open_targets = [
        j for j in ticket.targets if j.status in (SlaStatus.PENDING, SlaStatus.OVERDUE) and j.due_at
    ]
    soonest = min(open_targets, key=lambda j: j.due_at or now, default=None)
    due = soonest.due_at if soonest else None
    return Row(
        ticket.number,
        ticket.customer,
        ticket.severity,
        ticket.engineer,
        ticket.is_open,
        ticket.reported_at,
        sla_state(ticket, at_risk),
        soonest.metric if soonest else None,
        due,
        None if due is None else _minutes(due - now),
    )


def running(ticket: TicketSla) -> list[str]:
    """The ticket's promises not done and not yet due (judged at some ``now``)."""
    return [j.metric for j in ticket.targets if j.status is SlaStatus.PENDING and j.due_at]


# --------------------------------------------------------------------------- at risk


def at_risk_threshold(ledger: Ledger) -> int:
    """The share of its covered time (percent) at which a target is at risk: the sweep's
    first at-risk warning (the notification rules' lowest ``at_risk``, 80 by default)."""
    rules = NotificationRules(ledger.app, ledger.clock).current()
    return min(rules.at_risk_thresholds() if rules else (DEFAULT_AT_RISK,))


def targets_at_risk(
    conn: Connection, running: Mapping[UUID, Iterable[str]], now: datetime, threshold: int
) -> set[UUID]:
    """The tickets one of whose ``running`` metrics (not done, not yet due) has used
    ``threshold`` % of its covered time at ``now``, on the contract's own clock — the
    sweep's rule (``time_used``, ``is_at_risk``), read from the SLA read model's copies of
    the tickets, contracts and holiday tables."""
    wanted = {tid: list(metrics) for tid, metrics in running.items() if metrics}
    if not wanted:
        return set()
    states = load_tickets(conn, wanted)
    contracts = by_contract_id(load_contracts(conn))
    official = work_calendar(load_holidays(conn))
    found = set()
    for tid, metrics in wanted.items():
        ticket = states.get(tid)
        if ticket is None:
            continue
        policy = policy_for_ticket(contracts.get(ticket.contract_id), ticket.reported_at)
        if policy is not None and any(
            is_at_risk(time_used(ticket, policy, official, metric, now), threshold)
            for metric in metrics
        ):
            found.add(tid)
    return found


# --------------------------------------------------------------------------- queues


@dataclass(frozen=True)
class Placed:
    """An open ticket's place in the queues: its standing and its SLA state."""

    standing: Standing
    sla: SlaState


def place(standings: Iterable[Standing], risky: set[UUID]) -> list[Placed]:
    """Every open ticket with its state, most urgent first: breached before at risk before
    on time, then the soonest due first (then by number)."""
    placed = [
        Placed(
            s,
            worst_state(
                missed=s.missed, at_risk=s.ticket_id in risky, running=s.running, kept=s.kept
            ),
        )
        for s in standings
    ]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(
        placed,
        key=lambda p: (SLA_ORDER[p.sla], p.standing.soonest_due or far, p.standing.number),
    )


def in_tab(placed: Placed, tab: str, user_name: str, engineer: str | None) -> bool:
    """Whether a ticket is in ``tab``: nobody dispatched; at risk; breached; the user's
    own; ``engineer``'s (the by-engineer tab)."""
    s = placed.standing
    if tab == "unassigned":
        return not s.engineer
    if tab in ("at_risk", "breached"):
        return placed.sla == tab
    if tab == "mine":
        return s.engineer == user_name
    return engineer is not None and s.engineer == engineer


def workload(standings: Iterable[Standing]) -> list[tuple[str, int]]:
    """(engineer, open tickets), busiest first."""
    load = Counter(s.engineer for s in standings if s.engineer)
    return sorted(load.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class QueuePage:
    """One tab of the queues, one page of it: its rows (judged), how many tickets the tab
    holds, and how many every tab holds."""

    tab: str
    rows: list[Row]
    total: int
    page: int
    """1-based; ``pages`` in all (at least 1)."""
    pages: int
    counts: dict[str, int]
    workload: list[tuple[str, int]]
    engineer: str | None
    """Whose tickets the by-engineer tab lists (the busiest, unless one is chosen)."""
    threshold: int
    """The at-risk share (percent of a promise's covered time)."""

    @property
    def first(self) -> int:
        """The place (1-based) of the page's first row in the tab."""
        return (self.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def select_queue(
    placed: Sequence[Placed],
    tab: str,
    user_name: str,
    *,
    page: int = 1,
    engineer: str | None = None,
) -> tuple[list[Placed], int, int, dict[str, int], list[tuple[str, int]], str | None]:
    """The tab's page (``page`` clamped to the pages there are), its size, the page, each
    tab's size, the workload and the engineer shown. Pure."""
    load = workload(p.standing for p in placed)
    chosen = engineer if engineer in dict(load) else (load[0][0] if load else None)
    counts = {
        name: sum(in_tab(p, name, user_name, chosen) for p in placed)
        for name in QUEUE_TABS
        if name != "engineers"
    }
    members = [p for p in placed if in_tab(p, tab, user_name, chosen)]
    pages = max(1, -(-len(members) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = members[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return shown, len(members), page, counts, load, chosen


def load_queue(
    ledger: Ledger,
    user: User,
    engineer_scope: str | None,
    tab: str,
    *,
    page: int = 1,
    engineer: str | None = None,
) -> QueuePage:
    """The tab asked for, one page of it. The open tickets' standings come from one query
    of the stored verdicts; only the running promises (not done, not yet due) are measured
    for risk, and only the page's tickets are judged for their rows."""
    threshold = at_risk_threshold(ledger)
    with caught_up(ledger, QUEUE_MODELS) as (conn, now):
        standings = open_standings(conn, now, engineer=engineer_scope)
        candidates = [s.ticket_id for s in standings if s.running and not s.missed]
        risky = targets_at_risk(conn, running_targets(conn, candidates, now), now, threshold)
        shown, total, page, counts, load, chosen = select_queue(
            place(standings, risky), tab, user.name, page=page, engineer=engineer
        )
        numbers = [p.standing.number for p in shown]
        judged = {t.number: t for t in ticket_slas(conn, now, numbers=numbers, late_minutes=False)}
    rows = [
        queue_row(judged[p.standing.number], now, p.standing.ticket_id in risky)
        for p in shown
        if p.standing.number in judged
    ]
    pages = max(1, -(-total // PAGE_SIZE))
    return QueuePage(tab, rows, total, page, pages, counts, load, chosen, threshold)


@dataclass(frozen=True)
class Found:
    """A search's answer: the newest :data:`SEARCH_LIMIT` tickets found, and how many
    were found in all."""

    rows: list[Row]
    total: int


def load_search(ledger: Ledger, query: str, engineer_scope: str | None) -> Found:
    """The tickets whose text holds every term of ``query`` (the search read model), with
    their SLA state, newest first; an engineer finds their own."""
    threshold = at_risk_threshold(ledger)
    with caught_up(ledger, SEARCH_MODELS) as (conn, now):
        numbers = search_tickets(conn, query, SEARCH_LIMIT, engineer=engineer_scope)
        if len(numbers) < SEARCH_LIMIT:
            total = len(numbers)
        else:
            total = count_tickets(conn, query, engineer=engineer_scope)
        if not numbers:
            return Found([], 0)
        tickets = ticket_slas(
            conn, now, numbers=numbers, include_cancelled=True, late_minutes=False
        )
        risky = targets_at_risk(conn, {t.ticket_id: running(t) for t in tickets}, now, threshold)
    order = {n: i for i, n in enumerate(numbers)}
    rows = [queue_row(t, now, t.ticket_id in risky) for t in tickets]
    return Found(sorted(rows, key=lambda r: order[r.number]), total)


# --------------------------------------------------------------------------- the ticket


@dataclass(frozen=True)
class Clock:
    """One SLA promise of the ticket, as the page shows it."""

    metric: str
    target: str
    status: str
    due_at: datetime | None
    done_at: datetime | None
    minutes_left: int | None


def ticket_clocks(ticket: TicketSla | None, now: datetime) -> list[Clock]:
    if ticket is None:
        return []
    return [
        Clock(
            j.metric,
            j.target,
            j.status.value,
            j.due_at,
            j.done_at,
            None
            if j.due_at is None or j.status not in (SlaStatus.PENDING, SlaStatus.OVERDUE)
            else _minutes(j.due_at - now),
        )
        for j in ticket.targets
    ]


def load_ticket_sla(ledger: Ledger, number: str) -> tuple[TicketSla | None, datetime, bool]:
    """The ticket judged now, the now, and whether it is at risk (:func:`targets_at_risk`)."""
    threshold = at_risk_threshold(ledger)
    with caught_up(ledger, QUEUE_MODELS) as (conn, now):
        found = ticket_slas(conn, now, numbers=[number], include_cancelled=True)
        ticket = found[0] if found else None
        risky = ticket is not None and ticket.ticket_id in targets_at_risk(
            conn, {ticket.ticket_id: running(ticket)}, now, threshold
        )
    return ticket, now, risky
