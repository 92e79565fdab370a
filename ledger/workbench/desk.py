"""The desk's pages as view models: the queues, search results, a ticket's actions and SLA
clocks, and the hotline's intake (a contract's promises, its warranty, what earlier tickets
remember). The pure parts (:func:`sla_state`, :func:`queue_row`, :func:`queues`,
:func:`promise_text`, :func:`in_warranty`) take what they need and a ``now``; the loaders
read the read models (caught up first, as the dashboard's do)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select

from ledger.bootstrap import Ledger
from ledger.commands.application import stamp_command
from ledger.commands.models import CommandError, TicketCommand
from ledger.commands.registry import authorise, parse_command
from ledger.commands.users import User
from ledger.domain.contract import Contract, Policy
from ledger.domain.errors import DomainError
from ledger.domain.sla import SlaStatus, target_zh
from ledger.domain.ticket import Ticket
from ledger.domain.values import Severity
from ledger.projections.search import search_tickets, ticket_search
from ledger.projections.sla import TicketSla, load_contracts, ticket_slas
from ledger.reports.common import caught_up
from ledger.reports.export import Lang

AT_RISK_LEFT = timedelta(hours=1)
"""A pending promise with less than this left before it is due is at risk (the
dashboard's ``RISK_LEFT``; wall-clock time to the due time)."""
SlaState = Literal["breached", "at_risk", "ok", "met", "none"]
SLA_ORDER: dict[str, int] = {"breached": 0, "at_risk": 1, "ok": 2, "met": 3, "none": 4}
MISSED = (SlaStatus.OVERDUE, SlaStatus.BREACHED)
QUEUE_MODELS = ("sla",)
SEARCH_MODELS = ("search", "sla")
QUEUE_TABS = ("unassigned", "at_risk", "breached", "mine", "engineers")

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


def sla_state(ticket: TicketSla, now: datetime) -> SlaState:
    """The ticket's SLA state: breached if a promise is missed (overdue or done late), at
    risk if a pending one is due within :data:`AT_RISK_LEFT`, else ok (promises pending),
    met (all kept) or none (nothing promised)."""
    statuses = [j.status for j in ticket.targets]
    if any(s in MISSED for s in statuses):
        return "breached"
    pending = [j for j in ticket.targets if j.status is SlaStatus.PENDING and j.due_at]
    if any(j.due_at is not None and j.due_at - now < AT_RISK_LEFT for j in pending):
        return "at_risk"
    if pending:
        return "ok"
    return "met" if any(s is SlaStatus.MET for s in statuses) else "none"


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def queue_row(ticket: TicketSla, now: datetime) -> Row:
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
        sla_state(ticket, now),
        soonest.metric if soonest else None,
        due,
        None if due is None else _minutes(due - now),
    )


@dataclass(frozen=True)
class Queues:
    unassigned: list[Row]
    at_risk: list[Row]
    breached: list[Row]
    mine: list[Row]
    workload: list[tuple[str, int]]
    """(engineer, open tickets), busiest first."""
    by_engineer: dict[str, list[Row]] = field(default_factory=dict)


def _urgent_first(rows: Iterable[Row]) -> list[Row]:
    return sorted(
        rows,
        key=lambda r: (SLA_ORDER[r.sla], r.minutes_left if r.minutes_left is not None else 10**9),
    )


def queues(open_tickets: Sequence[TicketSla], now: datetime, user_name: str) -> Queues:
    """The desk's queues over the open tickets: nobody dispatched; at risk; breached; the
    user's own; and per engineer with their workload (open tickets)."""
    rows = [queue_row(t, now) for t in open_tickets if t.is_open]
    by_engineer: dict[str, list[Row]] = {}
    for row in rows:
        if row.engineer:
            by_engineer.setdefault(row.engineer, []).append(row)
    load = Counter({name: len(items) for name, items in by_engineer.items()})
    return Queues(
        unassigned=_urgent_first(r for r in rows if not r.engineer),
        at_risk=_urgent_first(r for r in rows if r.sla == "at_risk"),
        breached=_urgent_first(r for r in rows if r.sla == "breached"),
        mine=_urgent_first(r for r in rows if r.engineer == user_name),
        workload=sorted(load.items(), key=lambda item: (-item[1], item[0])),
        by_engineer={k: _urgent_first(v) for k, v in sorted(by_engineer.items())},
    )


def load_queues(ledger: Ledger, user: User, engineer_scope: str | None) -> Queues:
    with caught_up(ledger, QUEUE_MODELS) as (conn, now):
        tickets = ticket_slas(conn, now, only_open=True, engineer=engineer_scope)
    return queues(tickets, now, user.name)


def load_search(ledger: Ledger, query: str, engineer_scope: str | None) -> list[Row]:
    """The tickets whose text holds every term of ``query`` (the search read model), with
    their SLA state; an engineer finds their own."""
    with caught_up(ledger, SEARCH_MODELS) as (conn, now):
        numbers = search_tickets(conn, query)
        if not numbers:
            return []
        tickets = ticket_slas(
            conn, now, numbers=numbers, engineer=engineer_scope, include_cancelled=True
        )
    order = {n: i for i, n in enumerate(numbers)}
    return sorted((queue_row(t, now) for t in tickets), key=lambda r: order[r.number])


# --------------------------------------------------------------------------- the ticket


ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "respond": ("note",),
    "dispatch": ("engineer",),
    "arrive": (),
    "resolve": ("summary",),
    "sign": ("signer",),
    "suspend": ("reason",),
    "resume": ("reason",),
    "close": ("note",),
    "reopen": ("reason",),
    "cancel": ("reason",),
}
"""The ticket's buttons: each command and the fields its small form asks for."""
_PROBE = "x"
"""What a button's required fields are filled with to ask the decider whether the command
would be accepted now (the decision is made, never saved)."""
NOTE_COMMANDS = ("note", "reply")


def available_actions(ledger: Ledger, user: User, ticket: Ticket) -> list[str]:
    """The commands of :data:`ACTION_FIELDS` that ``user`` may issue on ``ticket`` now:
    the role matrix allows it and the ticket's decider accepts it (asked with placeholder
    fields, nothing saved). A page shows these and nothing else."""
    found = []
    stamp_base = {"actor": user.name, "role": user.role.value, "ticket": ticket.number}
    for name, fields in ACTION_FIELDS.items():
        data: dict[str, Any] = {"command": name, **stamp_base}
        data |= {f: (user.name if f == "engineer" else _PROBE) for f in fields if f != "note"}
        if name == "resume":
            data.pop("reason", None)
        try:
            command = parse_command(data, ledger.tz)
            authorise(name, user.role, actor=user.name)
            assert isinstance(command, TicketCommand)
            command.decide(ticket, stamp_command(command, ledger.clock))
        except (DomainError, CommandError):
            continue
        found.append(name)
    return found


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


def load_ticket_sla(ledger: Ledger, number: str) -> tuple[TicketSla | None, datetime]:
    with caught_up(ledger, QUEUE_MODELS) as (conn, now):
        found = ticket_slas(conn, now, numbers=[number], include_cancelled=True)
    return (found[0] if found else None), now


# --------------------------------------------------------------------------- intake


@dataclass(frozen=True)
class ContractChoice:
    contract_id: str
    name: str
    customer: str


def promise_text(policy: Policy, severity: Severity, words: dict[str, str], lang: Lang) -> str:
    """What the contract promises for ``severity``, as the hotline reads it out:
    ``响应 5 分钟 · 到场 30 分钟 · 修复 4 小时`` (``words``: each metric's name)."""
    parts = []
    for metric, text in policy.targets.for_severity(severity).given().items():
        shown = target_zh(text) if lang == "zh" else text
        declared = policy.metrics.get(metric)
        if declared is not None and declared.start_after:  # a clock that starts later
            after = declared.start_after
            shown = f"{target_zh(after)}后再 {shown}" if lang == "zh" else f"{shown} after {after}"
        parts.append(f"{words.get(metric, metric)} {shown}")
    return " · ".join(parts)


def in_warranty(policy: Policy, today: date) -> bool:
    return policy.warranty.covers(today)


def find_contracts(
    contracts: Iterable[Contract], query: str, by_phone: Iterable[str] = ()
) -> list[ContractChoice]:
    """The contracts whose customer or name holds ``query`` (case ignored), or whose earlier
    tickets had a contact with that phone (``by_phone``: their contract ids)."""
    wanted = query.strip().lower()
    phone_ids = set(by_phone)
    found = []
    for contract in contracts:
        policy = contract.latest.policy
        text = f"{contract.contract_id}\n{policy.name}\n{policy.customer}".lower()
        if not wanted or wanted in text or contract.contract_id in phone_ids:
            found.append(ContractChoice(contract.contract_id, policy.name, policy.customer))
    return sorted(found, key=lambda c: c.contract_id)


@dataclass(frozen=True)
class Remembered:
    """What earlier tickets of a contract remember, most used first."""

    customers: list[str]
    sites: list[str]
    devices: list[str]
    contacts: list[tuple[str, str]]
    open_tickets: list[dict[str, str]]


def remembered(tickets: Iterable[Ticket]) -> Remembered:
    """From a contract's earlier tickets: customers, sites, devices and contacts (name,
    phone), most often used first, and the tickets still open (possible duplicates)."""
    customers: Counter[str] = Counter()
    sites: Counter[str] = Counter()
    devices: Counter[str] = Counter()
    contacts: Counter[tuple[str, str]] = Counter()
    still_open = []
    for t in tickets:
        customers[t.customer] += 1
        sites[t.site] += 1
        devices[t.device] += 1
        contacts[(t.contact.name, t.contact.phone)] += 1
        if t.is_open:
            still_open.append(
                {"number": t.number, "site": t.site, "device": t.device, "status": t.status.value}
            )

    def ranked(counter: Counter[Any]) -> list[Any]:
        return [k for k, _ in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))]

    return Remembered(
        ranked(customers),
        ranked(sites),
        ranked(devices),
        ranked(contacts),
        sorted(still_open, key=lambda r: r["number"], reverse=True),
    )


def load_contracts_list(ledger: Ledger) -> list[Contract]:
    """Every contract (the SLA read model's copy, caught up first)."""
    with caught_up(ledger, QUEUE_MODELS) as (conn, _):
        return list(load_contracts(conn).values())


def contracts_by_phone(ledger: Ledger, phone: str) -> list[str]:
    """The contracts of earlier tickets whose contact had ``phone`` (a part of it, at
    least 3 characters: the search read model)."""
    digits = phone.strip()
    if len(digits) < 3 or not any(c.isdigit() for c in digits):
        return []
    ledger.projections.catch_up(["search"])
    t = ticket_search
    with ledger.engine.connect() as conn:
        numbers = search_tickets(conn, digits, limit=200)
        if not numbers:
            return []
        rows = conn.execute(select(t.c.contract_id, t.c.phones).where(t.c.number.in_(numbers)))
        return sorted({r.contract_id for r in rows if digits in r.phones})


def contract_tickets(ledger: Ledger, contract_id: str, limit: int = 500) -> list[Ticket]:
    """The contract's latest tickets (as the search read model holds them)."""
    ledger.projections.catch_up(["search"])
    t = ticket_search
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.state)
            .where(t.c.contract_id == contract_id)
            .order_by(t.c.number.desc())
            .limit(limit)
        )
        return [Ticket.model_validate_json(r.state) for r in rows]
