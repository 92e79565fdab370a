"""A read-only event store over the standard library's ``sqlite3``: an aggregate's events,
decoded by the application's mapper, without SQLAlchemy or the library's application.

For one-shot reads that must start fast (``ledger ticket show --json``, issue 18); writing,
and every other read, goes through :class:`~ledger.bootstrap.Ledger`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from ledger.domain.model import DomainEvent, Projector
from ledger.storage.mapper import OrjsonTranscoder, PydanticMapper


class SQLiteEventReader:
    """The ``get`` and ``read`` of the ``Store`` port on a SQLite ledger
    file, read-only (``mode=ro``: a missing file is an error, never a new one)."""

    def __init__(self, path: Path, events_table: str) -> None:
        self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        self.events_table = events_table
        self.mapper = PydanticMapper(transcoder=OrjsonTranscoder())

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
