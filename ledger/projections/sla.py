"""The SLA read model: every promised target of every ticket, judged by ``judge_ticket``.

The projection keeps its **own** copies of everything a verdict depends on — each contract's
folded state, the loaded holiday tables, each ticket's folded state — so it is a pure
function of the prefix of the event log it has seen and can be rebuilt alone.

Stored verdicts are judged *at the ticket's report instant* (``now = reported_at``), which
makes them deterministic: a target already done is final (met, breached or n/a), a target
not done yet is stored ``pending`` with its due time. Whenever an input changes the affected
tickets are re-judged: the tickets an event batch touched; every ticket of a contract just
registered, or, for a revision, those reported from its effective time on (a revision never
applies to earlier reports); and, when a holiday table is loaded, every ticket whose clocks
ran into that year (or could not be judged). A ticket whose contract the projection does
not know gets no target rows.

The queries (:mod:`ledger.projections.sla_queries`) take ``now``: they re-judge, at
``now``, only the tickets that still have non-final targets (``pending`` / ``unknown``), so
``overdue`` and its breach minutes are exact at read time, while final verdicts come
straight from the table.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    and_,
    exists,
    or_,
    select,
)

from ledger.adapters.chinese_calendar import china_official_calendar
from ledger.domain.calendar import WorkCalendar
from ledger.domain.compliance import Judgement, judge_ticket
from ledger.domain.contract import (
    CONTRACT_EVENT_TYPES,
    Contract,
    ContractEvent,
    PolicyRevised,
    contract_uuid,
    policy_for_ticket,
)
from ledger.domain.contract import mutate as mutate_contract
from ledger.domain.holidays import (
    HOLIDAY_CALENDAR_ID,
    HOLIDAY_EVENT_TYPES,
    HolidayCalendar,
    HolidayTable,
    HolidayTableLoaded,
    with_tables,
)
from ledger.domain.holidays import mutate as mutate_holidays
from ledger.domain.model import DomainEvent
from ledger.domain.sla import SlaStatus
from ledger.domain.ticket import (
    TICKET_EVENT_TYPES,
    OutOfContractNoted,
    Suspension,
    Ticket,
    TicketEvent,
)
from ledger.domain.values import TicketStatus
from ledger.projections.base import Projection
from ledger.projections.rows import chunks, insert_rows, update_rows
from ledger.projections.tickets import fold_tickets, ticket_columns, ticket_values
from ledger.storage.tables import metadata


def _state_table(name: str, *columns: Column[Any]) -> Table:
    """A table of folded aggregate states: the aggregate id, its version, its JSON state."""
    return Table(
        name,
        metadata,
        Column("id", Uuid, primary_key=True),
        *columns,
        Column("version", Integer, nullable=False),
        Column("state", Text, nullable=False),
    )


sla_contracts = _state_table(
    "sla_contracts", Column("contract_id", String(200), nullable=False, unique=True)
)
sla_calendar = _state_table("sla_calendar")

sla_tickets = Table(
    "sla_tickets",
    metadata,
    *ticket_columns(),
    Column("engineer", String(200)),
    Column("reported_at", DateTime(timezone=True), nullable=False, index=True),
    Column("cancelled", Boolean, nullable=False),
    Column("is_open", Boolean, nullable=False),
    Column("last_position", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
)

Index("ix_sla_tickets_open_engineer", sla_tickets.c.is_open, sla_tickets.c.engineer)
"""The workbench's queues: the open tickets, everyone's or one engineer's
(:func:`open_standings`). Made by ``ledger init`` on a ledger created before it."""

sla_out_of_contract = Table(
    "sla_out_of_contract",
    metadata,
    Column("ticket_id", Uuid, primary_key=True),
)
"""The tickets reported outside their contract's coverage (``OutOfContractNoted``): the SLA
report shows them apart, out of every met %. A table of its own (run ``ledger init`` again
on a ledger created before it), so ``sla_tickets`` keeps its columns."""

sla_targets = Table(
    "sla_targets",
    metadata,
    Column("ticket_id", Uuid, primary_key=True),
    Column("metric", String(20), primary_key=True),
    Column("target", String(40), nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("due_at", DateTime(timezone=True)),
    Column("done_at", DateTime(timezone=True)),
    Column("breach_minutes", Integer, nullable=False),
    Column("elapsed_seconds", Float),
    Column("note", Text),
)

_YEAR_MARGIN = timedelta(days=2)
"""Slack around a calendar year's UTC bounds, wider than any zone's offset."""


# --------------------------------------------------------------------------- state I/O


def load_contracts(conn: Connection, ids: Iterable[UUID] | None = None) -> dict[UUID, Contract]:
    """The projection's contracts by aggregate id: those in ``ids``, or all of them."""
    query = select(sla_contracts.c.id, sla_contracts.c.state)
    if ids is not None:
        query = query.where(sla_contracts.c.id.in_(list(ids)))
    return {row.id: Contract.model_validate_json(row.state) for row in conn.execute(query)}


def load_holidays(conn: Connection) -> HolidayCalendar | None:
    state = conn.scalar(
        select(sla_calendar.c.state).where(sla_calendar.c.id == HOLIDAY_CALENDAR_ID)
    )
    return None if state is None else HolidayCalendar.model_validate_json(state)


def work_calendar(holidays: HolidayCalendar | None) -> WorkCalendar:
    """China's official calendar with the tables the projection has seen.

    Built once per set of tables (it is a pure function of their contents), so the
    contract calendars it remembers (``WorkCalendar.with_overrides``) are kept too."""
    tables = holidays.tables if holidays else ()
    return _work_calendar(tuple(table.model_dump_json() for table in tables), tables)


_calendars: dict[tuple[str, ...], WorkCalendar] = {}


def _work_calendar(key: tuple[str, ...], tables: tuple[HolidayTable, ...]) -> WorkCalendar:
    found = _calendars.get(key)
    if found is None:
        if len(_calendars) >= _CALENDARS_KEPT:
            _calendars.clear()
        found = _calendars[key] = with_tables(china_official_calendar(), tables)
    return found


_CALENDARS_KEPT = 8


def load_tickets(conn: Connection, ids: Iterable[UUID]) -> dict[UUID, Ticket]:
    return {tid: Ticket.model_validate_json(state) for tid, state in _states(conn, ids)}


class _Suspensions(BaseModel):
    """A stored ticket state's suspensions alone: validating them spares building the whole
    ticket (four times quicker) when its pauses are all a query needs."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    suspensions: tuple[Suspension, ...] = ()


def load_suspensions(conn: Connection, ids: Iterable[UUID]) -> dict[UUID, tuple[Suspension, ...]]:
    """The suspensions of the tickets ``ids``, by ticket (``load_tickets``'s, for less)."""
    return {
        tid: _Suspensions.model_validate_json(state).suspensions
        for tid, state in _states(conn, ids)
    }


def _states(conn: Connection, ids: Iterable[UUID]) -> Iterator[tuple[UUID, str]]:
    """The stored states (JSON) of the tickets ``ids``, read in chunks."""
    for chunk in chunks(list(ids)):
        yield from conn.execute(
            select(sla_tickets.c.ticket_id, sla_tickets.c.state).where(
                sla_tickets.c.ticket_id.in_(chunk)
            )
        ).tuples()


def judge(
    ticket: Ticket,
    contracts: dict[str, Contract],
    calendar: WorkCalendar,
    now: datetime,
    final: Mapping[str, Judgement] | None = None,
) -> list[Judgement] | None:
    """``judge_ticket`` under the policy in force at the report; ``None``: unknown contract."""
    policy = policy_for_ticket(contracts.get(ticket.contract_id), ticket.reported_at)
    return None if policy is None else judge_ticket(ticket, policy, calendar, now, final)


def by_contract_id(contracts: dict[UUID, Contract]) -> dict[str, Contract]:
    return {c.contract_id: c for c in contracts.values()}


# --------------------------------------------------------------------------- projection


class SlaProjection(Projection):
    name = "sla"
    event_types = (*TICKET_EVENT_TYPES, *CONTRACT_EVENT_TYPES, *HOLIDAY_EVENT_TYPES)
    tables = (sla_contracts, sla_calendar, sla_tickets, sla_targets, sla_out_of_contract)

    def apply(self, conn: Connection, events: Sequence[tuple[int, DomainEvent]]) -> None:
        folded = fold_tickets(
            [(p, e) for p, e in events if isinstance(e, TicketEvent)],
            lambda ids: load_tickets(conn, ids),
        )
        contracts = load_contracts(
            conn, {e.originator_id for _, e in events if isinstance(e, ContractEvent)}
        )
        holidays = load_holidays(conn)
        had_contracts = set(contracts)
        had_holidays = set() if holidays is None else {holidays.id}
        # contract id → the earliest report time whose policy changed (None: every one)
        revised: dict[str, datetime | None] = {}
        years: set[int] = set()
        out_of_contract: list[dict[str, Any]] = []
        for _, event in events:
            key = event.originator_id
            if isinstance(event, OutOfContractNoted):
                out_of_contract.append({"ticket_id": key})
            elif isinstance(event, ContractEvent):
                contract = contracts[key] = mutate_contract(event, contracts.get(key))
                since = event.effective_from if isinstance(event, PolicyRevised) else None
                revised[contract.contract_id] = _earliest(
                    since, revised.get(contract.contract_id, since)
                )
            elif isinstance(event, HolidayTableLoaded):
                holidays = mutate_holidays(event, holidays)
                years.add(event.table.year)

        _save_states(conn, sla_contracts, contracts.values(), had_contracts)
        if holidays is not None and years:
            _save_states(conn, sla_calendar, [holidays], had_holidays)
        touched = {tid: f.ticket for tid, f in folded.items()}
        for chunk in chunks([tid for tid, f in folded.items() if f.existed]):
            conn.execute(sla_tickets.delete().where(sla_tickets.c.ticket_id.in_(chunk)))
        insert_rows(conn, sla_tickets, [_ticket_row(f.ticket, f.position) for f in folded.values()])
        insert_rows(conn, sla_out_of_contract, out_of_contract)
        todo = {**load_tickets(conn, _affected(conn, revised, years) - set(touched)), **touched}
        needed = {t.contract_id for t in todo.values()} - set(revised)
        contracts.update(load_contracts(conn, [contract_uuid(c) for c in needed]))
        by_name = by_contract_id(contracts)
        calendar = work_calendar(holidays)
        _save_targets(
            conn,
            {tid: judge(t, by_name, calendar, now=t.reported_at) or [] for tid, t in todo.items()},
            new={tid for tid, f in folded.items() if not f.existed},
        )


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return None if a is None or b is None else min(a, b)


def _affected(conn: Connection, revised: dict[str, datetime | None], years: set[int]) -> set[UUID]:
    """Stored tickets whose verdicts the batch's contract and holiday events may change."""
    conditions: list[ColumnElement[bool]] = []
    for contract_id, since in revised.items():
        condition = sla_tickets.c.contract_id == contract_id
        if since is not None:  # a revision only applies to tickets reported from then on
            condition = and_(condition, sla_tickets.c.reported_at >= since)
        conditions.append(condition)
    conditions += [_depends_on(year) for year in sorted(years)]
    if not conditions:
        return set()
    return set(conn.scalars(select(sla_tickets.c.ticket_id).where(or_(*conditions))))


def _save_states(
    conn: Connection,
    table: Table,
    states: Iterable[Contract | HolidayCalendar],
    existing: set[UUID],
) -> None:
    rows: dict[UUID, dict[str, Any]] = {}
    for state in states:
        values: dict[str, Any] = {"version": state.version, "state": state.model_dump_json()}
        if isinstance(state, Contract):
            values["contract_id"] = state.contract_id
        rows[state.id] = values
    update_rows(conn, table, "id", {k: v for k, v in rows.items() if k in existing})
    insert_rows(conn, table, [{"id": k, **v} for k, v in rows.items() if k not in existing])


def _save_targets(
    conn: Connection, verdicts: dict[UUID, list[Judgement]], new: Collection[UUID] = ()
) -> None:
    """Replace the tickets' verdicts (``new``: tickets first seen now, which have none)."""
    for chunk in chunks(tid for tid in verdicts if tid not in new):
        conn.execute(sla_targets.delete().where(sla_targets.c.ticket_id.in_(chunk)))
    insert_rows(
        conn,
        sla_targets,
        [_target_row(tid, j) for tid, judgements in verdicts.items() for j in judgements],
    )


def _depends_on(year: int) -> ColumnElement[bool]:
    """Tickets whose stored clocks ran through ``year`` (or could not be judged).

    Clocks only run forward from the report, so a ticket reported after the year never
    needs it; an earlier one does if a due or done time reaches into it. ``unknown`` and
    due-less targets (a clock stopped by an open suspension) are always re-judged.
    """
    start = datetime(year, 1, 1, tzinfo=UTC) - _YEAR_MARGIN
    end = datetime(year + 1, 1, 1, tzinfo=UTC) + _YEAR_MARGIN
    t = sla_targets.c
    reaches = exists().where(
        t.ticket_id == sla_tickets.c.ticket_id,
        or_(
            t.status == SlaStatus.UNKNOWN.value,
            t.due_at.is_(None),
            t.due_at >= start,
            t.done_at >= start,
        ),
    )
    return and_(sla_tickets.c.reported_at < end, or_(sla_tickets.c.reported_at >= start, reaches))


def _ticket_row(ticket: Ticket, position: int) -> dict[str, Any]:
    return {
        **ticket_values(ticket),
        "engineer": ticket.engineer,
        "reported_at": ticket.reported_at,
        "cancelled": ticket.status is TicketStatus.CANCELLED,
        "is_open": ticket.is_open,
        "last_position": position,
        "state": ticket.model_dump_json(),
    }


def _target_row(ticket_id: UUID, j: Judgement) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "metric": j.metric,
        "target": j.target,
        "status": j.status.value,
        "due_at": j.due_at,
        "done_at": j.done_at,
        "breach_minutes": j.breach_minutes,
        "elapsed_seconds": None if j.elapsed is None else j.elapsed.total_seconds(),
        "note": j.note,
    }
