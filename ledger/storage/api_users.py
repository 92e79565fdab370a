"""The API users' table (``ledger serve``; docs/api.md): on the read models' metadata, so
``ledger init`` creates it with them. Its rules live in :mod:`ledger.commands.users`.

The table is the read side of the access events (:mod:`ledger.domain.access`) plus the
credential they never carry (the token's key, salt and digest). It is written only by
:class:`UserRowWrite`, which the ledger's recorders run inside the transaction that
inserts the access event (:mod:`ledger.storage.recorders`): both are stored, or neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Column, DateTime, LargeBinary, String, Table

from ledger.domain.access import NAME_MAX
from ledger.storage.tables import metadata
from ledger.timeutil import as_utc

KEY_HEX = 16

api_users = Table(
    "api_users",
    metadata,
    Column("name", String(NAME_MAX), primary_key=True),
    Column("role", String(40), nullable=False),
    Column("token_key", String(KEY_HEX), nullable=False, unique=True),
    Column("token_salt", LargeBinary(16), nullable=False),
    Column("token_digest", LargeBinary(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("token_issued_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy's ``DateTime`` stores a time in SQLite (we store UTC)."""


class UserRowMissing(RuntimeError):
    """An update of a user found no active row: the write (and its event) is rolled back."""


@dataclass(frozen=True)
class UserRowWrite:
    """One write of ``api_users`` through the recorder's own DB-API cursor: an ``insert``
    of the user ``name`` with ``values``, or an ``update`` of its active row. Pass it to
    ``app.save(*events, user_rows=[...])``."""

    kind: Literal["insert", "update"]
    name: str
    values: dict[str, Any]

    def apply(self, cursor: Any, dialect: str) -> None:
        """Run the write on ``cursor`` (``dialect``: ``sqlite`` or ``postgresql``); an
        update that changes no row raises :class:`UserRowMissing`."""
        p = "?" if dialect == "sqlite" else "%s"
        columns = list(self.values)
        params = [_driver_value(self.values[c], dialect) for c in columns]
        if self.kind == "insert":
            names = ", ".join(["name", *columns])
            marks = ", ".join([p] * (1 + len(columns)))
            sql = f"INSERT INTO {api_users.name} ({names}) VALUES ({marks})"
            params.insert(0, self.name)
        else:
            assignments = ", ".join(f"{c} = {p}" for c in columns)
            sql = (
                f"UPDATE {api_users.name} SET {assignments} WHERE name = {p} AND revoked_at IS NULL"
            )
            params.append(self.name)
        # RETURNING, fetched: on PostgreSQL's pipelined connection the statement's error
        # (or its empty result) is known here, before the events are inserted.
        cursor.execute(sql + " RETURNING name", params)
        if not cursor.fetchall():
            raise UserRowMissing(f"user {self.name} is revoked or missing")


def _driver_value(value: Any, dialect: str) -> Any:
    """A column value as the driver takes it: times in UTC (as SQLAlchemy's ``DateTime``
    stores them in SQLite: naive text)."""
    if isinstance(value, datetime):
        utc = as_utc(value)
        return utc.replace(tzinfo=None).strftime(_SQLITE_TIME) if dialect == "sqlite" else utc
    return value
