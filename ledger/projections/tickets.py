"""The ticket list read model: one row per ticket, for ``ledger ticket list`` and filters.

Each row keeps the ticket's full state as JSON and is advanced with the domain's own
``mutate``, so the list can never disagree with ``ticket show`` about what an event does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    select,
)

from ledger.domain.model import DomainEvent
from ledger.domain.ticket import TICKET_EVENT_TYPES, Ticket, TicketEvent, mutate
from ledger.domain.values import TicketStatus
from ledger.projections.base import Projection, chunks, insert_rows, update_rows
from ledger.storage.tables import metadata
from ledger.timeutil import as_utc


def ticket_columns() -> list[Column[Any]]:
    """The key and filter columns every per-ticket read model starts with (new objects
    for each table); :func:`ticket_values` fills them."""
    return [
        Column("ticket_id", Uuid, primary_key=True),
        Column("number", String(32), nullable=False, unique=True),
        Column("contract_id", String(200), nullable=False, index=True),
        Column("customer", String(200), nullable=False),
        Column("severity", String(20), nullable=False),
    ]


def ticket_values(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "contract_id": ticket.contract_id,
        "customer": ticket.customer,
        "severity": ticket.severity.value,
    }


ticket_summary = Table(
    "ticket_summary",
    metadata,
    *ticket_columns(),
    Column("category", String(20), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("is_open", Boolean, nullable=False, index=True),
    Column("suspended", Boolean, nullable=False),
    Column("engineer", String(200), index=True),
    Column("escalation_level", String(40), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False, index=True),
    Column("resolved_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_position", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
)


class TicketSummaryProjection(Projection):
    name = "tickets"
    event_types = TICKET_EVENT_TYPES
    tables = (ticket_summary,)

    def apply(self, conn: Connection, events: Sequence[tuple[int, DomainEvent]]) -> None:
        """Fold the batch in memory, then write each touched ticket's row once."""
        t = ticket_summary
        existing: dict[Any, Ticket] = {}
        for chunk in chunks({e.originator_id for _, e in events}):
            rows = conn.execute(select(t.c.ticket_id, t.c.state).where(t.c.ticket_id.in_(chunk)))
            existing.update({row.ticket_id: Ticket.model_validate_json(row.state) for row in rows})
        current: dict[Any, Ticket] = dict(existing)
        positions: dict[Any, int] = {}
        for position, event in events:
            assert isinstance(event, TicketEvent)
            current[event.originator_id] = mutate(event, current.get(event.originator_id))
            positions[event.originator_id] = position
        rows_by_id = {tid: _row(current[tid], position) for tid, position in positions.items()}
        update_rows(conn, t, "ticket_id", {k: v for k, v in rows_by_id.items() if k in existing})
        insert_rows(conn, t, [v for k, v in rows_by_id.items() if k not in existing])


def _row(ticket: Ticket, position: int) -> dict[str, Any]:
    return {
        **ticket_values(ticket),
        "category": ticket.category.value,
        "status": ticket.status.value,
        "is_open": ticket.is_open,
        "suspended": ticket.is_suspended,
        "engineer": ticket.engineer,
        "escalation_level": ticket.escalation_level.value,
        "reported_at": ticket.reported_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "updated_at": ticket.modified_on,
        "version": ticket.version,
        "last_position": position,
        "state": ticket.model_dump_json(),
    }


def list_tickets(
    conn: Connection,
    *,
    state: str | None = None,
    contract: str | None = None,
    engineer: str | None = None,
    severity: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Rows of the ticket list, newest report first. ``state``: open | closed | all."""
    query = select(ticket_summary).order_by(
        ticket_summary.c.reported_at.desc(), ticket_summary.c.number.desc()
    )
    if state == "open":
        query = query.where(ticket_summary.c.is_open.is_(True))
    elif state == "closed":
        query = query.where(ticket_summary.c.status == TicketStatus.CLOSED.value)
    if contract:
        query = query.where(ticket_summary.c.contract_id == contract)
    if engineer:
        query = query.where(ticket_summary.c.engineer == engineer)
    if severity:
        query = query.where(ticket_summary.c.severity == severity)
    if limit:
        query = query.limit(limit)
    result = []
    for row in conn.execute(query).mappings():
        item = {k: v for k, v in row.items() if k not in ("state", "last_position")}
        for key in ("reported_at", "resolved_at", "closed_at", "updated_at"):
            value = item[key]
            item[key] = as_utc(value) if isinstance(value, datetime) else None
        result.append(item)
    return result
