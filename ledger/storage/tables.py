"""The ``MetaData`` of every SQLAlchemy table the ledger owns beside the event store (the
read models, the projections' positions, ``api_users``, ``ledger_clock``): ``ledger init``
creates them all from it. Storage owns it so that its own tables need nothing from the
projections above it; projections and reports add their tables to it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table


class LedgerNotInitialised(RuntimeError):
    """The database lacks the ledger's tables (or some added since): run ``ledger init``."""


metadata = MetaData()

projection_positions = Table(
    "projection_positions",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
)
"""How far each projection has applied the log (a notification id); ``ledger verify``
checks that none is beyond the log's head."""
