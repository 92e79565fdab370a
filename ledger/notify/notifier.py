"""The notifier: follows the log like a projection and delivers what the rules owe.

**Deciding** (exactly once per event): read the events after the notifier's position, ask
the rules in force when each was recorded which messages it owes
(:func:`ledger.notify.routing.route`), and in one transaction move the position
(compare-and-set, first) and insert the messages into the delivery log. Two notifiers:
one moves the position, the other's transaction is rolled back and it reads on from the
new position; the message id is the primary key besides, so no message is decided twice
on either database.

**Delivering** (at least once): claim a due message by moving its next try a lease ahead
(another compare-and-set), send it, record the outcome. A notifier killed mid-delivery
leaves the message claimed; after the lease it is sent again, with the same id. Failures
wait the retry schedule (Standard Webhooks: immediately, 5 s, 5 min, 30 min, 2 h, 5 h,
10 h, 10 h); after the last try the message is dead. 410 Gone disables the channel.

**Waking**: on PostgreSQL a trigger on the events table NOTIFYs ``ledger_events`` after
each insert and the notifier LISTENs; on SQLite it polls.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic
from sqlalchemy import Engine, insert, select, text, update

from ledger.commands.notify_rules import NotificationRules
from ledger.commands.store import Store
from ledger.domain.model import DomainEvent
from ledger.domain.notification import ROUTING_ID, NotificationRulesLoaded, RuleSet
from ledger.domain.ticket import Ticket, TicketEvent, project_ticket
from ledger.feed.cloudevents import EVENT_CLASSES, SPEC_VERSION, event_id, event_type
from ledger.notify import log
from ledger.notify.channels import Outcome, send
from ledger.notify.routing import route
from ledger.storage.mapper import PydanticMapper
from ledger.storage.reads import fetch_events
from ledger.timeutil import as_utc

LOGGER = logging.getLogger("ledger.notify")

RETRY_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
"""Standard Webhooks: the delay before each try (the first: immediately)."""
LEASE = 60.0
"""Seconds a claimed message is left to its claimant before another may send it again."""
_TOPICS = tuple(get_topic(c) for c in EVENT_CLASSES)
CHANNEL = "ledger_events"
"""The PostgreSQL NOTIFY channel the events table's trigger signals."""


def parse_schedule(text_value: str) -> tuple[float, ...]:
    """``"0,5,300"`` → seconds; ``ValueError`` naming the bad entry."""
    values = []
    for part in text_value.split(","):
        try:
            value = float(part)
        except ValueError:
            raise ValueError(
                f"retry schedule: {part.strip()!r} is not a number of seconds"
            ) from None
        if value < 0:
            raise ValueError(f"retry schedule: {part.strip()} is negative")
        values.append(value)
    return tuple(values)


@dataclass
class Notifier:
    engine: Engine
    store: Store
    mapper: PydanticMapper
    events_table: str
    tz: tzinfo
    schedule: Sequence[float] = RETRY_SCHEDULE
    lease: float = LEASE
    poll: float = 0.5
    """SQLite: seconds between looks at the log."""
    idle: float = 30.0
    """PostgreSQL: the longest wait for a NOTIFY before looking anyway (a lost connection)."""
    now: Callable[[], float] = time.time
    batch: int = 200

    def __post_init__(self) -> None:
        log.ensure_tables(self.engine)
        if self.engine.dialect.name == "postgresql":
            install_notify_trigger(self.engine, self.events_table)
        self._rules = NotificationRules(self.store, _NoClock())

    # ------------------------------------------------------------------ deciding

    def decide(self) -> int:
        """Decide every event after the position; return how many events were decided."""
        decided = 0
        while True:
            with self.engine.connect() as conn:
                start = log.position(conn)
            rows = self._read(start)
            if not rows:
                return decided
            loads = self._rule_loads()
            end = rows[-1][0]
            messages = [m for row in rows for m in self._messages(row, loads)]
            with self.engine.begin() as conn:
                if not log.move_position(conn, start, end):
                    continue  # another notifier decided this batch: read on from its position
                if messages:
                    conn.execute(insert(log.deliveries), messages)
            decided += len(rows)

    def _read(self, after: int) -> list[Any]:
        raw = self.engine.raw_connection()
        try:
            return fetch_events(
                raw, self.engine.dialect.name, self.events_table, after, self.batch, _TOPICS
            )
        finally:
            raw.rollback()
            raw.close()

    def _rule_loads(self) -> list[tuple[datetime, RuleSet]]:
        """Every rule set loaded so far, with when it was recorded, oldest first."""
        return [
            (e.recorded_at, e.rules)
            for e in self.store.read(ROUTING_ID)
            if isinstance(e, NotificationRulesLoaded)
        ]

    def _messages(
        self, row: Any, loads: Sequence[tuple[datetime, RuleSet]]
    ) -> list[dict[str, Any]]:
        """The messages one event owes under the rules in force when it was recorded
        (not those of today: starting a notifier on an old ledger, or changing the rules,
        never re-routes the past)."""
        if not loads:
            return []
        notification_id, originator_id, version, topic, state = row
        event = self.mapper.decode(topic, originator_id, version, state)
        assert isinstance(event, DomainEvent)
        rules = next((r for at, r in reversed(loads) if at <= event.recorded_at), None)
        if rules is None or not rules.rules:
            return []
        try:
            kind = event_type(type(event))
        except Exception:
            return []
        ticket = self._ticket(event)
        eid = event_id(str(event.originator_id), event.originator_version)
        created = self.now()
        return [
            {
                "message_id": m.message_id,
                "event_id": eid,
                "position": notification_id,
                "event_type": kind,
                "ticket": ticket.number if ticket else None,
                "channel": m.channel,
                "kind": m.kind.value,
                "target": m.target,
                "payload": m.payload(_cloud_event(event, kind, eid, ticket)),
                "status": log.PENDING,
                "attempts": 0,
                "created_at": created,
                "next_try": created + (self.schedule[0] if self.schedule else 0),
            }
            for m in route(rules, event, kind, eid, ticket, self.tz)
        ]

    def _ticket(self, event: DomainEvent) -> Ticket | None:
        if not isinstance(event, TicketEvent):
            return None
        try:
            ticket: Ticket = self.store.get(
                event.originator_id, project_ticket, version=event.originator_version
            )
        except AggregateNotFoundError:
            return None
        return ticket

    # ------------------------------------------------------------------ delivering

    def deliver(self) -> int:
        """Send every message that is due now; return how many were tried."""
        tried = 0
        while True:
            due = self._due()
            if not due:
                return tried
            rules = self._rules.current() or RuleSet()
            for delivery in due:
                if self._claim(delivery):
                    self._send(delivery, rules)
                    tried += 1

    def _due(self) -> list[log.Delivery]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(log.deliveries)
                .where(
                    log.deliveries.c.status == log.PENDING, log.deliveries.c.next_try <= self.now()
                )
                .order_by(log.deliveries.c.next_try, log.deliveries.c.message_id)
                .limit(50)
            ).all()
        return [log.Delivery.from_row(r) for r in rows]

    def _claim(self, delivery: log.Delivery) -> bool:
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(log.deliveries)
                .where(
                    log.deliveries.c.message_id == delivery.message_id,
                    log.deliveries.c.status == log.PENDING,
                    log.deliveries.c.next_try == delivery.next_try,
                )
                .values(next_try=self.now() + self.lease, attempts=delivery.attempts + 1)
            )
        return claimed.rowcount == 1

    def _send(self, delivery: log.Delivery, rules: RuleSet) -> None:
        attempt = delivery.attempts + 1
        if self._disabled(delivery.channel):
            outcome = Outcome(410, "endpoint disabled: it answered 410 Gone")
        else:
            outcome = send(
                rules,
                delivery.channel,
                delivery.target,
                delivery.message_id,
                json.loads(delivery.payload),
            )
        now = self.now()
        values: dict[str, Any] = {"last_code": outcome.code, "last_error": outcome.error}
        if outcome.delivered:
            values |= {"status": log.DELIVERED, "delivered_at": now}
        elif outcome.gone:
            values |= {"status": log.DEAD}
            self._disable(delivery.channel, outcome.error or "410 Gone", now)
        elif attempt >= len(self.schedule):
            values |= {"status": log.DEAD}
        else:
            values |= {"next_try": now + self.schedule[attempt]}
        with self.engine.begin() as conn:
            conn.execute(
                update(log.deliveries)
                .where(log.deliveries.c.message_id == delivery.message_id)
                .values(**values)
            )
        LOGGER.info(
            "%s %s → %s: %s",
            delivery.message_id,
            delivery.channel,
            delivery.target,
            values.get("status", f"retry after {outcome.error or outcome.code}"),
        )

    def _disabled(self, channel: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.scalar(
                    select(log.disabled_endpoints.c.channel).where(
                        log.disabled_endpoints.c.channel == channel
                    )
                )
                is not None
            )

    def _disable(self, channel: str, reason: str, now: float) -> None:
        if self._disabled(channel):
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(log.disabled_endpoints).values(
                        channel=channel, disabled_at=now, reason=reason
                    )
                )
        except Exception:
            pass

    # ------------------------------------------------------------------ running

    def run_once(self) -> tuple[int, int]:
        """Decide what is new, then send what is due: ``(events decided, messages tried)``."""
        return self.decide(), self.deliver()

    def next_due(self) -> float | None:
        with self.engine.connect() as conn:
            value = conn.scalar(
                select(log.deliveries.c.next_try)
                .where(log.deliveries.c.status == log.PENDING)
                .order_by(log.deliveries.c.next_try)
                .limit(1)
            )
        return None if value is None else float(value)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: decide, deliver, wait (LISTEN on PostgreSQL, else a poll)."""
        waiter = _Listener(self.engine) if self.engine.dialect.name == "postgresql" else None
        try:
            while not stop.is_set():
                try:
                    self.run_once()
                except Exception:  # a database hiccup must not end the notifier
                    LOGGER.exception("notifier pass failed; trying again")
                    stop.wait(self.poll)
                    continue
                wait = self.poll if waiter is None else self.idle
                due = self.next_due()
                if due is not None:
                    wait = max(0.0, min(wait, due - self.now()))
                if waiter is not None:
                    waiter.wait(wait, stop)
                else:
                    stop.wait(wait)
        finally:
            if waiter is not None:
                waiter.close()


class _NoClock:
    """The rules are only read here: no stamp is ever made."""

    def now(self) -> Any:  # pragma: no cover
        raise RuntimeError("the notifier records nothing")


def _cloud_event(event: DomainEvent, kind: str, eid: str, ticket: Ticket | None) -> dict[str, Any]:
    """The event in the CloudEvents 1.0 JSON format (as ``ledger feed`` prints it, without
    the chain's extensions)."""
    ce: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": eid,
        "source": "/ledger/notify",
        "type": kind,
    }
    if ticket is not None:
        ce["subject"] = ticket.number
    return ce | {
        "time": as_utc(event.occurred_at).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "recordedtime": as_utc(event.recorded_at).isoformat().replace("+00:00", "Z"),
        "originatorid": str(event.originator_id),
        "originatorversion": event.originator_version,
        "actor": event.actor,
        "role": event.role.value,
        "data": event.data(),
    }


def install_notify_trigger(engine: Engine, events_table: str) -> None:
    """PostgreSQL: NOTIFY ``ledger_events`` after every statement that inserts events (safe
    to repeat; an advisory lock keeps two notifiers from replacing it at once)."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(4711170)"))
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION ledger_notify_events() RETURNS trigger "
                f"LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('{CHANNEL}', ''); "
                "RETURN NULL; END $$"
            )
        )
        conn.execute(
            text(
                f"CREATE OR REPLACE TRIGGER ledger_notify_events AFTER INSERT ON {events_table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_notify_events()"
            )
        )


class _Listener:
    """A connection of its own that LISTENs for the trigger's NOTIFY."""

    def __init__(self, engine: Engine) -> None:
        import psycopg

        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Until a NOTIFY, ``seconds`` or ``stop`` (looked at twice a second: waiting on
        the socket reads nothing from the database)."""
        deadline = time.monotonic() + max(seconds, 0.0)
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for _ in self.conn.notifies(timeout=min(left, 0.5), stop_after=1):
                return

    def close(self) -> None:
        self.conn.close()
