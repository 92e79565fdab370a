"""The hash chain: our recorders pass the library's own recorder test cases on SQLite and
PostgreSQL, and every event gets its gap-free, commit-ordered link."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from ledger.bootstrap import Ledger
from ledger.commands.application import ConcurrentChange
from ledger.storage.chain import CHAIN_TABLE, RecordedTimeBackwards
from ledger.storage.hashing import GENESIS, LinkHasher, as_uuid, canonical_bytes
from ledger.storage.reads import chain_head, iter_chain, iter_link_pages
from ledger.storage.recorders import ChainedPostgresRecorder, ChainedSQLiteRecorder
from tests.support import open_desk


def pg_datastore(url: str) -> PostgresDatastore:
    parts = urlsplit(url)
    return PostgresDatastore(
        dbname=parts.path.lstrip("/"),
        host=parts.hostname or "127.0.0.1",
        port=str(parts.port),
        user=parts.username or "postgres",
        password=parts.password or "",
        pool_size=4,
        max_overflow=12,
    )


def stored(version: int = 1, originator: object = None) -> StoredEvent:
    return StoredEvent(
        originator_id=originator or uuid4(),
        originator_version=version,
        topic="topic",
        state=b"state-%d" % version,
    )


def recompute(links: list[tuple[int, bytes]], events: list[StoredEvent]) -> bool:
    prev = GENESIS
    for (position, event_hash), event in zip(links, events, strict=True):
        canonical = canonical_bytes(
            position,
            event.originator_id,
            event.originator_version,
            event.topic,
            event.state,
        )
        prev = hashlib.sha256(prev + canonical).digest()
        if prev != event_hash:
            return False
    return True


# ------------------------------------------------------------- the library's own test cases


class TestChainedSQLiteRecorder(ApplicationRecorderTestCase[ChainedSQLiteRecorder]):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.db_path = tmp_path / "recorder.db"

    def create_recorder(self) -> ChainedSQLiteRecorder:
        recorder = ChainedSQLiteRecorder(SQLiteDatastore(db_name=str(self.db_path)))
        recorder.create_table()
        return recorder


@pytest.mark.postgres
class TestChainedPostgresRecorder(ApplicationRecorderTestCase[ChainedPostgresRecorder]):
    # PostgreSQL's sequence is not gap-free (the library's own PostgreSQL test says so
    # too); our chain positions are, and tests below check them.
    EXPECT_CONTIGUOUS_NOTIFICATION_IDS = False

    @pytest.fixture(autouse=True)
    def _database(self, make_pg_url: Callable[[], str]) -> Iterator[None]:
        self.datastores: list[PostgresDatastore] = []
        self.url = make_pg_url()
        yield
        for datastore in self.datastores:
            datastore.close()

    def create_recorder(self) -> ChainedPostgresRecorder:
        datastore = pg_datastore(self.url)
        self.datastores.append(datastore)
        recorder = ChainedPostgresRecorder(datastore, events_table_name="ledger_events")
        recorder.create_table()
        return recorder


# ------------------------------------------------------------------------- the links


def _links(url: str) -> list[tuple[int, bytes]]:
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://")
        if url.startswith("postgresql")
        else url
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT position, event_hash FROM {CHAIN_TABLE} ORDER BY position")
            )
            return [(r[0], bytes(r[1])) for r in rows]
    finally:
        engine.dispose()


def test_sqlite_links_every_insert_in_order(tmp_path: Path) -> None:
    path = tmp_path / "chain.db"
    recorder = ChainedSQLiteRecorder(SQLiteDatastore(db_name=str(path)))
    recorder.create_table()
    first, second = stored(), stored()
    recorder.insert_events([first, second])
    third = stored(2, first.originator_id)
    recorder.insert_events([third])
    with pytest.raises(IntegrityError):
        recorder.insert_events([stored(2, first.originator_id), stored()])
    links = _links(f"sqlite:///{path}")
    assert [p for p, _ in links] == [1, 2, 3]
    assert recompute(links, [first, second, third])
    assert not recompute(links, [second, first, third])


@pytest.mark.postgres
def test_postgres_positions_stay_gap_free_where_the_sequence_skips(pg_url: str) -> None:
    datastore = pg_datastore(pg_url)
    try:
        recorder = ChainedPostgresRecorder(datastore, events_table_name="ledger_events")
        recorder.create_table()
        first = stored()
        ids = list(recorder.insert_events([first, stored()]) or [])
        # A conflicting insert takes sequence numbers and rolls back.
        with pytest.raises(IntegrityError):
            recorder.insert_events([stored(), stored(1, first.originator_id)])
        later = stored(2, first.originator_id)
        ids += list(recorder.insert_events([later]) or [])
    finally:
        datastore.close()
    assert ids[-1] > ids[-2] + 1  # the sequence skipped
    links = _links(pg_url)
    assert [p for p, _ in links] == [1, 2, 3]


def test_the_ledger_chains_every_event_and_hashes_the_same_on_both_databases(
    db_url: str,
) -> None:
    desk = open_desk(db_url)
    try:
        count = desk.ledger.event_count()
        links = list(iter_chain(desk.ledger.engine, desk.ledger.location.events_table, batch=7))
        with desk.ledger.engine.connect() as conn:
            head = chain_head(conn)
    finally:
        desk.ledger.close()
    assert count > 0
    assert [link.position for link in links] == list(range(1, count + 1))
    assert all(link.present for link in links)
    prev = GENESIS
    for link in links:
        assert link.originator_id is not None and link.originator_version is not None
        assert link.topic is not None and link.state is not None
        canonical = canonical_bytes(
            link.position, link.originator_id, link.originator_version, link.topic, link.state
        )
        prev = hashlib.sha256(prev + canonical).digest()
        assert prev == link.event_hash
    assert head == (count, prev)


def test_an_event_recorded_before_the_log_head_is_refused_and_nothing_is_written(
    db_url: str,
) -> None:
    """Recorded time never goes backwards along the chain: the recorder checks it under
    the insert's lock, against the head's recorded time and within the batch."""
    desk = open_desk(db_url)
    try:
        desk.report()
        with desk.ledger.engine.connect() as conn:
            before = (desk.ledger.event_count(), chain_head(conn))
        desk.later(-5)
        with pytest.raises(ConcurrentChange) as raised:
            desk.report(device="摄像机")
        assert isinstance(raised.value.__cause__, RecordedTimeBackwards)
        assert "is before" in str(raised.value.__cause__)
        recorder = desk.ledger.app.recorder
        at = desk.clock.now() + timedelta(hours=1)
        batch = [
            StoredEvent(uuid4(), 1, "topic", b'{"timestamp":"%s"}' % stamp.encode())
            for stamp in (
                at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                (at - timedelta(seconds=0.5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            )
        ]
        with pytest.raises(RecordedTimeBackwards):
            recorder.insert_events(batch)
        with desk.ledger.engine.connect() as conn:
            assert (desk.ledger.event_count(), chain_head(conn)) == before

        desk.later(5)  # the same time as the head: allowed
        assert desk.report(device="摄像机").number == "T-2026-000002"
    finally:
        desk.ledger.close()


def test_init_links_events_recorded_before_the_chain_existed(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url, create=True):
        pass
    path = sqlite_url.removeprefix("sqlite:///")
    legacy = ChainedSQLiteRecorder.__mro__[1](SQLiteDatastore(db_name=path))  # the library's
    events = [stored(), stored()]
    legacy.insert_events(events)
    assert _links(sqlite_url) == []
    with Ledger.open(sqlite_url, create=True) as ledger:
        assert ledger.event_count() == 2
    links = _links(sqlite_url)
    assert [p for p, _ in links] == [1, 2]
    assert recompute(links, events)


_uuids = st.uuids(allow_nil=True)
_stored_ids = st.one_of(
    _uuids,  # PostgreSQL's uuid column
    _uuids.map(lambda u: u.hex),  # SQLite's text column, as the recorder writes it
    _uuids.map(lambda u: u.hex.upper()),
    _uuids.map(str),
    _uuids.map(lambda u: "{" + str(u) + "}"),
    st.text(alphabet="0123456789abcdefABCDEF_ -xyz", min_size=30, max_size=40),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=40),  # not a UUID at all
)
_unsigned = st.integers(min_value=0, max_value=2**64 - 1)


@settings(max_examples=400, deadline=None)
@given(
    position=_unsigned,
    stored_id=_stored_ids,
    version=_unsigned,
    topic=st.text(st.characters(exclude_categories=["Cs"]), max_size=60),
    state=st.binary(max_size=300),
    prev=st.binary(min_size=32, max_size=32),
)
def test_the_link_hasher_builds_exactly_the_canonical_bytes(
    position: int, stored_id: UUID | str, version: int, topic: str, state: bytes, prev: bytes
) -> None:
    """verify's fast path must hash the bytes the recorders hashed, for any stored id."""
    hasher = LinkHasher()
    expected = canonical_bytes(position, as_uuid(stored_id), version, topic, state)
    assert hasher.canonical(position, stored_id, version, topic, state) == expected
    assert hasher.canonical(position, stored_id, version, topic, state) == expected  # cached
    linked = hasher.link(prev, position, stored_id, version, topic, state)
    assert linked == hashlib.sha256(prev + expected).digest()


def test_link_pages_are_the_chain_as_the_driver_returns_it(db_url: str) -> None:
    desk = open_desk(db_url)
    try:
        engine, table = desk.ledger.engine, desk.ledger.location.events_table
        pages = list(iter_link_pages(engine, table, batch=2))
        after = list(iter_link_pages(engine, table, after=3, batch=1000))
        links = list(iter_chain(engine, table))
    finally:
        desk.ledger.close()
    rows = [row for page in pages for row in page]
    assert len(links) > 2
    assert all(len(page) == 2 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 2
    assert [r[0] for r in rows] == [c.position for c in links] == list(range(1, len(links) + 1))
    assert [r[0] for page in after for r in page] == list(range(4, len(links) + 1))
    hasher, prev = LinkHasher(), GENESIS
    for (position, nid, event_hash, stored_id, version, topic, state), chained in zip(
        rows, links, strict=True
    ):
        assert (nid, bytes(event_hash)) == (chained.notification_id, chained.event_hash)
        assert as_uuid(stored_id) == chained.originator_id
        assert isinstance(chained.originator_id, UUID)
        assert (version, topic) == (chained.originator_version, chained.topic)
        assert state is not None
        prev = hasher.link(prev, position, stored_id, version, topic, bytes(state))
        assert prev == chained.event_hash
