"""Shared projection machinery: read models that follow the event log exactly once.

A projection pages the application recorder's ``select_notifications`` (filtered to the
topics it cares about), applies a batch to its SQLAlchemy tables, and moves its position
in the **same transaction**. The position moves with a compare-and-set
(``UPDATE ... WHERE name = :name AND position = :read``): it can never move backwards,
and a batch that another process already applied (a duplicate delivery) changes nothing,
because its transaction is rolled back and the batch re-read from the new position. The
position update runs first so that, on PostgreSQL, concurrent followers queue on the
position row instead of racing on view rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification, StoredEvent
from eventsourcing.utils import get_topic
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    select,
    text,
    update,
)

from ledger.domain.model import DomainEvent
from ledger.gc_tuning import fewer_collections
from ledger.storage.mapper import PydanticMapper
from ledger.storage.reads import EventRow, fetch_events, id_column
from ledger.storage.tables import metadata, projection_positions

DEFAULT_BATCH = 500
REBUILD_BATCH = 4000
"""Events per projection in one transaction of a rebuild: a replay has no reader waiting
on each commit, and larger pages mean fewer commits and fewer times a ticket's rows are
reloaded, refolded and rejudged (its events are spread over the log: the SLA projection's
rebuild costs a third less CPU than with :data:`DEFAULT_BATCH`, issue 18)."""

_FOLDS: ContextVar[dict[tuple[UUID, int, int], Any] | None] = ContextVar(
    "ledger_projection_folds", default=None
)


@contextmanager
def shared_folds() -> Iterator[None]:
    """Within it (one transaction of several projections), an aggregate folded over a
    batch's events by one projection is given to the others (see :func:`folds`)."""
    token = _FOLDS.set({})
    try:
        yield
    finally:
        _FOLDS.reset(token)


def folds() -> dict[tuple[UUID, int, int], Any] | None:
    """The states folded in this transaction, by aggregate id and the positions of its first
    and last event in the batch; ``None`` outside :func:`shared_folds`.

    Two projections that follow *every* event type of an aggregate and are given its
    events from the same first to the same last position have applied all its earlier
    events and get the same ones in between, so they fold the same state: the ticket
    summary, search and SLA read models share their folds (issue 18)."""
    return _FOLDS.get()


class UnknownProjection(LookupError):
    """A projection name that is not registered, or one without a position row."""


class Projection(ABC):
    """A read model. Subclasses name their tables and how a batch of events changes them."""

    name: str
    event_types: tuple[type[DomainEvent], ...]
    tables: tuple[Table, ...]

    @property
    def topics(self) -> list[str]:
        return [get_topic(cls) for cls in self.event_types]

    @abstractmethod
    def apply(self, conn: Connection, events: Sequence[tuple[int, DomainEvent]]) -> None:
        """Apply events (with their global positions) in order, inside ``conn``'s transaction."""


class ProjectionRunner:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper[Any],
        engine: Engine,
        projections: Sequence[Projection],
        *,
        events_table: str | None = None,
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.engine = engine
        self.projections = {p.name: p for p in projections}
        self._followed: dict[str, tuple[int, int]] = {}
        """After :meth:`follow`: each projection's position then, and the last position up
        to which it has nothing left of its topics (no need to look again next time)."""
        self.events_table = events_table
        """The recorder's events table, in ``engine``'s database: catching up reads it with
        the driver's cursor (see :meth:`_read_log`). ``None``: through the recorder."""

    def create_tables(self) -> None:
        metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            for table in metadata.sorted_tables:  # an index added since the table was made
                for index in table.indexes:
                    index.create(conn, checkfirst=True)
            known = set(conn.scalars(select(projection_positions.c.name)))
            for name in self.projections:
                if name not in known:
                    conn.execute(projection_positions.insert().values(name=name, position=0))

    def select(self, names: Sequence[str] | None = None) -> list[Projection]:
        if not names:
            return list(self.projections.values())
        unknown = [n for n in names if n not in self.projections]
        if unknown:
            raise UnknownProjection(
                f"unknown projection {', '.join(unknown)} (known: {', '.join(self.projections)})"
            )
        return [self.projections[n] for n in names]

    def position(self, name: str) -> int:
        with self.engine.connect() as conn:
            value = conn.scalar(
                select(projection_positions.c.position).where(projection_positions.c.name == name)
            )
        if value is None:
            raise UnknownProjection(f"projection {name} has no position: run `ledger init`")
        return int(value)

    def catch_up(
        self,
        names: Sequence[str] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH,
        on_batch: Callable[[str, int], None] | None = None,
    ) -> int:
        """Bring projections up to the head of the log; return how many events were applied.

        The projections follow the log together: it is read once, from the position of the
        one furthest behind, for all their topics, and each event is decoded once and given
        to every projection that follows its topic and has not applied it yet. Each
        projection still applies its events in its own transactions and moves its own
        position with the compare-and-set; one whose position another follower moved
        meanwhile leaves the group and catches up alone, re-reading from its new position.
        A shared batch reads ``batch_size`` events per projection (each gets about that
        many) and applies them all in one transaction: fewer commits, and fewer times a
        projection reloads and rewrites the same rows (a ticket's SLA verdicts are judged
        once per batch that touches it)."""
        chosen = self.select(names)
        with fewer_collections():
            return self._catch_up(chosen, batch_size, on_batch)

    def _catch_up(
        self,
        chosen: Sequence[Projection],
        batch_size: int,
        on_batch: Callable[[str, int], None] | None,
    ) -> int:
        applied, alone = self._catch_up_together(chosen, batch_size, on_batch)
        for projection in alone:
            while True:
                done = self._apply_next_batch(projection, batch_size)
                if done is None:
                    continue  # another follower moved the position first; re-read
                if done == 0:
                    break
                applied += done
                if on_batch:
                    on_batch(projection.name, done)
        return applied

    def _catch_up_together(
        self,
        chosen: Sequence[Projection],
        batch_size: int,
        on_batch: Callable[[str, int], None] | None,
    ) -> tuple[int, list[Projection]]:
        """The shared pass of :meth:`catch_up`: how many events it applied, and the
        projections it left to catch up alone (no topics, their position moved under us,
        or their ``apply`` failed: those last)."""
        # positions are locked in one order whoever asks (in any order): two runners
        # locking the same rows in opposite orders would deadlock on PostgreSQL
        together = sorted((p for p in chosen if p.topics), key=lambda p: p.name)
        alone = [p for p in chosen if not p.topics]
        failed: list[Projection] = []
        if not together:
            return 0, alone
        positions = {p.name: self.position(p.name) for p in together}
        following = {p.name: frozenset(p.topics) for p in together}
        topics = sorted(frozenset().union(*following.values()))
        cursor = min(positions.values())
        applied = 0
        while together:
            rows = self._read_log(cursor, batch_size * len(together), topics)
            if not rows:
                break
            decoded: dict[int, DomainEvent] = {}
            batches: dict[str, list[tuple[int, DomainEvent]]] = {}
            for projection in together:
                start, wanted = positions[projection.name], following[projection.name]
                events = batches[projection.name] = []
                for row in rows:
                    if row[0] > start and row[3] in wanted:
                        event = decoded.get(row[0])
                        if event is None:
                            event = decoded[row[0]] = self._decode_row(row)
                        events.append((row[0], event))
            try:
                with self.engine.begin() as conn, shared_folds():
                    busy = [p for p in together if batches[p.name]]
                    for projection in busy:  # every position first, as in _apply
                        end = batches[projection.name][-1][0]
                        if not self._moved(conn, projection, positions[projection.name], end):
                            raise _Moved(projection)
                    for projection in busy:
                        try:
                            projection.apply(conn, batches[projection.name])
                        except Exception as error:
                            raise _Failed(projection) from error
            except _Moved as e:
                together.remove(e.projection)  # the batch is rolled back: read it again
                alone.append(e.projection)
                continue
            except _Failed as e:
                # one projection's failure must not hold the others back: they go on
                # without it (the batch is rolled back and read again), and it tries
                # alone after them, where the failure reaches the caller
                together.remove(e.projection)
                failed.append(e.projection)
                continue
            for projection in together:
                events = batches[projection.name]
                if events:
                    positions[projection.name] = events[-1][0]
                    applied += len(events)
                    if on_batch:
                        on_batch(projection.name, len(events))
            cursor = rows[-1][0]
        return applied, alone + failed

    def follow(self, written: Sequence[tuple[int, DomainEvent]]) -> int:
        """Apply events just written (each at its position, in log order, as one save
        records them) to every projection that has applied everything of its topics before
        them, in one transaction, without reading the log back and decoding it again: a
        bulk writer keeps the read models up to date from its own batches (issue 18). A
        projection with events of its topics still unapplied before them is left to
        :meth:`catch_up`, and so is everything when the positions have a gap (not one
        save's events alone), a follower moved a position meanwhile, or an ``apply``
        failed (all rolled back). Returns how many events were applied."""
        if not written or self.events_table is None:
            return 0
        first, last = written[0][0], written[-1][0]
        if last - first != len(written) - 1:
            return 0
        kinds: dict[type[DomainEvent], str] = {}
        topics = [
            kinds.get(type(e)) or kinds.setdefault(type(e), get_topic(type(e))) for _, e in written
        ]
        applied = 0
        followed: dict[str, tuple[int, int]] = {}
        try:
            with self.engine.begin() as conn, shared_folds():
                for projection in sorted(self.projections.values(), key=lambda p: p.name):
                    wanted = frozenset(projection.topics)
                    start = conn.scalar(
                        select(projection_positions.c.position).where(
                            projection_positions.c.name == projection.name
                        )
                    )
                    if not wanted or start is None or start >= first:
                        continue
                    if (
                        start < first - 1
                        and self._followed.get(projection.name) != (start, first - 1)
                        and self._unapplied(conn, start, first, wanted)
                    ):
                        continue
                    events = [
                        pe for pe, topic in zip(written, topics, strict=True) if topic in wanted
                    ]
                    end = events[-1][0] if events else start  # where catch_up leaves it
                    if events and not self._moved(conn, projection, start, end):
                        raise _Moved(projection)
                    if events:
                        projection.apply(conn, events)
                        applied += len(events)
                    followed[projection.name] = (end, last)
        except Exception:  # rolled back: catch_up applies them, and reports a failure
            self._followed.clear()
            return 0
        self._followed = followed
        return applied

    def _unapplied(self, conn: Connection, after: int, before: int, topics: frozenset[str]) -> bool:
        """Whether the log holds an event of ``topics`` between the two positions."""
        nid = id_column(conn)
        marks = ", ".join(f":t{i}" for i in range(len(topics)))
        found = conn.execute(
            text(
                f"SELECT 1 FROM {self.events_table} WHERE {nid} > :after AND {nid} < :before "
                f"AND topic IN ({marks}) LIMIT 1"
            ),
            {"after": after, "before": before} | {f"t{i}": t for i, t in enumerate(sorted(topics))},
        ).first()
        return found is not None

    def _read_log(self, after: int, limit: int, topics: Sequence[str]) -> list[EventRow]:
        """Up to ``limit`` events after notification id ``after`` with one of ``topics``, in
        order, as the driver's rows: ``(id, originator_id, version, topic, state)``.

        The same rows as the recorder's ``select_notifications`` (the same query), without
        building a library ``Notification`` and parsing a ``UUID`` per row, which costs
        more than decoding the event (7× the plain read on SQLite)."""
        if self.events_table is None:
            return [
                (n.id, n.originator_id, n.originator_version, n.topic, n.state)
                for n in self.recorder.select_notifications(
                    start=after, limit=limit, topics=topics, inclusive_of_start=False
                )
            ]
        dbapi_connection = self.engine.raw_connection()
        try:
            return fetch_events(
                dbapi_connection, self.engine.dialect.name, self.events_table, after, limit, topics
            )
        finally:
            dbapi_connection.rollback()
            dbapi_connection.close()

    def _decode_row(self, row: EventRow) -> DomainEvent:
        _, originator_id, version, topic, state = row
        if isinstance(self.mapper, PydanticMapper):
            event = self.mapper.decode(topic, originator_id, version, state)
        else:
            event = self.mapper.to_domain_event(
                StoredEvent(_as_uuid(originator_id), version, topic, state)
            )
        assert isinstance(event, DomainEvent)
        return event

    def rebuild(
        self,
        names: Sequence[str] | None = None,
        *,
        batch_size: int = REBUILD_BATCH,
        on_batch: Callable[[str, int], None] | None = None,
    ) -> int:
        """Empty the read models and replay every event into them."""
        chosen = self.select(names)
        with self.engine.begin() as conn:
            for projection in chosen:
                for table in reversed(projection.tables):
                    conn.execute(table.delete())
                conn.execute(
                    update(projection_positions)
                    .where(projection_positions.c.name == projection.name)
                    .values(position=0)
                )
        return self.catch_up([p.name for p in chosen], batch_size=batch_size, on_batch=on_batch)

    def replay(
        self,
        projection: Projection,
        conn: Connection,
        *,
        recorded_until: datetime | None = None,
        batch_size: int = DEFAULT_BATCH,
    ) -> int:
        """Apply the whole log (only events recorded at or before ``recorded_until``) to
        ``conn``, e.g. a throwaway copy of the projection's tables; no position is kept."""
        applied, start = 0, 0
        while True:
            notifications = self._read(projection, start, batch_size)
            if not notifications:
                return applied
            start = notifications[-1].id
            events = [(n.id, self._decode(n)) for n in notifications]
            if recorded_until is not None:
                events = [(i, e) for i, e in events if e.timestamp <= recorded_until]
            if events:
                projection.apply(conn, events)
                applied += len(events)

    def _read(self, projection: Projection, start: int, limit: int) -> Sequence[Notification]:
        return self.recorder.select_notifications(
            start=start, limit=limit, topics=projection.topics, inclusive_of_start=False
        )

    def _apply_next_batch(self, projection: Projection, batch_size: int) -> int | None:
        start = self.position(projection.name)
        notifications = self._read(projection, start, batch_size)
        if not notifications:
            return 0
        if not self._apply(projection, start, [(n.id, self._decode(n)) for n in notifications]):
            return None
        return len(notifications)

    def _apply(
        self, projection: Projection, start: int, events: Sequence[tuple[int, DomainEvent]]
    ) -> bool:
        """Apply events after ``start`` and move the position from ``start`` to the last
        one's, in one transaction; false (nothing applied) if the position was not ``start``."""
        with self.engine.begin() as conn:
            if not self._moved(conn, projection, start, events[-1][0]):
                return False
            projection.apply(conn, events)
        return True

    @staticmethod
    def _moved(conn: Connection, projection: Projection, start: int, end: int) -> bool:
        """Compare-and-set the projection's position from ``start`` to ``end``. Run first
        in the transaction, so that on PostgreSQL concurrent followers queue on the
        position row instead of racing on view rows."""
        moved = conn.execute(
            update(projection_positions)
            .where(
                projection_positions.c.name == projection.name,
                projection_positions.c.position == start,
            )
            .values(position=end)
        )
        return moved.rowcount == 1

    def _decode(self, notification: Notification) -> DomainEvent:
        event = self.mapper.to_domain_event(notification)
        assert isinstance(event, DomainEvent)
        return event


def _as_uuid(value: Any) -> Any:
    return value if isinstance(value, UUID) else UUID(value)


class _Failed(Exception):
    """A projection's ``apply`` failed inside a shared batch."""

    def __init__(self, projection: Projection) -> None:
        super().__init__(projection.name)
        self.projection = projection


class _Moved(Exception):
    """Raised inside a shared batch's transaction to roll it back: another follower moved
    ``projection``'s position under us."""

    def __init__(self, projection: Projection) -> None:
        super().__init__(projection.name)
        self.projection = projection
