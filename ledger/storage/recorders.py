"""The ledger's application recorders: the library's, plus, in the transaction that
inserts the events, the hash chain's links and the imported commands' keys
(:mod:`ledger.storage.chain`), and the ``api_users`` rows passed to
``app.save(..., user_rows=[UserRowWrite, ...])`` (:mod:`ledger.storage.api_users`).

The chained recorders refuse a recorded time going backwards, before anything is written.
The user rows: on SQLite they are written after the events (the insert holds the writer's
lock); on PostgreSQL before them, in the library's pre-insert step of the same transaction,
where an error still rolls the whole transaction back (after the insert, the library
commits what a Python exception interrupted). Either way: all of it is stored, or none.

The PostgreSQL recorders are in :mod:`ledger.storage.postgres_recorders`, imported only for
a PostgreSQL ledger (psycopg and ``eventsourcing.postgres`` cost a SQLite command's start-up
a fifth of a second; issue 18).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from sqlalchemy import Engine, text

from ledger.storage.api_users import UserRowWrite
from ledger.storage.chain import (
    CHAIN_TABLE,
    COMMANDS_TABLE,
    CommandKey,
    RecordedCommand,
    check_recorded_times,
)
from ledger.storage.hashing import as_uuid, chain_rows
from ledger.storage.reads import chain_head, id_column


def _command_rows(
    commands: Sequence[CommandKey], ids: Sequence[int], links: Sequence[tuple[int, int, bytes]]
) -> list[tuple[str, int, str]]:
    """``ledger_commands`` rows: each key with the chain position of its first event."""
    position_of = {notification_id: position for position, notification_id, _ in links}
    return [(k.command_id, position_of[ids[k.first_event]], k.record) for k in commands]


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


def recorded_commands(recorder: object, command_ids: Sequence[str]) -> dict[str, RecordedCommand]:
    """The keys among ``command_ids`` already in ``ledger_commands``, with what they recorded."""
    return _chained(recorder).select_commands(command_ids)


def chain_position(recorder: object) -> int:
    """The position of the chain's last link, read through the application's recorder: it
    grows by exactly the number of events each committed save appends."""
    return _chained(recorder).chain_position()


class Chained(Protocol):
    def chain_position(self) -> int: ...

    def select_commands(self, command_ids: Sequence[str]) -> dict[str, RecordedCommand]: ...


def _chained(recorder: object) -> Chained:
    if isinstance(recorder, ChainedSQLiteRecorder):
        return recorder
    postgres = sys.modules.get("ledger.storage.postgres_recorders")  # loaded if in use
    if postgres is not None and isinstance(recorder, postgres.ChainedPostgresRecorder):
        return recorder  # type: ignore[no-any-return]
    raise TypeError(f"not the ledger's chained recorder: {type(recorder).__name__}")


def chain_unchained(engine: Engine, events_table: str) -> int:
    """Link events recorded before the chain existed (a ledger from an older version),
    in notification order after the current head. Returns how many were linked."""
    with engine.begin() as conn:
        nid = id_column(conn)
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
            [(r[0], as_uuid(r[1]), r[2], r[3], bytes(r[4])) for r in rows],
        )
        conn.execute(
            text(
                f"INSERT INTO {CHAIN_TABLE} (position, notification_id, event_hash) "
                "VALUES (:p, :n, :h)"
            ),
            [{"p": p, "n": n, "h": h} for p, n, h in links],
        )
        return len(links)


USER_ROWS = "user_rows"
"""The ``app.save`` keyword that carries :class:`UserRowWrite` s."""


class LedgerSQLiteRecorder(ChainedSQLiteRecorder):
    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        writes: Sequence[UserRowWrite] = kwargs.get(USER_ROWS, ())
        for write in writes:
            write.apply(c, "sqlite")
        return ids


def __getattr__(name: str) -> Any:
    """The PostgreSQL recorders, by their former place (imported on first use)."""
    if name in ("ChainedPostgresRecorder", "LedgerPostgresRecorder"):
        from ledger.storage import postgres_recorders

        return getattr(postgres_recorders, name)
    raise AttributeError(name)
