"""The hash chain: tamper evidence over the whole log, in its global order.

Every stored event gets a row in ``ledger_chain``: a gap-free ``position`` (1, 2, 3 …),
the event's ``notification_id`` and ``event_hash = SHA-256(prev_hash ‖ canonical bytes)``,
where ``prev_hash`` is the hash at ``position - 1`` (32 zero bytes before the first).
Because each hash covers its predecessor, rewriting, reordering, deleting one event or a
whole ticket, and truncating the log all break the chain somewhere an auditor can see.

The rows are written by our subclasses of the library's application recorders, inside
the transaction that inserts the events, after the insert has taken the writer's lock
(SQLite's single writer; PostgreSQL's ``LOCK TABLE … IN EXCLUSIVE MODE``): so positions
are assigned in commit order and never skip, even where PostgreSQL's own
``notification_id`` sequence does (a conflicting insert burns sequence numbers). The
chain position is therefore what the feed calls ``sequence``.

The canonical bytes do not depend on the database: the same log hashes the same on
SQLite and PostgreSQL.

The same recorders keep ``ledger_commands``: the idempotency key of each command
``ledger import`` applied (``command_id`` primary key, the chain ``position`` of its first
event, the ``record`` number it made or changed), written in the transaction of its events
when ``app.save(..., commands=[CommandKey, ...])`` passes them through the library's
``insert_events`` keywords. A re-run looks a key up by primary key instead of scanning the log.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier
from sqlalchemy import Connection, Engine, text

CHAIN_TABLE = "ledger_chain"
COMMANDS_TABLE = "ledger_commands"
GENESIS = bytes(32)
_FORMAT = b"ledger-chain-v1"


@dataclass(frozen=True)
class CommandKey:
    """A command's idempotency key, saved with its events: ``first_event`` indexes the
    events of the ``app.save`` that carries it; ``record`` is the number it made or changed."""

    command_id: str
    first_event: int
    record: str


@dataclass(frozen=True)
class RecordedCommand:
    """A key found in ``ledger_commands``: where its events start and the record's number."""

    position: int
    record: str


def _command_rows(
    commands: Sequence[CommandKey], ids: Sequence[int], links: Sequence[tuple[int, int, bytes]]
) -> list[tuple[str, int, str]]:
    """``ledger_commands`` rows: each key with the chain position of its first event."""
    position_of = {notification_id: position for position, notification_id, _ in links}
    return [(k.command_id, position_of[ids[k.first_event]], k.record) for k in commands]


_TIMESTAMP_HEAD = b'{"timestamp":"'
_CANONICAL_ID = re.compile(r"[0-9a-f]{32}").fullmatch


def canonical_id(stored_id: Any) -> bool:
    """Whether a stored originator id is in the form the recorders write: a ``UUID``
    (PostgreSQL's uuid column) or SQLite's 32 lower-case hex digits. The library finds an
    aggregate's events by that exact text, while the hash covers the id's *value*, so any
    other spelling of the same UUID (upper case, hyphens) hides the events from every
    lookup without breaking a hash: ``ledger verify`` refuses it."""
    return isinstance(stored_id, UUID) or (
        type(stored_id) is str and _CANONICAL_ID(stored_id) is not None
    )


def recorded_text(state: bytes | None) -> bytes | None:
    """The recorded time of a stored ledger event, as the ISO text its state starts with
    (every event's JSON starts with ``"timestamp"``, in UTC); ``None`` for any other state
    (compressed, encrypted, or not the ledger's)."""
    if state is None or not state.startswith(_TIMESTAMP_HEAD):
        return None
    end = state.find(b'"', len(_TIMESTAMP_HEAD))
    return None if end < 0 else bytes(state[len(_TIMESTAMP_HEAD) : end])


def recorded_time(text: bytes | None) -> datetime | None:
    """:func:`recorded_text` as an aware datetime (``None`` when absent or unreadable)."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return at if at.tzinfo is not None else None


def earlier(text: bytes, than: bytes) -> bool:
    """Whether recorded time ``text`` is before ``than`` (both :func:`recorded_text`).
    Texts of one length compare as text (the same UTC ISO format); others are parsed."""
    if len(text) == len(than):
        return text < than
    at, before = recorded_time(text), recorded_time(than)
    return at is not None and before is not None and at < before


class RecordedTimeBackwards(IntegrityError):
    """An event would be recorded at a time before the event it follows in the chain: the
    write is refused (nothing is written). With the real clock a retry, planned afresh,
    gets a later time; with a fixed clock (a demo ledger) the clock must be moved on."""


def check_recorded_times(head_state: bytes | None, states: Sequence[bytes]) -> None:
    """Refuse (:class:`RecordedTimeBackwards`) new events whose recorded times, in chain
    order after the head's, would go backwards. States without a recorded time pass."""
    before = recorded_text(head_state)
    for state in states:
        at = recorded_text(state)
        if at is None:
            continue
        if before is not None and earlier(at, before):
            raise RecordedTimeBackwards(
                f"refused: recorded time {at.decode()} is before {before.decode()}, the "
                "recorded time of the last event in the log (recorded time never goes "
                "backwards; nothing was written)"
            )
        before = at


def canonical_bytes(
    position: int, originator_id: UUID | str, version: int, topic: str, state: bytes
) -> bytes:
    """The stored event as hashed: every field length-prefixed, ids as raw bytes."""
    if isinstance(originator_id, UUID):
        oid = b"U" + originator_id.bytes
    else:
        raw = originator_id.encode()
        oid = b"S" + struct.pack(">I", len(raw)) + raw
    topic_bytes = topic.encode()
    return b"".join(
        (
            _FORMAT,
            struct.pack(">Q", position),
            oid,
            struct.pack(">Q", version),
            struct.pack(">I", len(topic_bytes)),
            topic_bytes,
            struct.pack(">I", len(state)),
            state,
        )
    )


def link(prev_hash: bytes, canonical: bytes) -> bytes:
    return hashlib.sha256(prev_hash + canonical).digest()


_UUID_HEAD = struct.Struct(f">{len(_FORMAT)}sQc16sQ")
"""Format tag, position, ``U`` and a UUID's 16 bytes, version: the fixed-size head of the
canonical bytes of every event whose id is a UUID (all the ledger records)."""
_LENGTH = struct.Struct(">I")
_TOPIC_CACHE_SIZE = 4096


class LinkHasher:
    """:func:`canonical_bytes` and :func:`link` for rows as the driver returns them (a
    hex-text or ``UUID`` originator id), without parsing UUIDs or packing each field on its
    own: one precompiled struct for the head, each topic's length-prefixed bytes cached.
    The bytes are :func:`canonical_bytes`'s exactly (any id that is not a plain 32-digit hex
    text or ``UUID`` goes through it); the hash format is not changed here."""

    def __init__(self) -> None:
        self._topics: dict[str, bytes] = {}

    def canonical(
        self, position: int, stored_id: Any, version: int, topic: str, state: bytes
    ) -> bytes:
        if type(stored_id) is str and len(stored_id) == 32:
            try:
                raw = bytes.fromhex(stored_id)  # 16 bytes only when all 32 are hex digits
            except ValueError:
                raw = b""
        elif isinstance(stored_id, UUID):
            raw = stored_id.bytes
        else:
            raw = b""
        if len(raw) != 16:
            return canonical_bytes(position, _as_uuid(stored_id), version, topic, state)
        tail = self._topics.get(topic)
        if tail is None:
            if len(self._topics) >= _TOPIC_CACHE_SIZE:
                self._topics.clear()
            encoded = topic.encode()
            tail = self._topics[topic] = _LENGTH.pack(len(encoded)) + encoded
        return (
            _UUID_HEAD.pack(_FORMAT, position, b"U", raw, version)
            + tail
            + _LENGTH.pack(len(state))
            + state
        )

    def link(
        self,
        prev_hash: bytes,
        position: int,
        stored_id: Any,
        version: int,
        topic: str,
        state: bytes,
    ) -> bytes:
        """The hash of the link at ``position`` after ``prev_hash``."""
        return hashlib.sha256(
            prev_hash + self.canonical(position, stored_id, version, topic, state)
        ).digest()


def _as_uuid(value: Any) -> UUID | str:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except (TypeError, ValueError):
        return str(value)


def chain_rows(
    head: tuple[int, bytes] | None,
    events: Sequence[tuple[int, UUID | str, int, str, bytes]],
) -> list[tuple[int, int, bytes]]:
    """Chain ``(notification_id, originator_id, version, topic, state)`` rows (in
    notification order) after ``head`` = (position, hash) of the last link, if any."""
    position, prev = head if head is not None else (0, GENESIS)
    rows = []
    hasher = LinkHasher()  # the same bytes, without packing each field of a UUID's event
    for notification_id, originator_id, version, topic, state in events:
        position += 1
        if isinstance(originator_id, UUID):
            prev = hasher.link(prev, position, originator_id, version, topic, state)
        else:
            prev = link(prev, canonical_bytes(position, originator_id, version, topic, state))
        rows.append((position, notification_id, prev))
    return rows


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, plus the chain row of each inserted event."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} ("
            "position INTEGER PRIMARY KEY, "
            "notification_id INTEGER NOT NULL UNIQUE, "
            "event_hash BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {COMMANDS_TABLE} ("
            "command_id TEXT PRIMARY KEY, "
            "position INTEGER NOT NULL, "
            "record TEXT NOT NULL)",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        ids = self._insert_rows(
            c,
            [
                (
                    s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                    s.originator_version,
                    s.topic,
                    s.state,
                )
                for s in stored_events
            ],
        )
        # The insert above holds SQLite's write lock, so the head read here is final.
        c.execute(
            f"SELECT c.position, c.event_hash, e.state FROM {CHAIN_TABLE} c "
            f"LEFT JOIN {self.events_table_name} e ON e.rowid = c.notification_id "
            "ORDER BY c.position DESC LIMIT 1"
        )
        row = c.fetchone()
        head = (row[0], bytes(row[1])) if row else None
        check_recorded_times(row[2] if row else None, [s.state for s in stored_events])
        events = [
            (nid, s.originator_id, s.originator_version, s.topic, s.state)
            for nid, s in zip(ids, stored_events, strict=True)
        ]
        links = chain_rows(head, events)
        c.executemany(
            f"INSERT INTO {CHAIN_TABLE} (position, notification_id, event_hash) VALUES (?,?,?)",
            links,
        )
        commands: Sequence[CommandKey] = kwargs.get("commands", ())
        if commands:
            c.executemany(
                f"INSERT INTO {COMMANDS_TABLE} (command_id, position, record) VALUES (?,?,?)",
                _command_rows(commands, ids, links),
            )
        return ids

    def _insert_rows(self, c: SQLiteCursor, rows: list[tuple[Any, int, str, bytes]]) -> list[int]:
        """Insert the events' rows (the library's table and statement) in one
        ``executemany``, and return their rowids (notification ids) in order.

        The library inserts row by row to read each ``lastrowid``; one ``executemany`` is
        cheaper, and the ids follow: SQLite gives a new row ``max(rowid) + 1`` and the
        insert holds the only write lock, so the rows get consecutive ids ending at
        ``last_insert_rowid()``. That is checked (the first id holds the first row and the
        last is the table's largest); should SQLite have chosen ids at random (it does once
        the largest id is 2**63 - 1) each row's id is looked up by its primary key."""
        c.executemany(self.insert_events_statement, rows)
        c.execute(f"SELECT last_insert_rowid(), MAX(rowid) FROM {self.events_table_name}")
        last, largest = c.fetchone()
        first = last - len(rows) + 1
        c.execute(
            f"SELECT originator_id, originator_version FROM {self.events_table_name} "
            "WHERE rowid = ?",
            (first,),
        )
        found = c.fetchone()
        if last == largest and found is not None and tuple(found) == rows[0][:2]:
            return list(range(first, last + 1))
        ids = []
        for originator_id, version, _, _ in rows:
            c.execute(
                f"SELECT rowid FROM {self.events_table_name} "
                "WHERE originator_id = ? AND originator_version = ?",
                (originator_id, version),
            )
            ids.append(c.fetchone()[0])
        return ids

    def chain_position(self) -> int:
        """The position of the last link (0 for an empty log)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT MAX(position) FROM {CHAIN_TABLE}")
            row = c.fetchone()
        return int(row[0] or 0)

    def select_commands(self, command_ids: Sequence[str]) -> dict[str, RecordedCommand]:
        """The recorded commands among ``command_ids`` (a primary-key lookup each)."""
        found: dict[str, RecordedCommand] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(command_ids), 500):  # SQLite caps bound parameters
                chunk = list(command_ids[start : start + 500])
                c.execute(
                    f"SELECT command_id, position, record FROM {COMMANDS_TABLE} "
                    f"WHERE command_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                found.update((row[0], RecordedCommand(row[1], row[2])) for row in c.fetchall())
        return found


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, plus the chain row of each inserted event."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.enable_db_functions:
            raise ValueError("the chained recorder does not support POSTGRES_ENABLE_DB_FUNCTIONS")
        schema = Identifier(datastore.schema)
        chain = Identifier(CHAIN_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{chain} ("
                "position bigint PRIMARY KEY, "
                "notification_id bigint NOT NULL UNIQUE, "
                "event_hash bytea NOT NULL)"
            ).format(schema=schema, chain=chain)
        )
        self._select_head = SQL(
            "SELECT position, event_hash FROM {schema}.{chain} ORDER BY position DESC LIMIT 1"
        ).format(schema=schema, chain=chain)
        self._select_head_state = SQL(
            "SELECT e.state FROM {schema}.{chain} c "
            "JOIN {schema}.{table} e ON e.notification_id = c.notification_id "
            "ORDER BY c.position DESC LIMIT 1"
        ).format(schema=schema, chain=chain, table=Identifier(self.events_table_name))
        self._select_position = SQL(
            "SELECT MAX(position) AS position FROM {schema}.{chain}"
        ).format(schema=schema, chain=chain)
        self._select_inserted = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE notification_id = ANY(%s) ORDER BY notification_id"
        ).format(schema=schema, table=Identifier(self.events_table_name))
        self._insert_links = SQL(
            "INSERT INTO {schema}.{chain} (position, notification_id, event_hash) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[])"
        ).format(schema=schema, chain=chain)
        commands = Identifier(COMMANDS_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{commands} ("
                "command_id text PRIMARY KEY, "
                "position bigint NOT NULL, "
                "record text NOT NULL)"
            ).format(schema=schema, commands=commands)
        )
        # RETURNING, fetched: a key recorded twice fails here, inside the pipeline's sync.
        self._insert_commands = SQL(
            "INSERT INTO {schema}.{commands} (command_id, position, record) "
            "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[]) RETURNING command_id"
        ).format(schema=schema, commands=commands)
        self._select_commands = SQL(
            "SELECT command_id, position, record FROM {schema}.{commands} "
            "WHERE command_id = ANY(%s)"
        ).format(schema=schema, commands=commands)

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """Before the insert: take its table lock now (the insert takes it again, a no-op)
        and refuse events recorded before the head. Raised here, outside the library's
        catch around the insert, the error rolls the transaction back."""
        super()._insert_events(curs, stored_events, **kwargs)
        if not stored_events:
            return
        self._lock_table(curs)
        curs.execute(self._select_head_state)
        row = curs.fetchone()
        check_recorded_times(
            None if row is None else bytes(row["state"]), [s.state for s in stored_events]
        )

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids:
            links = self._append_links(curs, ids)
            commands: Sequence[CommandKey] = kwargs.get("commands", ())
            if commands:
                rows = _command_rows(commands, ids, links)
                curs.execute(
                    self._insert_commands,
                    ([c for c, _, _ in rows], [p for _, p, _ in rows], [r for _, _, r in rows]),
                )
                curs.fetchall()
        return ids

    def chain_position(self) -> int:
        """The position of the last link (0 for an empty log)."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_position)
            row = curs.fetchone()
        return int(row["position"] or 0) if row else 0

    def select_commands(self, command_ids: Sequence[str]) -> dict[str, RecordedCommand]:
        """The recorded commands among ``command_ids`` (a primary-key lookup each)."""
        if not command_ids:
            return {}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_commands, (list(command_ids),))
            rows: list[DictRow] = curs.fetchall()
        return {r["command_id"]: RecordedCommand(r["position"], r["record"]) for r in rows}

    def _append_links(self, curs: Any, ids: Sequence[int]) -> list[tuple[int, int, bytes]]:
        # Still inside the insert's transaction, under its exclusive table lock.
        curs.execute(self._select_inserted, (list(ids),))
        inserted: list[DictRow] = curs.fetchall()
        curs.execute(self._select_head)
        row = curs.fetchone()
        head = (row["position"], bytes(row["event_hash"])) if row else None
        rows = chain_rows(
            head,
            [
                (
                    r["notification_id"],
                    r["originator_id"],
                    r["originator_version"],
                    r["topic"],
                    bytes(r["state"]),
                )
                for r in inserted
            ],
        )
        curs.execute(
            self._insert_links,
            ([p for p, _, _ in rows], [n for _, n, _ in rows], [h for _, _, h in rows]),
        )
        return rows


def recorded_commands(recorder: object, command_ids: Sequence[str]) -> dict[str, RecordedCommand]:
    """The keys among ``command_ids`` already in ``ledger_commands``, with what they recorded."""
    return _chained(recorder).select_commands(command_ids)


def chain_position(recorder: object) -> int:
    """The position of the chain's last link, read through the application's recorder: it
    grows by exactly the number of events each committed save appends."""
    return _chained(recorder).chain_position()


def _chained(recorder: object) -> ChainedSQLiteRecorder | ChainedPostgresRecorder:
    if not isinstance(recorder, ChainedSQLiteRecorder | ChainedPostgresRecorder):
        raise TypeError(f"not the ledger's chained recorder: {type(recorder).__name__}")
    return recorder


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
            originator_id=None if originator_id is None else _as_uuid(originator_id),
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


def _id_column(conn: Connection) -> str:
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


def chain_unchained(engine: Engine, events_table: str) -> int:
    """Link events recorded before the chain existed (a ledger from an older version),
    in notification order after the current head. Returns how many were linked."""
    with engine.begin() as conn:
        nid = _id_column(conn)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"LOCK TABLE {events_table} IN EXCLUSIVE MODE")
        rows = conn.execute(
            text(
                f"SELECT e.{nid}, e.originator_id, e.originator_version, e.topic, e.state "
                f"FROM {events_table} e WHERE NOT EXISTS (SELECT 1 FROM {CHAIN_TABLE} c "
                f"WHERE c.notification_id = e.{nid}) ORDER BY e.{nid}"
            )
        ).all()
        if not rows:
            return 0
        links = chain_rows(
            chain_head(conn),
            [(r[0], _as_uuid(r[1]), r[2], r[3], bytes(r[4])) for r in rows],
        )
        conn.execute(
            text(
                f"INSERT INTO {CHAIN_TABLE} (position, notification_id, event_hash) "
                "VALUES (:p, :n, :h)"
            ),
            [{"p": p, "n": n, "h": h} for p, n, h in links],
        )
        return len(links)
