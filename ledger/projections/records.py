"""What the record read models (``visits``, ``corrective_actions``, ``complaints``) share:
one row per numbered record (filter columns plus the record's full domain state as JSON,
advanced with the domain's own ``mutate``, as the ticket list does, so a list can never
disagree with ``show`` about what an event does), the crediting of a ticket's engineer, and
the helpers their list queries use.

**Engineers.** The visits and complaints read models also follow ``Dispatched`` and keep
their own copy of each ticket's engineer (so each can be rebuilt alone). A visit of a
ticket, or a complaint about one, is credited to the engineer the ticket was last
dispatched to before the record was made; when the ticket had none yet, to the first
engineer dispatched after. Re-dispatching a reopened ticket does not move it. A complaint
about an engineer names the engineer itself.

Events take effect in log order, so a live projection (a few events a batch) and a rebuild
(hundreds) agree: a batch folds each record's events in memory from its stored state (read
once), replays the dispatches and record creations in order to credit engineers, and writes
each touched row once, with one ``executemany`` per statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    Select,
    String,
    Table,
    Text,
    Uuid,
    select,
)

from ledger.domain.model import Aggregate, DomainEvent
from ledger.domain.ticket import Dispatched
from ledger.projections.base import Projection
from ledger.projections.rows import chunks, insert_rows, update_rows
from ledger.storage.tables import metadata
from ledger.timeutil import as_utc


def record_table(name: str, *columns: Column[Any]) -> Table:
    """A table of one row per numbered record: its id and number, ``columns``, and the
    bookkeeping every such row has (version, last change, log position, JSON state)."""
    return Table(
        name,
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("number", String(32), nullable=False, unique=True),
        *columns,
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("version", Integer, nullable=False),
        Column("last_position", BigInteger, nullable=False),
        Column("state", Text, nullable=False),
    )


def engineers_table(name: str) -> Table:
    """A projection's own copy of each ticket's last dispatched engineer."""
    return Table(
        name,
        metadata,
        Column("ticket_id", Uuid, primary_key=True),
        Column("engineer", String(200), nullable=False),
    )


def time_column() -> Any:
    return DateTime(timezone=True)


class RecordProjection(Projection):
    """One row per record, its state folded with the domain's ``mutate``; optionally
    crediting records of a ticket to the ticket's engineer (``engineers``)."""

    table: ClassVar[Table]
    state_type: ClassVar[type[Aggregate]]
    mutate: ClassVar[Callable[[Any, Any], Any]]
    columns: ClassVar[Callable[[Any], dict[str, Any]]]
    engineers: ClassVar[Table | None] = None
    own_engineer: ClassVar[Callable[[Any], str | None] | None] = None

    def apply(self, conn: Connection, events: Sequence[tuple[int, DomainEvent]]) -> None:
        """Fold the batch's records in memory (each stored state read once), credit
        engineers in log order, then write each touched row once."""
        states, stored = self._load(conn, events)
        positions: dict[UUID, int] = {}
        created: dict[UUID, int] = {}  # records first seen in this batch: index of the event
        dispatches: list[tuple[int, Dispatched]] = []
        for index, (position, event) in enumerate(events):
            if isinstance(event, Dispatched):
                dispatches.append((index, event))
                continue
            key = event.originator_id
            states[key] = type(self).mutate(event, states.get(key))
            positions[key] = position
            if key not in stored and key not in created:
                created[key] = index
        rows = {key: self._row(states[key], position) for key, position in positions.items()}
        new = [{"id": key, **rows[key]} for key in created]
        if self.engineers is not None:
            credited = self._credit(conn, states, created, dispatches)
            for row in new:
                row["engineer"] = credited[row["id"]]
        update_rows(conn, self.table, "id", {k: v for k, v in rows.items() if k in stored})
        insert_rows(conn, self.table, new)

    def _load(
        self, conn: Connection, events: Sequence[tuple[int, DomainEvent]]
    ) -> tuple[dict[UUID, Any], set[UUID]]:
        """The stored states of the batch's records (one ``SELECT ... IN`` per chunk)."""
        table = self.table
        wanted = {e.originator_id for _, e in events if not isinstance(e, Dispatched)}
        states: dict[UUID, Any] = {}
        for chunk in chunks(wanted):
            query = select(table.c.id, table.c.state).where(table.c.id.in_(chunk))
            for row in conn.execute(query):
                states[row.id] = self.state_type.model_validate_json(row.state)
        return states, set(states)

    def _row(self, state: Any, position: int) -> dict[str, Any]:
        return {
            "number": state.number,
            **type(self).columns(state),
            "updated_at": state.modified_on,
            "version": state.version,
            "last_position": position,
            "state": state.model_dump_json(),
        }

    def _credit(
        self,
        conn: Connection,
        states: dict[UUID, Any],
        created: dict[UUID, int],
        dispatches: list[tuple[int, Dispatched]],
    ) -> dict[UUID, str | None]:
        """Replay the batch's dispatches and record creations in log order: the engineer
        each new record is credited to; stored records still without one get their
        ticket's first dispatch, and the engineers table its last.

        A record's ticket is fixed when it is made, so its final state's ``ticket_id`` is
        the one it had then; so is a complaint's own engineer."""
        engineers, table = self.engineers, self.table
        assert engineers is not None
        own = type(self).own_engineer
        tickets = {key: states[key].ticket_id for key in created}
        wanted = {e.originator_id for _, e in dispatches} | {t for t in tickets.values() if t}
        last: dict[UUID, str] = {}
        for chunk in chunks(wanted):
            query = select(engineers.c.ticket_id, engineers.c.engineer).where(
                engineers.c.ticket_id.in_(chunk)
            )
            last.update({row.ticket_id: row.engineer for row in conn.execute(query)})
        known = set(last)
        credited: dict[UUID, str | None] = {}
        waiting: dict[UUID, list[UUID]] = {}  # ticket → new records still without one
        steps = sorted(
            [(index, None, key) for key, index in created.items()]
            + [(index, event, None) for index, event in dispatches],
            key=lambda step: step[0],
        )
        first: dict[UUID, str] = {}
        for _, dispatch, key in steps:
            if dispatch is not None:
                ticket_id = dispatch.originator_id
                last[ticket_id] = dispatch.engineer
                first.setdefault(ticket_id, dispatch.engineer)
                for record in waiting.pop(ticket_id, ()):
                    credited[record] = dispatch.engineer
                continue
            assert key is not None
            engineer = own(states[key]) if own is not None else None
            ticket_id = tickets[key]
            if engineer is None and ticket_id is not None:
                engineer = last.get(ticket_id)
                if engineer is None:
                    waiting.setdefault(ticket_id, []).append(key)
            credited[key] = engineer
        changed = {t: e for t, e in last.items() if t in first}
        update_rows(
            conn,
            engineers,
            "ticket_id",
            {t: {"engineer": e} for t, e in changed.items() if t in known},
        )
        insert_rows(
            conn,
            engineers,
            [{"ticket_id": t, "engineer": e} for t, e in changed.items() if t not in known],
        )
        self._credit_stored(conn, table, first)
        return credited

    @staticmethod
    def _credit_stored(conn: Connection, table: Table, first: dict[UUID, str]) -> None:
        """Stored records of the dispatched tickets still without an engineer: the ticket's
        first dispatch in the batch (run before the batch's new rows are inserted)."""
        waiting: dict[UUID, str] = {}
        for chunk in chunks(first):
            query = select(table.c.id, table.c.ticket_id).where(
                table.c.ticket_id.in_(chunk), table.c.engineer.is_(None)
            )
            waiting.update({row.id: first[row.ticket_id] for row in conn.execute(query)})
        update_rows(conn, table, "id", {k: {"engineer": e} for k, e in waiting.items()})


TIMES = {
    "updated_at",
    "scheduled_at",
    "planned_at",
    "conducted_at",
    "scored_at",
    "audited_at",
    "raised_at",
    "due_by",
    "verified_at",
    "closed_at",
    "received_at",
    "analysed_at",
    "resolved_at",
}


def read_rows(
    conn: Connection,
    query: Select[Any],
    limit: int | None,
    keep: Callable[[str], bool] | None = None,
) -> list[dict[str, Any]]:
    """The rows without bookkeeping, times in UTC (SQLite hands back naive ones), a visit's
    total as the exact ``Decimal`` it is (a multiple of 0.25), an action's links as a
    list. ``keep``: a test on a row's
    JSON state (applied before ``limit``)."""
    if limit and keep is None:
        query = query.limit(limit)
    result: list[dict[str, Any]] = []
    for row in conn.execute(query).mappings():
        if keep is not None and not keep(row["state"]):
            continue
        if limit and len(result) >= limit:
            break
        item = {str(k): v for k, v in row.items() if k not in ("state", "last_position")}
        for key in TIMES & item.keys():
            value = item[key]
            item[key] = as_utc(value) if isinstance(value, datetime) else None
        if item.get("total") is not None:
            item["total"] = Decimal(item["total"])
        if "links" in item:
            item["links"] = item["links"].split()
        result.append(item)
    return result


def matching(query: Select[Any], *pairs: tuple[Any, str | None]) -> Select[Any]:
    """Only rows whose column equals the value, for each (column, value) given a value."""
    for column, value in pairs:
        if value:
            query = query.where(column == value)
    return query


def within(
    query: Select[Any], column: Any, start: datetime | None, end: datetime | None
) -> Select[Any]:
    """Only rows whose time ``column`` is in ``[start, end)`` (either end may be open)."""
    if start is not None:
        query = query.where(column >= as_utc(start))
    if end is not None:
        query = query.where(column < as_utc(end))
    return query


def state_filter(query: Select[Any], table: Table, state: str | None) -> Select[Any]:
    """``state``: open | closed | all (or ``None``: all)."""
    if state in ("open", "closed"):
        return query.where(table.c.is_open.is_(state == "open"))
    return query
