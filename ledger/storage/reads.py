"""Raw reads of the log and its chain through the database driver's own cursor: no
SQLAlchemy result rows, no UUIDs parsed, which costs more than decoding the events. The
feed, ``ledger verify`` and the projections read pages of the log here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, text

from ledger.storage.chain import CHAIN_TABLE
from ledger.storage.hashing import GENESIS, as_uuid


@dataclass(frozen=True)
class ChainedEvent:
    """One link as stored, joined with its event (``None`` fields: the event is gone)."""

    position: int
    notification_id: int
    event_hash: bytes
    originator_id: UUID | str | None
    originator_version: int | None
    topic: str | None
    state: bytes | None

    @property
    def present(self) -> bool:
        return self.state is not None

    @classmethod
    def from_row(cls, row: LinkRow) -> ChainedEvent:
        """A raw row of :func:`read_link_rows` (ids parsed, bytes copied)."""
        position, notification_id, event_hash, originator_id, version, topic, state = row
        return cls(
            position=position,
            notification_id=notification_id,
            event_hash=bytes(event_hash),
            originator_id=None if originator_id is None else as_uuid(originator_id),
            originator_version=version,
            topic=topic,
            state=None if state is None else bytes(state),
        )


LinkRow = tuple[int, int, bytes, Any, int | None, str | None, bytes | None]
"""``(position, notification_id, event_hash, originator_id, originator_version, topic,
state)`` exactly as the driver returns them: the originator id is SQLite's hex text or
PostgreSQL's ``UUID``; the event's fields are ``None`` when the event is gone."""


def driver_terms(dialect: str) -> tuple[str, str]:
    """The DB-API placeholder of ``dialect``'s driver and the column of the events table
    that holds an event's notification id."""
    return ("?", "rowid") if dialect == "sqlite" else ("%s", "notification_id")


def fetch_all(dbapi_connection: Any, dialect: str, sql: str, params: Sequence[Any]) -> list[Any]:
    """Every row of ``sql`` from the driver's own cursor, as the driver returns them (no
    SQLAlchemy rows). psycopg's binary format hands bytea over as bytes and uuid as
    ``UUID``, without hex-decoding or parsing their text: it halves the read of a page."""
    binary = dialect != "sqlite"
    cursor = dbapi_connection.cursor(binary=True) if binary else dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        rows: list[Any] = cursor.fetchall()
    finally:
        cursor.close()
    return rows


def id_column(conn: Connection) -> str:
    return driver_terms(conn.dialect.name)[1]


def _links_sql(dialect: str, events_table: str, topics: int) -> str:
    """The chain joined with its events, keyset-paged by position (DB-API placeholders)."""
    p, nid = driver_terms(dialect)
    where = f"c.position > {p}"
    if topics:
        where += f" AND e.topic IN ({', '.join([p] * topics)})"
    return (
        "SELECT c.position, c.notification_id, c.event_hash, e.originator_id, "
        "e.originator_version, e.topic, e.state "
        f"FROM {CHAIN_TABLE} c LEFT JOIN {events_table} e ON e.{nid} = c.notification_id "
        f"WHERE {where} ORDER BY c.position LIMIT {p}"
    )


def _fetch_links(
    dbapi_connection: Any,
    dialect: str,
    events_table: str,
    after: int,
    limit: int,
    topics: Sequence[str],
) -> list[LinkRow]:
    sql = _links_sql(dialect, events_table, len(topics))
    return fetch_all(dbapi_connection, dialect, sql, (after, *topics, limit))


def read_link_rows(
    conn: Connection,
    events_table: str,
    *,
    after: int = 0,
    limit: int = 1000,
    topics: Sequence[str] = (),
) -> list[LinkRow]:
    """Links with position > ``after``, in order, each with its stored event, as raw rows
    of ``conn``'s own DB-API cursor (in its transaction): no SQLAlchemy result rows, no
    UUIDs parsed. ``topics``: only links whose event has one of these topics."""
    return _fetch_links(conn.connection, conn.dialect.name, events_table, after, limit, topics)


def read_chain(
    conn: Connection,
    events_table: str,
    *,
    after: int = 0,
    limit: int = 1000,
    topics: Sequence[str] = (),
) -> list[ChainedEvent]:
    """Links with position > ``after``, in order, each with its stored event."""
    from_row = ChainedEvent.from_row
    return [
        from_row(row)
        for row in read_link_rows(conn, events_table, after=after, limit=limit, topics=topics)
    ]


def iter_link_pages(
    engine: Engine, events_table: str, *, after: int = 0, batch: int = 1000
) -> Iterator[list[LinkRow]]:
    """Every link after ``after`` as pages of raw rows (:data:`LinkRow`), ``batch`` a page:
    bounded memory, one pooled connection, each page its own short read (no transaction is
    held open while the caller works through a page)."""
    dbapi_connection = engine.raw_connection()
    try:
        while True:
            rows = _fetch_links(
                dbapi_connection, engine.dialect.name, events_table, after, batch, ()
            )
            dbapi_connection.rollback()
            if rows:
                yield rows
            if len(rows) < batch:
                return
            after = rows[-1][0]
    finally:
        dbapi_connection.close()


def iter_chain(
    engine: Engine, events_table: str, *, after: int = 0, batch: int = 1000
) -> Iterator[ChainedEvent]:
    """Every link after ``after``, streamed in batches (bounded memory)."""
    from_row = ChainedEvent.from_row
    for page in iter_link_pages(engine, events_table, after=after, batch=batch):
        for row in page:
            yield from_row(row)


def chain_head(conn: Connection) -> tuple[int, bytes]:
    """(position, hash) of the last link; (0, GENESIS) for an empty log."""
    row = conn.execute(
        text(f"SELECT position, event_hash FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1")
    ).first()
    return (0, GENESIS) if row is None else (row[0], bytes(row[1]))


EventRow = tuple[int, Any, int, str, bytes]
"""``(notification id, originator id, version, topic, state)`` as the driver returns them
(the originator id SQLite's 32 hex digits or PostgreSQL's ``UUID``)."""


def fetch_events(
    dbapi_connection: Any,
    dialect: str,
    events_table: str,
    after: int,
    limit: int,
    topics: Sequence[str],
) -> list[EventRow]:
    """Up to ``limit`` events after notification id ``after`` with one of ``topics``, in
    order: the rows of the recorder's ``select_notifications`` (the same query)."""
    p, nid = driver_terms(dialect)
    sql = (
        f"SELECT {nid}, originator_id, originator_version, topic, state FROM {events_table} "
        f"WHERE {nid} > {p} AND topic IN ({', '.join([p] * len(topics))}) "
        f"ORDER BY {nid} LIMIT {p}"
    )
    return fetch_all(dbapi_connection, dialect, sql, (after, *topics, limit))
