"""A read-only event store over the standard library's ``sqlite3``: an aggregate's events,
decoded by the application's mapper, without SQLAlchemy or the library's application.
Personal fields are decrypted by the ledger's own :class:`~ledger.storage.field_cipher.FieldCipher`
from keys read out of the same file's ``privacy_keys`` table (docs/privacy.md): an erased
subject's read as erased, a missing key store or key raised as the ledger raises it.

For one-shot reads that must start fast (``ledger ticket show --json``, issue 18); writing,
and every other read, goes through :class:`~ledger.bootstrap.Ledger`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from ledger.domain.model import DomainEvent, Projector
from ledger.storage.field_cipher import FieldCipher, KeyStoreMissing, SubjectKeyLost
from ledger.storage.mapper import OrjsonTranscoder, PydanticMapper


class SQLiteEventReader:
    """The ``get`` and ``read`` of the ``Store`` port on a SQLite ledger
    file, read-only (``mode=ro``: a missing file is an error, never a new one)."""

    def __init__(self, path: Path, events_table: str) -> None:
        self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        self.events_table = events_table
        self.mapper = PydanticMapper(transcoder=OrjsonTranscoder())
        self.mapper.privacy = FieldCipher(SQLiteKeyReader(self.conn))

    def read(self, aggregate_id: UUID, *, limit: int | None = None) -> Sequence[DomainEvent]:
        rows = self.conn.execute(
            f"SELECT originator_version, topic, state FROM {self.events_table} "
            "WHERE originator_id = ? ORDER BY originator_version LIMIT ?",
            (aggregate_id.hex, -1 if limit is None else limit),
        )
        return [
            cast(DomainEvent, self.mapper.decode(topic, aggregate_id.hex, version, state))
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
            row = self.conn.execute("SELECT 1 FROM ledger_clock WHERE clock = 'fixed'").fetchone()
        except sqlite3.OperationalError:  # a ledger from before the declaration existed
            return False
        return row is not None

    def close(self) -> None:
        self.conn.close()


class SQLiteKeyReader:
    """:meth:`~ledger.storage.privacy.KeyStore.key` read-only, over the reader's connection:
    the keys of the subjects the events read name, one query each (a ticket names a few)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._keys: dict[str, bytes | None] = {}

    def key(self, subject: str) -> bytes | None:
        if subject not in self._keys:
            try:
                row = self.conn.execute(
                    "SELECT key FROM privacy_keys WHERE subject_id = ?", (subject,)
                ).fetchone()
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    raise KeyStoreMissing(KeyStoreMissing.READING) from e
                raise
            if row is None:
                raise SubjectKeyLost(subject)
            self._keys[subject] = bytes(row[0]) if row[0] is not None else None
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
