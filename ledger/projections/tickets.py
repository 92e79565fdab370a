"""The ticket list read model: one row per ticket, for ``ledger ticket list`` and filters.

Each row keeps the ticket's full state as JSON and is advanced with the domain's own
``mutate``, so the list can never disagree with ``ticket show`` about what an event does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

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
from ledger.projections.base import Projection, folds
from ledger.projections.rows import chunks, insert_rows, update_rows
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


@dataclass(frozen=True)
class Folded:
    """A ticket after a batch's events: its state, the position of its last event in the
    batch, and whether a projection had applied any of its events before (has its row)."""

    ticket: Ticket
    position: int
    existed: bool


def fold_tickets(
    events: Sequence[tuple[int, DomainEvent]],
    stored: Callable[[Collection[UUID]], dict[UUID, Ticket]],
) -> dict[UUID, Folded]:
    """Each ticket a batch's events touch, folded over them from the state ``stored``
    gives (the projection's own copy), or taken from another projection that folded it
    over the same events in the same transaction (``base.folds``): a ticket's state is a
    pure function of its events, so the ticket projections fold it once between them."""
    spans: dict[UUID, list[Any]] = {}
    for position, event in events:
        assert isinstance(event, TicketEvent)
        span = spans.get(event.originator_id)
        if span is None:
            spans[event.originator_id] = [position, position, event.originator_version > 1]
        else:
            span[1] = position
    shared = folds()
    states: dict[UUID, Ticket] = {}
    if shared is not None:
        for tid, (first, last, _) in spans.items():
            found = shared.get((tid, first, last))
            if found is not None:
                states[tid] = found
    missing = spans.keys() - states.keys()
    if missing:
        current = stored([tid for tid in spans if tid in missing and spans[tid][2]])
        for _, event in events:
            tid = event.originator_id
            if tid in missing:
                current[tid] = mutate(cast(TicketEvent, event), current.get(tid))
        for tid in missing:
            states[tid] = current[tid]
            if shared is not None:
                first, last, _ = spans[tid]
                shared[(tid, first, last)] = current[tid]
    return {tid: Folded(states[tid], last, existed) for tid, (_, last, existed) in spans.items()}


class TicketSummaryProjection(Projection):
    name = "tickets"
    event_types = TICKET_EVENT_TYPES
    tables = (ticket_summary,)

    def apply(self, conn: Connection, events: Sequence[tuple[int, DomainEvent]]) -> None:
        """Fold the batch in memory, then write each touched ticket's row once."""
        t = ticket_summary

        def stored(ids: Collection[UUID]) -> dict[UUID, Ticket]:
            found: dict[UUID, Ticket] = {}
            for chunk in chunks(ids):
                rows = conn.execute(
                    select(t.c.ticket_id, t.c.state).where(t.c.ticket_id.in_(chunk))
                )
                found.update({row.ticket_id: Ticket.model_validate_json(row.state) for row in rows})
            return found

        folded = fold_tickets(events, stored)
        rows = {tid: _row(f.ticket, f.position) for tid, f in folded.items()}
        update_rows(conn, t, "ticket_id", {k: v for k, v in rows.items() if folded[k].existed})
        insert_rows(conn, t, [v for k, v in rows.items() if not folded[k].existed])


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
