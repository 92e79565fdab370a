"""The ``supervision`` read model: the supervision facts of each ticket, one row a fact.

Seed 003's quarterly assessment counts, per engineer, the escalations, inspection notices
(检查单) and rectification notices (整改通知单) their tickets received; the sweep also
flags replacements owed, and a failed audit (or a person) reopens a ticket. Each of these
ticket events becomes a row of ``supervision_events`` (its log position is its key), with
when it happened and the engineer it is credited to.

**Engineers.** A fact is credited to the engineer the ticket was last dispatched to when
the fact was recorded; when the ticket had none yet (an unanswered call climbs the ladder
before anyone is dispatched), to the first engineer dispatched after. Re-dispatching later
does not move a fact. This is the rule of the ``visits`` and ``complaints`` read models,
so the assessment's columns all credit the same engineer. The projection keeps its own
copy of each ticket's number and last engineer (``supervision_tickets``) and can be
rebuilt alone; events are applied in log order, so a rebuild equals the live tables.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    String,
    Table,
    Uuid,
    bindparam,
    select,
)

from ledger.domain.model import DomainEvent
from ledger.domain.ticket import (
    Dispatched,
    Escalated,
    InspectionNoticeIssued,
    RectificationNoticeIssued,
    Reopened,
    ReplacementFlagged,
    Reported,
    TicketEvent,
)
from ledger.projections.base import Projection
from ledger.projections.rows import KEY, chunks, insert_rows, update_rows
from ledger.storage.tables import metadata
from ledger.timeutil import as_utc


class SupervisionKind(StrEnum):
    """The supervision facts of a ticket (the values of ``SweepKind`` where they match)."""

    ESCALATED = "escalated"
    INSPECTION_NOTICE = "inspection_notice"
    RECTIFICATION_NOTICE = "rectification_notice"
    REPLACEMENT_FLAGGED = "replacement_flagged"
    REOPENED = "reopened"


supervision_tickets = Table(
    "supervision_tickets",
    metadata,
    Column("ticket_id", Uuid, primary_key=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("contract_id", String(200), nullable=False),
    Column("engineer", String(200)),
)

supervision_events = Table(
    "supervision_events",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("ticket_id", Uuid, nullable=False, index=True),
    Column("number", String(32), nullable=False),
    Column("contract_id", String(200), nullable=False),
    Column("kind", String(30), nullable=False, index=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    Column("engineer", String(200), index=True),
    Column("detail", String(200)),
    Column("actor", String(200), nullable=False),
)


def _fact(event: TicketEvent) -> tuple[SupervisionKind, str | None] | None:
    """The kind and detail of a supervision fact (``None``: not one)."""
    if isinstance(event, Escalated):
        return SupervisionKind.ESCALATED, event.to_level.value
    if isinstance(event, InspectionNoticeIssued):
        return SupervisionKind.INSPECTION_NOTICE, event.threshold
    if isinstance(event, RectificationNoticeIssued):
        return SupervisionKind.RECTIFICATION_NOTICE, event.threshold
    if isinstance(event, ReplacementFlagged):
        return SupervisionKind.REPLACEMENT_FLAGGED, event.target
    if isinstance(event, Reopened):
        return SupervisionKind.REOPENED, event.cause
    return None


@dataclass
class _TicketFacts:
    number: str
    contract_id: str
    engineer: str | None
    stored: bool
    changed: bool = False


class SupervisionProjection(Projection):
    name = "supervision"
    event_types = (
        Reported,
        Dispatched,
        Escalated,
        InspectionNoticeIssued,
        RectificationNoticeIssued,
        ReplacementFlagged,
        Reopened,
    )
    tables = (supervision_tickets, supervision_events)

    def apply(self, conn: Connection, events: Sequence[tuple[int, DomainEvent]]) -> None:
        t = supervision_tickets
        ids = list({e.originator_id for _, e in events})
        tickets = {
            row.ticket_id: _TicketFacts(row.number, row.contract_id, row.engineer, stored=True)
            for row in conn.execute(select(t).where(t.c.ticket_id.in_(ids)))
        }
        facts: list[dict[str, Any]] = []
        first_dispatch: dict[UUID, str] = {}  # for stored facts still without an engineer
        for position, event in events:
            assert isinstance(event, TicketEvent)
            tid = event.originator_id
            if isinstance(event, Reported):
                tickets[tid] = _TicketFacts(event.number, event.contract_id, None, stored=False)
                continue
            ticket = tickets[tid]
            if isinstance(event, Dispatched):
                ticket.engineer, ticket.changed = event.engineer, True
                first_dispatch.setdefault(tid, event.engineer)
                for row in facts:
                    if row["ticket_id"] == tid and row["engineer"] is None:
                        row["engineer"] = event.engineer
                continue
            fact = _fact(event)
            assert fact is not None
            facts.append(
                {
                    "position": position,
                    "ticket_id": tid,
                    "number": ticket.number,
                    "contract_id": ticket.contract_id,
                    "kind": fact[0].value,
                    "occurred_at": event.occurred_at,
                    "engineer": ticket.engineer,
                    "detail": fact[1],
                    "actor": event.actor,
                }
            )
        self._save(conn, tickets, first_dispatch, facts)

    def _save(
        self,
        conn: Connection,
        tickets: dict[UUID, _TicketFacts],
        first_dispatch: dict[UUID, str],
        facts: list[dict[str, Any]],
    ) -> None:
        t, e = supervision_tickets, supervision_events
        new = [
            {
                "ticket_id": tid,
                "number": f.number,
                "contract_id": f.contract_id,
                "engineer": f.engineer,
            }
            for tid, f in tickets.items()
            if not f.stored
        ]
        insert_rows(conn, t, new)
        update_rows(
            conn,
            t,
            "ticket_id",
            {tid: {"engineer": f.engineer} for tid, f in tickets.items() if f.stored and f.changed},
        )
        uncredited = [
            {KEY: tid, "engineer": engineer}
            for tid, engineer in first_dispatch.items()
            if tickets[tid].stored
        ]
        if uncredited:
            conn.execute(_CREDIT_FACTS, uncredited)
        insert_rows(conn, e, facts)


_CREDIT_FACTS = supervision_events.update().where(
    supervision_events.c.ticket_id == bindparam(KEY), supervision_events.c.engineer.is_(None)
)
"""A ticket's stored facts still without an engineer get its first dispatch (executemany)."""


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class SupervisionFact:
    number: str
    contract_id: str
    kind: SupervisionKind
    occurred_at: datetime
    engineer: str | None
    detail: str | None
    actor: str


def supervision_facts(
    conn: Connection,
    *,
    occurred_from: datetime | None = None,
    occurred_until: datetime | None = None,
    engineer: str | None = None,
    kinds: Collection[SupervisionKind] = (),
    tickets: Collection[UUID] | None = None,
) -> list[SupervisionFact]:
    """The facts that occurred in ``[occurred_from, occurred_until)``, in log order; only
    of ``kinds`` and of ``tickets`` (ids) when given."""
    e = supervision_events
    query = select(e)
    if occurred_from is not None:
        query = query.where(e.c.occurred_at >= as_utc(occurred_from))
    if occurred_until is not None:
        query = query.where(e.c.occurred_at < as_utc(occurred_until))
    if engineer:
        query = query.where(e.c.engineer == engineer)
    if kinds:
        query = query.where(e.c.kind.in_([k.value for k in kinds]))
    if tickets is None:
        rows = list(conn.execute(query.order_by(e.c.position)))
    else:
        rows = []
        for chunk in chunks(list(tickets)):
            rows += conn.execute(query.where(e.c.ticket_id.in_(chunk)))
        rows.sort(key=lambda row: row.position)
    return [fact_of(row) for row in rows]


def fact_of(row: Any, engineer: str | None = None) -> SupervisionFact:
    """A fact from a row of ``supervision_events`` (credited to ``engineer`` when given)."""
    return SupervisionFact(
        number=row.number,
        contract_id=row.contract_id,
        kind=SupervisionKind(row.kind),
        occurred_at=as_utc(row.occurred_at),
        engineer=row.engineer if engineer is None else engineer,
        detail=row.detail,
        actor=row.actor,
    )
