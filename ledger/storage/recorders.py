"""The ledger's application recorders: the chained ones (:mod:`ledger.storage.chain`),
plus the ``api_users`` rows passed to ``app.save(..., user_rows=[UserRowWrite, ...])``,
written in the transaction that inserts the events (:mod:`ledger.storage.api_users`).

On SQLite the rows are written after the events (the insert holds the writer's lock); on
PostgreSQL before them, in the library's pre-insert step of the same transaction, where
an error still rolls the whole transaction back (after the insert, the library commits
what a Python exception interrupted). Either way: all of it is stored, or none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteCursor

from ledger.storage.api_users import UserRowWrite
from ledger.storage.chain import ChainedPostgresRecorder, ChainedSQLiteRecorder

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


class LedgerPostgresRecorder(ChainedPostgresRecorder):
    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        writes: Sequence[UserRowWrite] = kwargs.get(USER_ROWS, ())
        for write in writes:
            write.apply(curs, "postgresql")
