"""The API users' table (``ledger serve``; docs/api.md): on the read models' metadata, so
``ledger init`` creates it with them. Its rules live in :mod:`ledger.api.auth`."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, LargeBinary, String, Table

from ledger.projections.base import metadata

KEY_HEX = 16
NAME_MAX = 100

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
