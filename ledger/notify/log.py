"""The delivery log (``notify_deliveries``): one row per message the notifier decided,
written in the transaction that moves the notifier's position (``projection_positions``
row ``notifier``), so each event is decided exactly once; the row's primary key is the
stable message id, so a message can never be decided twice. Delivery updates the row
(attempts, status, last response, next try) and never deletes it.

Times here are delivery bookkeeping, not facts of the ledger: seconds since the epoch
from the real clock (retries wait real time, whatever clock records events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ledger.storage.tables import metadata, projection_positions

POSITION_NAME = "notifier"
"""The notifier's row in ``projection_positions`` (a notification id, like a projection's)."""

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"

deliveries = Table(
    "notify_deliveries",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("event_id", String(36), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("ticket", String(40)),
    Column("channel", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("target", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_code", Integer),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("next_try", Float, nullable=False),
    Column("delivered_at", Float),
)

disabled_endpoints = Table(
    "notify_disabled",
    metadata,
    Column("channel", String(100), primary_key=True),
    Column("disabled_at", Float, nullable=False),
    Column("reason", Text, nullable=False),
)
"""Channels whose endpoint answered 410 Gone (Standard Webhooks: stop sending)."""


def ensure_tables(engine: Engine) -> None:
    """The notifier's tables and position row (safe to repeat, and with others at once)."""
    deliveries.create(engine, checkfirst=True)
    disabled_endpoints.create(engine, checkfirst=True)
    try:
        with engine.begin() as conn:
            known = conn.scalar(
                select(projection_positions.c.position).where(
                    projection_positions.c.name == POSITION_NAME
                )
            )
            if known is None:
                conn.execute(insert(projection_positions).values(name=POSITION_NAME, position=0))
    except IntegrityError:
        pass  # another notifier inserted it first


def position(conn: Connection) -> int:
    value = conn.scalar(
        select(projection_positions.c.position).where(projection_positions.c.name == POSITION_NAME)
    )
    return int(value or 0)


def move_position(conn: Connection, start: int, end: int) -> bool:
    """Compare-and-set, first in the transaction (as the projections do): false when
    another notifier moved it first, and then nothing of this batch may be written."""
    moved = conn.execute(
        update(projection_positions)
        .where(
            projection_positions.c.name == POSITION_NAME, projection_positions.c.position == start
        )
        .values(position=end)
    )
    return moved.rowcount == 1


@dataclass(frozen=True)
class Delivery:
    message_id: str
    event_id: str
    position: int
    event_type: str
    ticket: str | None
    channel: str
    kind: str
    target: str
    payload: str
    status: str
    attempts: int
    last_code: int | None
    last_error: str | None
    created_at: float
    next_try: float
    delivered_at: float | None

    @classmethod
    def from_row(cls, row: Any) -> Delivery:
        return cls(**dict(row._mapping))

    def view(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "payload"}


def list_deliveries(
    engine: Engine, *, status: str | None = None, limit: int = 200
) -> list[Delivery]:
    """The newest deliveries first (only ``status`` when given)."""
    query = select(deliveries).order_by(deliveries.c.created_at.desc(), deliveries.c.message_id)
    if status is not None:
        query = query.where(deliveries.c.status == status)
    with engine.connect() as conn:
        return [Delivery.from_row(r) for r in conn.execute(query.limit(limit))]


def get_delivery(engine: Engine, message_id: str) -> Delivery | None:
    with engine.connect() as conn:
        row = conn.execute(select(deliveries).where(deliveries.c.message_id == message_id)).first()
    return None if row is None else Delivery.from_row(row)


def replay(engine: Engine, message_ids: Sequence[str], now: float) -> int:
    """Send these messages again from the first try (same ids: receivers deduplicate); the
    channels they go to are enabled again. Returns how many were queued."""
    if not message_ids:
        return 0
    with engine.begin() as conn:
        channels = set(
            conn.scalars(
                select(deliveries.c.channel).where(deliveries.c.message_id.in_(message_ids))
            )
        )
        if channels:
            conn.execute(
                disabled_endpoints.delete().where(disabled_endpoints.c.channel.in_(channels))
            )
        done = conn.execute(
            update(deliveries)
            .where(deliveries.c.message_id.in_(message_ids))
            .values(status=PENDING, attempts=0, next_try=now, last_error=None)
        )
    return int(done.rowcount)


def dead_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.scalars(select(deliveries.c.message_id).where(deliveries.c.status == DEAD))
        )


def counts(engine: Engine) -> dict[str, int]:
    """How many deliveries are in each status."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        ).all()
    return {PENDING: 0, DELIVERED: 0, DEAD: 0} | {status: int(n) for status, n in rows}
