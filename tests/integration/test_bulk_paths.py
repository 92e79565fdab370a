"""The bulk paths of issue 6's speed work record exactly what the plain paths record:
SQLite's one-``executemany`` insert (ids, rows, chain and keys as the library's row-by-row
insert gives them, also when SQLite picks row ids at random), and projections caught up
together (one read, each event decoded once, one transaction a batch) against each caught
up alone, on both databases."""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select, update

from ledger.bootstrap import Ledger
from ledger.commands.contracts import ContractFile, parse_contract, read_toml
from ledger.commands.import_lines import parse_line
from ledger.domain.contract import contract_uuid
from ledger.domain.model import DomainEvent
from ledger.domain.values import Role
from ledger.gc_tuning import BULK_GC_THRESHOLD, fewer_collections
from ledger.projections.base import ProjectionRunner, shared_folds
from ledger.projections.tickets import TicketSummaryProjection, fold_tickets
from ledger.storage.chain import CHAIN_TABLE, COMMANDS_TABLE, CommandKey
from ledger.storage.mapper import OrjsonTranscoder, PydanticMapper
from ledger.storage.recorders import ChainedSQLiteRecorder
from ledger.storage.tables import projection_positions
from tests.integration.test_import_batch import (
    DEFAULTS,
    NOW,
    mixed_file,
    read_models,
    run_import,
    write_lines,
)
from tests.support import SEED_CONTRACTS, SHANGHAI, Desk, open_desk


class RowByRowRecorder(ChainedSQLiteRecorder):
    """The reference: each row inserted on its own and its id read from ``lastrowid``, as
    the library's SQLite application recorder does."""

    def _insert_rows(self, c: SQLiteCursor, rows: list[tuple[Any, int, str, bytes]]) -> list[int]:
        ids = []
        for row in rows:
            c.execute(self.insert_events_statement, row)
            ids.append(c.lastrowid)
        return ids


def recorder_at(path: Path, kind: type[ChainedSQLiteRecorder]) -> ChainedSQLiteRecorder:
    recorder = kind(SQLiteDatastore(db_name=str(path)))
    recorder.create_table()
    return recorder


def batches() -> list[list[StoredEvent]]:
    """Saves of one and of many events, several aggregates interleaved."""
    ids = [uuid4() for _ in range(5)]

    def event(n: int, version: int) -> StoredEvent:
        return StoredEvent(
            originator_id=ids[n],
            originator_version=version,
            topic=f"topic-{n}",
            state=b"state %d v%d" % (n, version),
        )

    return [
        [event(0, 1)],
        [event(1, 1), event(2, 1), event(1, 2), event(0, 2)],
        [event(3, 1)],
        [event(n, v) for v in (1, 2, 3) for n in (4,)] + [event(2, 2), event(3, 2)],
    ]


def stored_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        return {
            "events": conn.execute("SELECT rowid, * FROM stored_events ORDER BY rowid").fetchall(),
            "chain": conn.execute(f"SELECT * FROM {CHAIN_TABLE} ORDER BY position").fetchall(),
            "keys": conn.execute(f"SELECT * FROM {COMMANDS_TABLE} ORDER BY command_id").fetchall(),
        }


def insert_all(recorder: ChainedSQLiteRecorder, saves: list[list[StoredEvent]]) -> list[list[int]]:
    returned = []
    for n, batch in enumerate(saves):
        keys = [CommandKey(f"key-{n}-{i}", i, f"record-{n}") for i in range(len(batch))]
        returned.append(list(recorder.insert_events(batch, commands=keys) or []))
    return returned


def test_one_executemany_records_what_row_by_row_records(tmp_path: Path) -> None:
    bulk = recorder_at(tmp_path / "bulk.db", ChainedSQLiteRecorder)
    plain = recorder_at(tmp_path / "plain.db", RowByRowRecorder)
    saves = batches()  # the same events both ways, so the chains' hashes must match too
    ids = insert_all(bulk, saves)
    assert ids == insert_all(plain, saves) == [[1], [2, 3, 4, 5], [6], [7, 8, 9, 10, 11]]
    assert stored_rows(tmp_path / "bulk.db") == stored_rows(tmp_path / "plain.db")
    assert len(stored_rows(tmp_path / "bulk.db")["chain"]) == 11


def test_ids_are_looked_up_when_sqlite_picks_them_at_random(tmp_path: Path) -> None:
    """Once the largest row id is 2**63 - 1, SQLite picks new ids at random: each row's id
    is then read back by its key, and the chain links the right rows."""
    path = tmp_path / "random.db"
    recorder = recorder_at(path, ChainedSQLiteRecorder)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, 1, 'seed', x'00')",
            (2**63 - 1, uuid4().hex),
        )
    saves = batches()
    returned = insert_all(recorder, saves)
    with sqlite3.connect(path) as conn:
        actual = [
            [
                conn.execute(
                    "SELECT rowid FROM stored_events "
                    "WHERE originator_id = ? AND originator_version = ?",
                    (event.originator_id.hex, event.originator_version),
                ).fetchone()[0]
                for event in batch
            ]
            for batch in saves
        ]
        links = conn.execute(
            f"SELECT notification_id FROM {CHAIN_TABLE} ORDER BY position"
        ).fetchall()
    assert returned == actual
    assert [n for (n,) in links] == [i for ids in returned for i in ids]
    assert max(i for ids in returned for i in ids) < 2**63 - 1  # picked at random


# --------------------------------------------------------------------------- projections


def catch_up_each_alone(runner: ProjectionRunner, batch_size: int) -> None:
    """The reference: each projection paged through its own topics, batch after batch."""
    for projection in runner.projections.values():
        while runner._apply_next_batch(projection, batch_size):
            pass


def reset(ledger: Ledger) -> None:
    runner = ledger.projections
    with ledger.engine.begin() as conn:
        for projection in runner.projections.values():
            for table in reversed(projection.tables):
                conn.execute(table.delete())
        conn.execute(update(projection_positions).values(position=0))


def baseline(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    """The read models each projection builds alone, the store's read models then emptied
    again for the test to rebuild them its own way."""
    reset(ledger)
    catch_up_each_alone(ledger.projections, batch_size=500)
    expected = read_models(ledger)
    reset(ledger)
    return expected


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    desk = open_desk(db_url, at=NOW)
    yield desk
    desk.ledger.close()


@pytest.fixture
def imported(db_url: str, tmp_path: Path) -> Desk:
    desk = open_desk(db_url, at=NOW)
    report = run_import(desk.ledger, write_lines(tmp_path / "mixed.jsonl", mixed_file()))
    assert report.applied > 40
    return desk


def test_projections_caught_up_together_equal_each_caught_up_alone(imported: Desk) -> None:
    ledger = imported.ledger
    try:
        reset(ledger)
        catch_up_each_alone(ledger.projections, batch_size=7)
        alone = read_models(ledger)
        assert len(alone["ticket_summary"]) == 7 and len(alone["visit_summary"]) == 1
        for batch_size in (1, 5, 500):
            reset(ledger)
            applied = ledger.projections.catch_up(batch_size=batch_size)
            assert read_models(ledger) == alone, f"batch size {batch_size}"
            assert applied == sum(
                len(ledger.app.recorder.select_notifications(0, 10_000, topics=p.topics))
                for p in ledger.projections.projections.values()
            )
        reset(ledger)
        ledger.projections.rebuild()
        assert read_models(ledger) == alone
    finally:
        ledger.close()


def test_the_ticket_projections_fold_a_ticket_once_per_transaction(imported: Desk) -> None:
    """Within one transaction of several projections, a ticket folded over a batch's events
    is handed to the next projection that folds it over the same events; a batch split in
    two folds, from the first part's states, to the states of the whole."""
    ledger = imported.ledger
    topics = TicketSummaryProjection().topics
    events = [
        (n.id, ledger.projections._decode(n))
        for n in ledger.app.recorder.select_notifications(0, 10_000, topics=topics)
    ]
    asked: list[set[UUID]] = []

    def stored(ids: Any) -> dict[UUID, Any]:
        asked.append(set(ids))
        return {}

    def refused(ids: Any) -> dict[UUID, Any]:
        raise AssertionError(f"folded again: {ids}")

    with shared_folds():
        whole = fold_tickets(events, stored)
        assert fold_tickets(events, refused) == whole
    assert asked == [set()]  # every ticket is made in these events: nothing stored to read
    assert len(whole) == 7 and not any(f.existed for f in whole.values())
    assert all(
        f.position == max(p for p, e in events if e.originator_id == t) for t, f in whole.items()
    )
    half = len(events) // 2
    first = fold_tickets(events[:half], stored)
    second = fold_tickets(events[half:], lambda ids: {t: first[t].ticket for t in ids})
    assert {t: f.ticket for t, f in {**first, **second}.items()} == {
        t: f.ticket for t, f in whole.items()
    }
    assert all(f.existed == (t in first) for t, f in second.items())


def test_a_projection_another_follower_moved_catches_up_alone(imported: Desk) -> None:
    """Its compare-and-set fails inside the shared batch: the batch is rolled back for
    everyone, that projection leaves the group and re-reads from where the other left it."""
    ledger = imported.ledger
    runner = ledger.projections
    try:
        expected = baseline(ledger)
        tickets = runner.projections["tickets"]
        assert runner._apply_next_batch(tickets, 10) == 10  # "another follower" moves it
        stored = runner.position
        stale = iter([0])  # the shared pass read the tickets' position before it moved

        def position(name: str) -> int:
            if name == "tickets":
                for value in stale:
                    return value
            return stored(name)

        runner.position = position  # type: ignore[method-assign]
        try:
            calls: list[tuple[str, int]] = []
            applied = runner.catch_up(on_batch=lambda name, n: calls.append((name, n)))
        finally:
            runner.position = stored  # type: ignore[method-assign]
        assert read_models(ledger) == expected
        assert sum(n for name, n in calls if name == "tickets") == applied - sum(
            n for name, n in calls if name != "tickets"
        )
        total_tickets = len(
            ledger.app.recorder.select_notifications(0, 10_000, topics=tickets.topics)
        )
        assert sum(n for name, n in calls if name == "tickets") == total_tickets - 10
    finally:
        ledger.close()


def test_a_failing_projection_does_not_hold_the_others_back(imported: Desk) -> None:
    """Its failure rolls the shared batch back; the others go on without it and catch up
    fully, and the failure reaches the caller when it tries alone, last."""
    ledger = imported.ledger
    runner = ledger.projections
    try:
        expected = baseline(ledger)
        sla = runner.projections["sla"]
        real_apply = sla.apply

        def broken(*_: Any) -> None:
            raise RuntimeError("the SLA model is broken")

        sla.apply = broken  # type: ignore[method-assign]
        try:
            with pytest.raises(RuntimeError, match="the SLA model is broken"):
                runner.catch_up(batch_size=5)
        finally:
            sla.apply = real_apply  # type: ignore[method-assign]
        caught_up = {name: runner.position(name) for name in runner.projections}
        head = max(n.id for n in ledger.app.recorder.select_notifications(0, 10_000))
        assert caught_up["sla"] == 0  # nothing of it moved without its rows
        others = {name: p for name, p in caught_up.items() if name not in ("sla",)}
        assert all(p > 0 for p in others.values()), others
        got = read_models(ledger)
        for table, rows in expected.items():
            if not table.startswith("sla_") and table != "projection_positions":
                assert got[table] == rows, table
        assert runner.catch_up() > 0 and read_models(ledger) == expected  # fixed: it catches up
        assert head >= max(runner.position(name) for name in runner.projections)
    finally:
        ledger.close()


def test_positions_are_locked_in_one_order_whoever_asks(imported: Desk) -> None:
    """Two runners asking for the same projections in opposite orders lock their position
    rows in the same order (opposite orders deadlock on PostgreSQL)."""
    ledger = imported.ledger
    runner = ledger.projections
    try:
        reset(ledger)
        locked: list[list[str]] = []
        real_moved = runner._moved

        def moved(conn: Any, projection: Any, read: int, end: int) -> bool:
            locked[-1].append(projection.name)
            return real_moved(conn, projection, read, end)

        runner._moved = moved  # type: ignore[method-assign]
        try:
            for names in (["tickets", "sla"], ["sla", "tickets"]):
                reset(ledger)
                locked.append([])
                runner.catch_up(names, batch_size=500)
        finally:
            runner._moved = real_moved  # type: ignore[method-assign]
        assert locked[0][:2] == locked[1][:2] == ["sla", "tickets"]
    finally:
        ledger.close()


# --------------------------------------------------------------------------- the mapper


class Measured(DomainEvent):
    """Every kind of value events carry: text, numbers, times, ids, lists, optionals."""

    text: str
    count: int
    ratio: float
    at: datetime
    ids: tuple[UUID, ...]
    note: str | None = None


def stamp() -> dict[str, Any]:
    return {"timestamp": NOW, "occurred_at": NOW, "actor": "测试", "role": "admin"}


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(min_size=1),
    count=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    at=st.datetimes(timezones=st.just(UTC)),
    note=st.none() | st.text(),
)
def test_pydantic_json_is_the_bytes_of_the_dict_way(
    text: str, count: int, ratio: float, at: datetime, note: str | None
) -> None:
    """The fast encoding is byte for byte the dict way's (the chain hashes these bytes),
    and the fast decoding gives the same event."""
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    event = Measured(
        originator_id=uuid4(),
        originator_version=1,
        text=text,
        count=count,
        ratio=ratio,
        at=at,
        ids=(uuid4(), uuid4()),
        note=note,
        **stamp(),
    )
    stored = mapper.to_stored_event(event)
    assert stored.state == mapper._encode(event)
    assert mapper.to_domain_event(stored) == event == mapper._decode(Measured, stored)


def test_every_stored_event_reads_and_writes_the_same_both_ways(imported: Desk) -> None:
    ledger = imported.ledger
    mapper = ledger.app.mapper
    assert isinstance(mapper, PydanticMapper)
    try:
        stored = ledger.app.recorder.select_notifications(0, 10_000)
        assert len({n.topic for n in stored}) >= 15
        for notification in stored:
            event = mapper.to_domain_event(notification)
            assert event == mapper._decode(type(event), notification)
            assert mapper.to_stored_event(event).state == notification.state
    finally:
        ledger.close()


# --------------------------------------------------------------------------- import


def reports(*sites: str) -> list[dict[str, Any]]:
    """Reports on seed-003 at "now", without a customer (the contract's is used)."""
    return [
        {
            "command": "report",
            "ref": site,
            "contract": "seed-003",
            "contact_name": "王芳",
            "contact_phone": "0374-6099651",
            "site": site,
            "device": "高速扫描仪",
            "description": "扫描仪卡纸",
        }
        for site in sites
    ]


def contract_reads(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """The ids of the aggregates the event store replays from now on (a list that grows)."""
    seen: list[UUID] = []
    events = ledger.app.events
    get = events.get

    def counted(originator_id: UUID, **kwargs: Any) -> Any:
        seen.append(originator_id)
        return get(originator_id, **kwargs)

    monkeypatch.setattr(events, "get", counted)
    return seen


def test_an_import_keeps_the_states_its_batches_leave(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_lines(tmp_path / "reports.jsonl", reports("一", "二", "三"))
    seen = contract_reads(desk.ledger, monkeypatch)
    report = run_import(desk.ledger, path, batch_size=1)
    assert report.applied == 3
    assert seen.count(contract_uuid("seed-003")) == 1  # read by the first batch only


def test_states_kept_between_batches_are_dropped_when_another_writer_commits(
    desk: Desk, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rival revises the contract (a new customer) between the two batches: the second
    report reads the contract again and takes the revised customer."""
    rival = open_desk(db_url, create=False, at=NOW)
    document = parse_contract(read_toml(next(p for p in SEED_CONTRACTS if "003" in p.stem)))
    revised = ContractFile(
        document.contract_id, document.policy.model_copy(update={"customer": "新客户"})
    )
    batches = 0

    def rival_between(_: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 1:
            rival.ledger.contracts.load(revised, actor="admin", role=Role.ADMIN)

    path = write_lines(tmp_path / "reports.jsonl", reports("一", "二"))
    seen = contract_reads(desk.ledger, monkeypatch)
    try:
        report = run_import(desk.ledger, path, batch_size=1, on_lines=rival_between)
    finally:
        rival.ledger.close()
    assert batches == 2 and report.applied == 2
    first, second = (desk.ledger.tickets.get(report.refs[site]) for site in ("一", "二"))
    assert (first.customer, second.customer) == ("某县档案馆", "新客户")
    assert seen.count(contract_uuid("seed-003")) == 2


# --------------------------------------------------------------------------- the collector


def test_bulk_work_collects_less_often_and_restores_the_setting() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == max(BULK_GC_THRESHOLD, before[0])
        with fewer_collections():  # nested (an import's catch-up): one setting
            assert gc.get_threshold()[0] == max(BULK_GC_THRESHOLD, before[0])
        assert gc.get_threshold()[0] == max(BULK_GC_THRESHOLD, before[0])
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the bulk work failed")
    assert gc.get_threshold() == before


# --------------------------------------------------------------------------- reading the log


def test_the_log_read_with_the_drivers_cursor_is_the_recorders(imported: Desk) -> None:
    """Catching up reads the events table with the driver's cursor: the same rows, in the
    same order, as the recorder's ``select_notifications``, and the same events decoded."""
    ledger = imported.ledger
    runner = ledger.projections
    mapper = ledger.app.mapper
    assert isinstance(mapper, PydanticMapper) and runner.events_table is not None
    try:
        topics = sorted({t for p in runner.projections.values() for t in p.topics})
        for after, limit in ((0, 10_000), (5, 7), (0, 1)):
            raw = runner._read_log(after, limit, topics)
            expected = ledger.app.recorder.select_notifications(
                start=after, limit=limit, topics=topics, inclusive_of_start=False
            )
            assert [(r[0], r[2], r[3], bytes(r[4])) for r in raw] == [
                (n.id, n.originator_version, n.topic, n.state) for n in expected
            ]
            assert [runner._decode_row(r) for r in raw] == [
                mapper.to_domain_event(n) for n in expected
            ]
        assert len(runner._read_log(0, 10_000, topics)) > 40
    finally:
        ledger.close()


def measured(originator_id: UUID, version: int) -> Measured:
    return Measured(
        originator_id=originator_id,
        originator_version=version,
        text="文本",
        count=1,
        ratio=0.5,
        at=NOW,
        ids=(),
        **stamp(),
    )


def test_an_id_read_as_text_is_spliced_only_when_it_is_32_hex_digits() -> None:
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    event = measured(uuid4(), 1)
    stored = mapper.to_stored_event(event)
    topic, state = stored.topic, stored.state
    assert mapper.decode(topic, event.originator_id.hex, 1, state) == event
    assert mapper.decode(topic, str(event.originator_id), 1, state) == event  # the dict way
    forged = f'{event.originator_id.hex}","originator_version":7,"x":"'
    with pytest.raises(MapperDeserialisationError):
        mapper.decode(topic, forged, 1, state)


def test_a_state_naming_ids_of_its_own_is_read_with_the_rows_ids() -> None:
    """Spliced in front, a state's own ``originator_id`` would win (JSON's last key): such a
    state (forged or corrupt; ours never hold ids) takes the dict way, where the row wins."""
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    row_id, other = uuid4(), uuid4()
    event = measured(row_id, 3)
    stored = mapper.to_stored_event(event)
    assert b'"originator_' not in stored.state
    forged = stored.state[:-1] + b',"originator_id":"%s","originator_version":9}' % (
        other.hex.encode()
    )
    for row_id_as_read in (row_id.hex, row_id):
        decoded = mapper.decode(stored.topic, row_id_as_read, 3, forged)
        assert (decoded.originator_id, decoded.originator_version) == (row_id, 3)


# --------------------------------------------------------------------------- import's read models


def log_reads(runner: ProjectionRunner, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Where the runner reads the log from, each time it does."""
    seen: list[int] = []
    read_log = runner._read_log

    def counting(after: int, limit: int, topics: Any) -> Any:
        seen.append(after)
        return read_log(after, limit, topics)

    monkeypatch.setattr(runner, "_read_log", counting)
    return seen


def test_an_import_feeds_its_batches_to_the_read_models(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each saved batch's events go to the projections as written: the log is not read
    back, and the read models are those each projection builds alone from the log."""
    ledger = desk.ledger
    runner = ledger.projections
    before = ledger.app.recorder.max_notification_id() or 0
    reads = log_reads(runner, monkeypatch)
    path = write_lines(tmp_path / "mixed.jsonl", mixed_file())
    report = run_import(ledger, path, batch_size=6, projections=runner)
    assert report.applied > 40
    assert reads and max(reads) <= before  # caught up first; what it wrote was not read back
    assert runner.catch_up() == 0
    fed = read_models(ledger)
    assert fed == baseline(ledger)  # the positions too: each at its last event, as caught up


def test_a_rival_write_between_batches_is_read_from_the_log(
    desk: Desk, db_url: str, tmp_path: Path
) -> None:
    """Another writer's report lands between two batches: the projections that follow it
    are not fed the next batch (an event of theirs lies before it) and catch up from the
    log; the read models are still each projection's own."""
    rival = open_desk(db_url, create=False, at=NOW)
    ledger = desk.ledger
    batches = 0

    def rival_between(_: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 1:
            line = {k: v for k, v in reports("对手")[0].items() if k != "ref"}
            command = parse_line({**DEFAULTS, **line}, SHANGHAI)
            rival.ledger.tickets.execute(command)

    path = write_lines(tmp_path / "reports.jsonl", reports("一", "二", "三"))
    try:
        run_import(
            ledger, path, batch_size=1, on_lines=rival_between, projections=ledger.projections
        )
    finally:
        rival.ledger.close()
    assert ledger.projections.catch_up() > 0  # the rival's report and what came after it
    after = read_models(ledger)
    assert len(after["ticket_summary"]) == 4
    assert after == baseline(ledger)


def test_rows_written_through_the_driver_are_sqlalchemys(imported: Desk) -> None:
    """``rows.insert_rows`` hands the driver its own parameters (COPY on PostgreSQL): every
    read model's rows, inserted again through SQLAlchemy's own ``executemany``, are stored
    the same, value for value as the driver reads them back."""
    ledger = imported.ledger
    try:
        ledger.projections.rebuild()
        tables = {t for p in ledger.projections.projections.values() for t in p.tables}
        filled = set()
        with ledger.engine.begin() as conn:
            for table in sorted(tables, key=lambda t: t.name):
                rows = [dict(r) for r in conn.execute(select(table)).mappings()]
                written = _stored(conn, table.name)
                conn.execute(table.delete())
                if rows:
                    conn.execute(table.insert(), rows)
                assert _stored(conn, table.name) == written, table.name
                filled |= {table.name} if written else set()
        assert {"ticket_summary", "ticket_search", "sla_tickets", "sla_targets"} <= filled
        assert {"sla_contracts", "visit_summary", "supervision_tickets"} <= filled
    finally:
        ledger.close()


def _stored(conn: Connection, table: str) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {table}")), key=repr)
