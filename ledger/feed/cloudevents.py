"""The event feed: every stored event as a CloudEvents 1.0 JSON object, in chain order.

Positions are the hash chain's (``ledger/storage/chain.py``): gap-free and assigned under
the writer's lock in commit order, so a reader that has seen position ``p`` has seen every
event up to ``p``, and one that asks for ``after=p`` later gets every later event exactly
once, in order. A feed event is built from the chain link and its stored event only (plus,
for its ``subject``, the first event of its aggregate, looked up once and cached): it never
loads an aggregate. The format is described in ``docs/feed.md``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, Protocol, cast
from uuid import UUID, uuid5
from weakref import WeakKeyDictionary

from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import TopicError, get_topic, resolve_topic
from sqlalchemy import Connection, Engine, bindparam, text

from ledger.domain.access import AccessEvent
from ledger.domain.complaint import ComplaintEvent, ComplaintReceived
from ledger.domain.contract import ContractEvent, ContractRegistered
from ledger.domain.corrective_action import ActionEvent, QualityIssueRaised
from ledger.domain.holidays import HolidayTableLoaded
from ledger.domain.model import DomainEvent, recorded_events
from ledger.domain.notification import NotificationRulesLoaded
from ledger.domain.numbering import NAMESPACE, NumberIssued, TicketNumberIssued
from ledger.domain.privacy import SubjectEvent
from ledger.domain.return_visit import VisitEvent, VisitScheduled
from ledger.domain.ticket import Reported, TicketEvent
from ledger.storage.chain import CHAIN_TABLE
from ledger.storage.location import Location
from ledger.storage.reads import ChainedEvent, read_link_rows

FEED_CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
DATA_CONTENT_TYPE = "application/json"
SPEC_VERSION = "1.0"
SEQUENCE_DIGITS = 20
"""``sequence`` is the chain position zero-padded to 20 digits (any 64-bit integer), so
sequences compare the same as strings and as numbers."""
INSTANCE_ENV = "LEDGER_INSTANCE"
MAX_LIMIT = 10_000
SCAN_BATCH = 1000
"""Links read per query while a type filter skips events."""

EVENT_ID_NAMESPACE = uuid5(NAMESPACE, "feed-event")
"""Events have no id of their own: a feed event's ``id`` is
``uuid5(EVENT_ID_NAMESPACE, "<originator_id>:<originator_version>")``, stable forever
because an aggregate's version is never reused."""

_INSTANCE_PATTERN = re.compile(r"\A[A-Za-z0-9._~-]{1,100}\Z")


class _Store(Protocol):
    @property
    def mapper(self) -> Mapper[UUID]: ...


class FeedSource(Protocol):
    """What the feed reads of an open ledger (:class:`ledger.bootstrap.Ledger` is one): the
    feed sits below the composition root, so it names the parts, not the class."""

    @property
    def engine(self) -> Engine: ...
    @property
    def location(self) -> Location: ...
    @property
    def app(self) -> _Store: ...


class FeedError(Exception):
    """Base of what the feed refuses."""


class BadFeedRequest(FeedError, ValueError):
    """A bad ``after``, ``limit``, type pattern or instance name (bad input)."""


class FeedIntegrityError(FeedError):
    """The chain links an event that is not stored: the log was tampered with."""


# --------------------------------------------------------------------------- event types

_AGGREGATES: dict[type[DomainEvent], tuple[str, str]] = {
    TicketEvent: ("ticket", "Ticket"),
    VisitEvent: ("visit", "Visit"),
    ActionEvent: ("corrective_action", "Action"),
    ComplaintEvent: ("complaint", "Complaint"),
    ContractEvent: ("contract", "Contract"),
    HolidayTableLoaded: ("holiday_calendar", "Holiday"),
    AccessEvent: ("user", "Access"),
    NotificationRulesLoaded: ("notification_rules", "NotificationRules"),
    TicketNumberIssued: ("number_sequence", ""),
    NumberIssued: ("number_sequence", ""),
    SubjectEvent: ("privacy_subject", "Subject"),
}
"""Per event base class: the aggregate's name in a type, and the class-name prefix that
repeats it (``VisitScheduled`` is ``ledger.visit.scheduled.v1``)."""


EVENT_CLASSES: tuple[type[DomainEvent], ...] = tuple(
    cls for base in _AGGREGATES for cls in recorded_events(base)
)
"""Every event class the ledger records (each registers itself), by aggregate."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _class_of(topic_or_event_class: str | type[DomainEvent]) -> type[DomainEvent]:
    if not isinstance(topic_or_event_class, str):
        return topic_or_event_class
    known = _CLASSES_BY_TOPIC.get(topic_or_event_class)
    if known is not None:
        return known
    try:
        return cast(type[DomainEvent], resolve_topic(topic_or_event_class))
    except TopicError as e:
        raise BadFeedRequest(f"unknown event topic {topic_or_event_class!r}") from e


def event_type(topic_or_event_class: str | type[DomainEvent]) -> str:
    """The CloudEvents ``type`` of an event class (or stored topic), e.g.
    ``ledger.ticket.resolved.v1``: aggregate, snake-cased event name, class version."""
    cls = _class_of(topic_or_event_class)
    base = next((b for b in cls.__mro__ if b in _AGGREGATES), None)
    if base is None:
        raise BadFeedRequest(f"{cls.__qualname__} is not a ledger event")
    aggregate, prefix = _AGGREGATES[base]
    name = cls.__name__
    if prefix and name.startswith(prefix) and name != prefix:
        name = name[len(prefix) :]
    return f"ledger.{aggregate}.{_snake(name)}.v{cls.class_version}"


_CLASSES_BY_TOPIC: dict[str, type[DomainEvent]] = {get_topic(c): c for c in EVENT_CLASSES}
EVENT_TYPES: dict[str, type[DomainEvent]] = {event_type(c): c for c in EVENT_CLASSES}
"""CloudEvents type → event class, for every event class."""
assert len(EVENT_TYPES) == len(EVENT_CLASSES), "two event classes share a CloudEvents type"
_TYPES_BY_TOPIC: dict[str, str] = {get_topic(c): t for t, c in EVENT_TYPES.items()}


def topics_for(patterns: Iterable[str]) -> frozenset[str]:
    """The stored topics whose type matches any of ``patterns`` (``fnmatch`` style, e.g.
    ``ledger.ticket.*``). A pattern that matches no type is refused, so a typo does not
    look like a quiet feed."""
    topics: set[str] = set()
    for pattern in patterns:
        matched = {get_topic(c) for t, c in EVENT_TYPES.items() if fnmatchcase(t, pattern)}
        if not matched:
            raise BadFeedRequest(
                f"type pattern {pattern!r} matches no event type "
                "(e.g. ledger.ticket.*, ledger.ticket.resolved.v1; "
                "`ledger schema export DIR` lists them all)"
            )
        topics |= matched
    return frozenset(topics)


# --------------------------------------------------------------------------- instance

_instances: WeakKeyDictionary[FeedSource, str] = WeakKeyDictionary()


def feed_instance(ledger: FeedSource) -> str:
    """The ``<instance>`` of ``source = /ledger/<instance>``.

    ``LEDGER_INSTANCE`` when set (letters, digits, ``._~-``). Otherwise the first 16 hex
    digits of the chain's first hash: stable for the life of the ledger, the same for its
    backups, copies and replicas (the same events are the same CloudEvents), different for
    another ledger. A ledger with no event yet is ``unstarted`` (it has nothing to emit).
    """
    configured = os.environ.get(INSTANCE_ENV, "").strip()
    if configured:
        if not _INSTANCE_PATTERN.match(configured):
            raise BadFeedRequest(
                f"{INSTANCE_ENV}={configured!r}: use 1 to 100 letters, digits, '.', '_', '~', '-'"
            )
        return configured
    cached = _instances.get(ledger)
    if cached is not None:
        return cached
    with ledger.engine.connect() as conn:
        genesis = conn.execute(
            text(f"SELECT event_hash FROM {CHAIN_TABLE} WHERE position = 1")
        ).scalar()
    if genesis is None:
        return "unstarted"
    instance = bytes(genesis).hex()[:16]
    _instances[ledger] = instance
    return instance


# --------------------------------------------------------------------------- subjects

_SUBJECT_FIELDS: dict[type[DomainEvent], str] = {
    Reported: "number",
    VisitScheduled: "number",
    QualityIssueRaised: "number",
    ComplaintReceived: "number",
    ContractRegistered: "contract_id",
}
"""The first event of each aggregate that has a name people use, and the field holding it."""
_NAMED_AGGREGATES = (TicketEvent, VisitEvent, ActionEvent, ComplaintEvent, ContractEvent)
_SUBJECT_CACHE_SIZE = 50_000


class _Subjects:
    """Aggregate id → its number (or contract id), least recently used dropped first."""

    def __init__(self) -> None:
        self._names: OrderedDict[UUID, str | None] = OrderedDict()

    def __contains__(self, originator_id: UUID) -> bool:
        return originator_id in self._names

    def get(self, originator_id: UUID) -> str | None:
        self._names.move_to_end(originator_id)
        return self._names[originator_id]

    def put(self, originator_id: UUID, name: str | None) -> None:
        self._names[originator_id] = name
        self._names.move_to_end(originator_id)
        while len(self._names) > _SUBJECT_CACHE_SIZE:
            self._names.popitem(last=False)


_subjects: WeakKeyDictionary[FeedSource, _Subjects] = WeakKeyDictionary()


def _named_by(event: DomainEvent) -> str | None:
    """The subject an event names itself: a first event's number or contract id, the
    number a number-issued event gives out, or the user an access event is about."""
    if isinstance(event, TicketNumberIssued | NumberIssued):
        return event.number
    if isinstance(event, AccessEvent):
        return event.name
    field = _SUBJECT_FIELDS.get(type(event))
    return None if field is None else str(getattr(event, field))


def _subjects_for(
    ledger: FeedSource, conn: Connection, events: Sequence[DomainEvent]
) -> list[str | None]:
    """Each event's subject. A later event of a named aggregate takes its first event's
    name: from the cache, else from one lookup of the first events the page lacks."""
    cache = _subjects.setdefault(ledger, _Subjects())
    for event in events:
        if type(event) in _SUBJECT_FIELDS:
            cache.put(event.originator_id, _named_by(event))
    unknown = {
        e.originator_id
        for e in events
        if isinstance(e, _NAMED_AGGREGATES) and e.originator_id not in cache
    }
    if unknown:
        first = _first_events(ledger, conn, unknown)
        for originator_id in unknown:
            cache.put(
                originator_id, _named_by(first[originator_id]) if originator_id in first else None
            )
    return [
        cache.get(e.originator_id) if isinstance(e, _NAMED_AGGREGATES) else _named_by(e)
        for e in events
    ]


def _first_events(ledger: FeedSource, conn: Connection, ids: set[UUID]) -> dict[UUID, DomainEvent]:
    """Version 1 of each aggregate in ``ids``: one primary-key lookup for the lot."""
    sqlite = ledger.location.kind == "sqlite"
    rows = conn.execute(
        text(
            f"SELECT originator_id, topic, state FROM {ledger.location.events_table} "
            "WHERE originator_version = 1 AND originator_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": [i.hex if sqlite else i for i in ids]},
    )
    found = {}
    for originator_id, topic, state in rows:
        oid = originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
        found[oid] = _decode(ledger, StoredEvent(oid, 1, topic, bytes(state)))
    return found


# --------------------------------------------------------------------------- the feed


@dataclass(frozen=True)
class FeedPage:
    """A page of the feed. ``last_position`` is the last chain position the read went
    through: the last event's sequence, or further when a type filter skipped events
    after it (resume from ``after=last_position`` to avoid scanning them again)."""

    events: list[dict[str, Any]]
    last_position: int


def read_feed(
    ledger: FeedSource, *, after: int = 0, limit: int = 100, types: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """CloudEvents (JSON-ready dicts) for the chain positions after ``after``, in order, at
    most ``limit``, only the types matching ``types`` (all when empty). Resume with
    ``after=int(events[-1]["sequence"])``."""
    return read_feed_page(ledger, after=after, limit=limit, types=types).events


def read_feed_page(
    ledger: FeedSource, *, after: int = 0, limit: int = 100, types: Sequence[str] = ()
) -> FeedPage:
    """:func:`read_feed`, plus how far the read went (see :class:`FeedPage`)."""
    check_paging(after, limit)
    wanted = topics_for(types) if types else None
    batch = limit if wanted is None else max(limit, SCAN_BATCH)
    chosen: list[ChainedEvent] = []
    last = after
    with ledger.engine.connect() as conn:
        while len(chosen) < limit:
            # Raw rows: a link skipped by the type filter costs no dataclass, no UUID.
            rows = read_link_rows(conn, ledger.location.events_table, after=last, limit=batch)
            for row in rows:
                position, notification_id, _, _, _, topic, state = row
                if state is None:
                    raise FeedIntegrityError(
                        f"position {position}: the chain links notification id "
                        f"{notification_id}, but no such event is stored; the log has "
                        "been tampered with: run `ledger verify`"
                    )
                last = position
                if wanted is None or topic in wanted:
                    chosen.append(ChainedEvent.from_row(row))
                    if len(chosen) == limit:
                        break
            if len(rows) < batch:
                break
        events = [_decode(ledger, _stored(link)) for link in chosen]
        subjects = _subjects_for(ledger, conn, events)
    source = f"/ledger/{feed_instance(ledger)}"
    return FeedPage(
        events=[
            cloud_event(link, event, subject, source)
            for link, event, subject in zip(chosen, events, subjects, strict=True)
        ],
        last_position=last,
    )


def check_paging(after: int, limit: int) -> None:
    """Refuse a negative ``after`` or a ``limit`` outside 1..MAX_LIMIT."""
    if after < 0:
        raise BadFeedRequest(f"after must be a chain position (0 or more), not {after}")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadFeedRequest(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")


def _stored(link: ChainedEvent) -> StoredEvent:
    assert link.originator_id is not None and link.originator_version is not None
    assert link.topic is not None and link.state is not None
    return StoredEvent(link.originator_id, link.originator_version, link.topic, link.state)


def _decode(ledger: FeedSource, stored: StoredEvent) -> DomainEvent:
    return cast(DomainEvent, ledger.app.mapper.to_domain_event(stored))


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_EVENT_ID_PREFIX = EVENT_ID_NAMESPACE.bytes


def event_id(originator_id: UUID | str, version: int) -> str:
    """The feed ``id`` of an aggregate's event at ``version`` (see EVENT_ID_NAMESPACE):
    ``str(uuid5(EVENT_ID_NAMESPACE, f"{originator_id}:{version}"))``, computed as RFC 4122
    does (SHA-1, version and variant bits) without building two ``UUID`` objects per event."""
    digest = bytearray(
        hashlib.sha1(
            _EVENT_ID_PREFIX + f"{originator_id}:{version}".encode(), usedforsecurity=False
        ).digest()[:16]
    )
    digest[6] = digest[6] & 0x0F | 0x50  # version 5
    digest[8] = digest[8] & 0x3F | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def sequence(position: int) -> str:
    """The ``sequence`` extension of a chain position."""
    return f"{position:0{SEQUENCE_DIGITS}d}"


def cloud_event(
    link: ChainedEvent, event: DomainEvent, subject: str | None, source: str
) -> dict[str, Any]:
    """One event in the CloudEvents 1.0 JSON format."""
    topic = link.topic or get_topic(type(event))
    originator_id = str(event.originator_id)
    ce: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": event_id(originator_id, event.originator_version),
        "source": source,
        "type": _TYPES_BY_TOPIC.get(topic) or event_type(type(event)),
    }
    if subject is not None:
        ce["subject"] = subject
    ce.update(
        {
            "time": _rfc3339(event.occurred_at),
            "datacontenttype": DATA_CONTENT_TYPE,
            "sequence": sequence(link.position),
            "recordedtime": _rfc3339(event.recorded_at),
            "eventhash": link.event_hash.hex(),
            "originatorid": originator_id,
            "originatorversion": event.originator_version,
            "actor": event.actor,
            "role": event.role.value,
            "data": event.data(),
        }
    )
    return ce


def position_of(cloud_event: dict[str, Any]) -> int:
    """The chain position of a feed event (its ``sequence``)."""
    return int(cloud_event["sequence"])
