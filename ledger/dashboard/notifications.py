"""The notifications page's view (``/dashboard/notifications``): how many messages are
pending, delivered and dead, the dead ones, the latest deliveries and the channels that
answered 410. Managers and admins only: targets and errors name people and endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from ledger.domain.audit import MANAGERS
from ledger.domain.values import Role
from ledger.notify import log

READERS = frozenset({*MANAGERS, Role.CHIEF_ENGINEER_OFFICE, Role.QUALITY, Role.ADMIN})
"""The managers (of the user roles: 总工办 and the quality department) and admins."""


@dataclass(frozen=True)
class Row:
    message_id: str
    ticket: str | None
    event_type: str
    channel: str
    target: str
    status: str
    attempts: int
    last_code: int | None
    last_error: str | None
    created_at: datetime
    next_try: datetime | None


@dataclass(frozen=True)
class NotificationsView:
    counts: dict[str, int]
    dead: list[Row]
    latest: list[Row]
    disabled: list[tuple[str, datetime, str]]


def _at(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _row(d: log.Delivery) -> Row:
    created = _at(d.created_at)
    assert created is not None
    return Row(
        d.message_id,
        d.ticket,
        d.event_type,
        d.channel,
        d.target,
        d.status,
        d.attempts,
        d.last_code,
        d.last_error,
        created,
        _at(d.next_try) if d.status == log.PENDING else None,
    )


def load_notifications(engine: Engine, limit: int = 50) -> NotificationsView:
    log.ensure_tables(engine)
    with engine.connect() as conn:
        disabled = [
            (channel, _at(at) or datetime.now(UTC), reason)
            for channel, at, reason in conn.execute(select(log.disabled_endpoints)).all()
        ]
    return NotificationsView(
        counts=log.counts(engine),
        dead=[_row(d) for d in log.list_deliveries(engine, status=log.DEAD, limit=limit)],
        latest=[_row(d) for d in log.list_deliveries(engine, limit=limit)],
        disabled=disabled,
    )
