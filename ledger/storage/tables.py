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

relay_positions = Table(
    "relay_positions",
    metadata,
    Column("stream", String(255), primary_key=True),
    Column("stream_created", String(64), nullable=False),
    Column("stream_seq", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
)
"""How far ``ledger relay nats`` got into each JetStream stream: the stream sequence of the
last message it saw acknowledged and the chain position that message carries, written after
the broker's ack. Not the source of truth (the stream's last message is): only read when
retention has removed that message (docs/feed.md, "At scale")."""
