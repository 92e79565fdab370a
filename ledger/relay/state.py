"""The relay's footing in the ledger's database: one relay per stream at a time (a lock), and
the position it saw acknowledged (``relay_positions``, a hint; the stream is the truth).

The lock: PostgreSQL's session advisory lock; for SQLite an exclusive ``flock`` on
``<database file>.relay-<stream>.lock`` beside it. Both go with the process, however it ends
(the kernel closes the socket or the file), so a relay killed with SIGKILL never leaves a
lock behind for the next one to wait on.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from ledger.relay.messages import Mark
from ledger.storage.location import Location
from ledger.storage.tables import relay_positions


def lock_key(stream: str) -> int:
    """A signed 64-bit advisory-lock key for relays into ``stream``."""
    digest = hashlib.sha256(f"ledger relay {stream}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class RelayLock:
    """``acquire()`` takes the lock if free and says whether it did; ``release()`` gives it
    back (also done by the operating system when the process dies)."""

    def __init__(self, engine: Engine, location: Location, stream: str) -> None:
        self.engine = engine
        self.location = location
        self.stream = stream
        self._conn: Connection | None = None
        self._fd: int | None = None

    def describe(self) -> str:
        if self.location.kind == "sqlite":
            return f"the lock file {self._path()}"
        return f"PostgreSQL advisory lock {lock_key(self.stream)}"

    def _path(self) -> str:
        assert self.location.path is not None
        return f"{self.location.path}.relay-{self.stream}.lock"

    def acquire(self) -> bool:
        if self.location.kind == "sqlite":
            if self.location.path is None:  # an in-memory database: one process only
                return True
            fd = os.open(self._path(), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._fd = fd
            return True
        conn = self.engine.connect()
        got = bool(
            conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(self.stream)}
            ).scalar()
        )
        conn.commit()  # a session lock outlives the transaction; leave none open
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
        if self._conn is not None:
            try:
                self._conn.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(self.stream)}
                )
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None


def load_mark(engine: Engine, stream: str, created: str) -> Mark | None:
    """The position saved for ``stream``, if saved for this incarnation of it (``created``,
    the stream's creation time: a stream deleted and made again starts over)."""
    relay_positions.create(engine, checkfirst=True)  # a ledger initialised before the relay
    with engine.connect() as conn:
        row = conn.execute(
            select(relay_positions).where(relay_positions.c.stream == stream)
        ).first()
    if row is None or row.stream_created != created:
        return None
    return Mark(int(row.stream_seq), int(row.position))


def save_mark(engine: Engine, stream: str, created: str, mark: Mark) -> None:
    values: dict[str, Any] = {
        "stream_created": created,
        "stream_seq": mark.stream_seq,
        "position": mark.position,
    }
    with engine.begin() as conn:
        updated = conn.execute(
            relay_positions.update().where(relay_positions.c.stream == stream).values(values)
        )
        if updated.rowcount == 0:
            conn.execute(relay_positions.insert().values(stream=stream, **values))
