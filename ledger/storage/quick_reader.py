"""A read-only event store over the database's own driver (the standard library's ``sqlite3``,
or ``psycopg`` for PostgreSQL): an aggregate's events, decoded by the application's mapper,
without SQLAlchemy or the library's application. Personal fields are decrypted by the ledger's
own :class:`~ledger.storage.field_cipher.FieldCipher` from keys read out of the same database's
``privacy_keys`` table (docs/privacy.md): an erased subject's read as erased, a missing key
store or key raised as the ledger raises it.

For one-shot reads that must start fast (``ledger ticket show --json``, issue 18); writing,
and every other read, goes through :class:`~ledger.bootstrap.Ledger`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, cast
from uuid import UUID

from ledger.domain.model import DomainEvent, Projector
from ledger.storage.field_cipher import FieldCipher, KeyStoreMissing, SubjectKeyLost
from ledger.storage.location import Location
from ledger.storage.mapper import OrjsonTranscoder, PydanticMapper


class QuickReader:
    """The ``get`` and ``read`` of the ``Store`` port, read-only, on one connection of the
    driver: SQLite opened ``mode=ro`` (a missing file is an error, never a new one),
    PostgreSQL in a read-only session."""

    def __init__(self, location: Location) -> None:
        self.events_table = location.events_table
        self.postgres = location.kind == "postgresql"
        self.conn: Any = _connect_postgres(location) if self.postgres else _connect_sqlite(location)
        self.mapper = PydanticMapper(transcoder=OrjsonTranscoder())
        self.mapper.privacy = FieldCipher(QuickKeyReader(self))

    def rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """``query`` written with ``?`` placeholders, on either driver."""
        if self.postgres:
            query = query.replace("?", "%s")
        return list(self.conn.execute(query, params).fetchall())

    def missing_table(self, error: Exception) -> bool:
        if self.postgres:
            from psycopg import errors

            return isinstance(error, errors.UndefinedTable)
        return isinstance(error, sqlite3.OperationalError) and "no such table" in str(error)

    def read(self, aggregate_id: UUID, *, limit: int | None = None) -> Sequence[DomainEvent]:
        # SQLite stores the id as 32 lower-case hex (verify's ids check); PostgreSQL as a uuid
        rows = self.rows(
            f"SELECT originator_version, topic, state FROM {self.events_table} "
            "WHERE originator_id = ? ORDER BY originator_version"
            + ("" if limit is None else f" LIMIT {int(limit)}"),
            aggregate_id if self.postgres else aggregate_id.hex,
        )
        return [
            cast(DomainEvent, self.mapper.decode(topic, aggregate_id.hex, version, bytes(state)))
            for version, topic, state in rows
        ]

    def get(self, aggregate_id: UUID, projector: Projector, *, version: int | None = None) -> Any:
        """The aggregate's state (at ``version``); ``None`` when no event makes it (the
        library's store raises ``AggregateNotFoundError`` instead)."""
        return projector(None, self.read(aggregate_id, limit=version))

    def records_fixed_clock(self) -> bool:
        """Whether the ledger was declared a fixed-clock ledger (the row
        :func:`ledger.storage.clock_mode.fixed_clock_since` reads)."""
        try:
            return bool(self.rows("SELECT 1 FROM ledger_clock WHERE clock = 'fixed'"))
        except Exception as e:
            if self.missing_table(e):  # a ledger from before the declaration existed
                return False
            raise

    def close(self) -> None:
        self.conn.close()


def _connect_sqlite(location: Location) -> sqlite3.Connection:
    assert location.path is not None
    return sqlite3.connect(f"{location.path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)


def _connect_postgres(location: Location) -> Any:
    import psycopg  # only for a PostgreSQL ledger
    from psycopg.conninfo import make_conninfo

    given = {
        "host": location.host,
        "port": location.port,
        "user": location.user,
        "password": location.password,
        "dbname": location.dbname,
    }
    conninfo = make_conninfo(connect_timeout=5, **{k: v for k, v in given.items() if v})
    # autocommit: each read its own statement, no transaction left open on the server
    conn = psycopg.connect(conninfo, autocommit=True)
    conn.read_only = True
    return conn


class QuickKeyReader:
    """:meth:`~ledger.storage.privacy.KeyStore.key` read-only, over the reader's connection:
    the keys of the subjects the events read name, one query each (a ticket names a few)."""

    def __init__(self, reader: QuickReader) -> None:
        self.reader = reader
        self._keys: dict[str, bytes | None] = {}

    def key(self, subject: str) -> bytes | None:
        if subject not in self._keys:
            try:
                rows = self.reader.rows(
                    "SELECT key FROM privacy_keys WHERE subject_id = ?", subject
                )
            except Exception as e:
                if self.reader.missing_table(e):
                    raise KeyStoreMissing(KeyStoreMissing.READING) from e
                raise
            if not rows:
                raise SubjectKeyLost(subject)
            self._keys[subject] = bytes(rows[0][0]) if rows[0][0] is not None else None
        return self._keys[subject]

    def subject_id(self, identity: str) -> str:
        raise self._read_only()

    def require_for_writing(self) -> bool:
        raise self._read_only()

    def ensure_keys(self, subjects: Iterable[str]) -> None:
        raise self._read_only()

    @staticmethod
    def _read_only() -> NotImplementedError:
        return NotImplementedError("the quick reader never writes: writing opens the ledger")
