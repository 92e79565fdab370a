"""The event feed: CloudEvents format, paging and filtering, the CLI, the schemas, the
example consumer, and the guarantee that a tailing reader sees every position once, in
order, while several processes write (PostgreSQL)."""

from __future__ import annotations

import json
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest
from click.testing import CliRunner
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.http import from_json as v1_from_json
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.bootstrap import Ledger
from ledger.cli import cli as ledger_cli
from ledger.commands.application import ConcurrentChange
from ledger.domain.complaint import CorrectiveActionLinked as ComplaintActionLinked
from ledger.domain.model import DomainEvent
from ledger.domain.return_visit import CorrectiveActionLinked as VisitActionLinked
from ledger.domain.return_visit import VisitScheduled
from ledger.domain.ticket import Resolved
from ledger.feed import (
    BadFeedRequest,
    FeedIntegrityError,
    event_type,
    feed_instance,
    read_feed,
    read_feed_page,
)
from ledger.feed.cloudevents import (
    EVENT_CLASSES,
    EVENT_ID_NAMESPACE,
    EVENT_TYPES,
    MAX_LIMIT,
    event_id,
    position_of,
)
from ledger.feed.schemas import export_schemas
from ledger.storage.reads import chain_head, read_chain
from tests.e2e.test_cli import REPORT_ARGS, Cli, make_cli
from tests.integration.test_append_only import drop_guard
from tests.integration.test_quality_service import Supervision
from tests.support import Desk, open_desk, run_in_processes

CONSUMER = Path(__file__).parents[2] / "examples" / "consumer.py"
TYPE_SHAPE = re.compile(r"\Aledger\.[a-z_]+\.[a-z_]+\.v[0-9]+\Z")
SUBJECT_SHAPES = {
    "ticket": r"T-2026-\d{6}",
    "visit": r"V-2026-\d{6}",
    "corrective_action": r"CA-2026-\d{4}",
    "complaint": r"C-2026-\d{4}",
    "contract": r"seed-\d{3}",
    "number_sequence": r"(T|V|CA|C)-2026-\d+",
}


def busy_desk(url: str) -> Desk:
    """Contracts, a served and closed ticket, an open one, a visit, an action, a complaint."""
    q = Supervision(open_desk(url))
    served = q.served()
    q.desk.report(customer="许昌市人民医院")
    q.conducted(ticket=served.number)
    q.number("action_raise", content="内审发现", source="internal_audit", department="质量部")
    q.number(
        "complaint_receive",
        contract="seed-004",
        about="product",
        reference="打印机",
        category="quality",
        content="卡纸",
    )
    return q.desk


def everything(ledger: Ledger, **kwargs: Any) -> list[dict[str, Any]]:
    return read_feed(ledger, limit=MAX_LIMIT, **kwargs)


def positions(events: list[dict[str, Any]]) -> list[int]:
    return [position_of(e) for e in events]


# --------------------------------------------------------------------------- types


def _leaves(cls: type[DomainEvent]) -> set[type[DomainEvent]]:
    subclasses = cls.__subclasses__()
    return {cls} if not subclasses else set().union(*(_leaves(s) for s in subclasses))


def test_every_recorded_event_class_has_its_own_type() -> None:
    recorded = {c for c in _leaves(DomainEvent) if c.__module__.startswith("ledger.domain.")}
    assert recorded == set(EVENT_CLASSES)
    assert len(EVENT_TYPES) == len(EVENT_CLASSES)
    assert all(TYPE_SHAPE.match(t) for t in EVENT_TYPES), sorted(EVENT_TYPES)
    assert event_type(Resolved) == "ledger.ticket.resolved.v1"
    assert event_type(get_topic(VisitScheduled)) == "ledger.visit.scheduled.v1"
    # Two classes share a name; their aggregates tell them apart.
    assert event_type(VisitActionLinked) == "ledger.visit.corrective_action_linked.v1"
    assert event_type(ComplaintActionLinked) == "ledger.complaint.corrective_action_linked.v1"
    with pytest.raises(BadFeedRequest, match="unknown event topic"):
        event_type("ledger.domain.ticket:NoSuchEvent")


# --------------------------------------------------------------------------- format


def test_the_feed_is_cloudevents_the_sdk_parses(db_url: str) -> None:
    desk = busy_desk(db_url)
    ledger = desk.ledger
    feed = everything(ledger)
    assert positions(feed) == list(range(1, ledger.event_count() + 1))
    source = f"/ledger/{feed_instance(ledger)}"
    with ledger.engine.connect() as conn:
        hashes = {
            link.position: link.event_hash.hex()
            for link in read_chain(conn, ledger.location.events_table, limit=MAX_LIMIT)
        }
    for line in (json.dumps(e, ensure_ascii=False) for e in feed):
        event = JSONFormat().read(None, line)  # validates attributes and extension names
        assert event.get_specversion() == "1.0"
        assert event.get_source() == source
        assert event.get_type() in EVENT_TYPES
        assert event.get_datacontenttype() == "application/json"
        time_ = event.get_time()
        assert isinstance(time_, datetime) and time_.utcoffset() is not None
        sequence = event.get_extension("sequence")
        assert re.fullmatch(r"[0-9]{20}", sequence)
        assert event.get_extension("eventhash") == hashes[int(sequence)]
        assert event.get_id() == event_id(
            event.get_extension("originatorid"), event.get_extension("originatorversion")
        )
        aggregate = event.get_type().split(".")[1]
        if aggregate in SUBJECT_SHAPES:
            assert re.fullmatch(SUBJECT_SHAPES[aggregate], event.get_subject() or ""), line
        legacy = v1_from_json(line)  # the SDK's v1 API reads it too
        assert legacy["id"] == event.get_id() and legacy["sequence"] == sequence
    assert len({e["id"] for e in feed}) == len(feed)
    assert {e["type"].split(".")[1] for e in feed} == set(SUBJECT_SHAPES)

    # data is the event's own fields; time and recordedtime its two times, in UTC.
    ticket = ledger.tickets.get("T-2026-000001")
    stored = list(ledger.app.events.get(ticket.id))
    ticket_feed = [e for e in feed if e["originatorid"] == str(ticket.id)]
    assert [e["data"] for e in ticket_feed] == [s.data() for s in stored]
    assert [e["originatorversion"] for e in ticket_feed] == [s.originator_version for s in stored]
    assert [datetime.fromisoformat(e["time"]) for e in ticket_feed] == [
        s.occurred_at for s in stored
    ]
    assert [datetime.fromisoformat(e["recordedtime"]) for e in ticket_feed] == [
        s.recorded_at for s in stored
    ]
    assert {e["subject"] for e in ticket_feed} == {"T-2026-000001"}
    assert ticket_feed[-1]["actor"] == "李娜" and ticket_feed[-1]["role"] == "dispatcher"
    desk.ledger.close()


def test_instance_is_the_genesis_hash_unless_configured(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_INSTANCE", raising=False)
    with Ledger.open(sqlite_url, create=True) as empty:
        assert feed_instance(empty) == "unstarted"
    desk = open_desk(sqlite_url, create=True)
    with desk.ledger.engine.connect() as conn:
        genesis = read_chain(conn, desk.ledger.location.events_table, limit=1)[0]
    assert feed_instance(desk.ledger) == genesis.event_hash.hex()[:16]
    with Ledger.open(sqlite_url) as again:
        assert everything(again)[0]["source"] == f"/ledger/{genesis.event_hash.hex()[:16]}"
    monkeypatch.setenv("LEDGER_INSTANCE", "desk-zz.1")
    assert everything(desk.ledger)[0]["source"] == "/ledger/desk-zz.1"
    monkeypatch.setenv("LEDGER_INSTANCE", "a b")
    with pytest.raises(BadFeedRequest, match="LEDGER_INSTANCE"):
        feed_instance(desk.ledger)
    desk.ledger.close()


# --------------------------------------------------------------------------- paging


def test_paging_yields_every_event_once_in_order(db_url: str) -> None:
    desk = busy_desk(db_url)
    full = everything(desk.ledger)
    for limit in (1, 4):
        pages, after = [], 0
        while page := read_feed(desk.ledger, after=after, limit=limit):
            assert len(page) <= limit
            pages.extend(page)
            after = position_of(page[-1])
        assert pages == full
    # A reader that starts mid-log (nothing cached) still names every event's subject.
    middle = len(full) // 2
    with Ledger.open(db_url) as fresh:
        assert everything(fresh, after=middle) == full[middle:]
    assert read_feed(desk.ledger, after=len(full)) == []
    for bad in ({"after": -1}, {"limit": 0}, {"limit": MAX_LIMIT + 1}):
        with pytest.raises(BadFeedRequest):
            read_feed(desk.ledger, **bad)
    desk.ledger.close()


def test_type_filters_select_and_resumption_still_advances(db_url: str) -> None:
    desk = busy_desk(db_url)
    full = everything(desk.ledger)
    tickets = everything(desk.ledger, types=["ledger.ticket.*"])
    assert tickets == [e for e in full if e["type"].startswith("ledger.ticket.")]
    chosen = ["ledger.ticket.resolved.v1", "ledger.complaint.*"]
    picked = everything(desk.ledger, types=chosen)
    assert [e["type"] for e in picked] == [
        "ledger.ticket.resolved.v1",
        "ledger.complaint.received.v1",
    ]

    # Paging a filtered feed one event at a time from each event's sequence finds the same.
    resumed, after = [], 0
    while page := read_feed(desk.ledger, after=after, limit=1, types=chosen):
        resumed.extend(page)
        after = position_of(page[-1])
    assert resumed == picked
    # After the last match the read went on to the head: last_position says so.
    tail = read_feed_page(desk.ledger, after=after, limit=10, types=chosen)
    assert tail.events == [] and tail.last_position == len(full)
    page = read_feed_page(desk.ledger, limit=1, types=["ledger.ticket.resolved.v1"])
    assert page.last_position == position_of(page.events[0])

    with pytest.raises(BadFeedRequest, match="matches no event type"):
        read_feed(desk.ledger, types=["ledger.tikcet.*"])
    desk.ledger.close()


def test_a_missing_stored_event_stops_the_feed_with_a_pointer_to_verify(db_url: str) -> None:
    desk = busy_desk(db_url)
    ledger = desk.ledger
    drop_guard(desk)  # as an attacker (the owner) would, then delete the event at position 7
    nid = "rowid" if ledger.location.kind == "sqlite" else "notification_id"
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql(
            f"DELETE FROM {ledger.location.events_table} WHERE {nid} = "
            "(SELECT notification_id FROM ledger_chain WHERE position = 7)"
        )
    with pytest.raises(FeedIntegrityError, match=r"position 7: .*run `ledger verify`"):
        read_feed(ledger, after=3)
    # A filter that would skip the event does not skip the check.
    with pytest.raises(FeedIntegrityError, match="position 7"):
        read_feed(ledger, types=["ledger.complaint.*"])
    assert positions(read_feed(ledger, after=7, limit=3)) == [8, 9, 10]
    failed = Cli(db_url).run("feed", ok=False)
    assert failed.returncode == 1
    assert "position 7" in failed.stderr and "ledger verify" in failed.stderr
    ledger.close()


# --------------------------------------------------------------------------- schemas


def test_exported_schemas_describe_every_type_and_the_feed_matches_them(
    sqlite_url: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(ledger_cli, ["schema", "export", str(tmp_path / "schemas")])
    assert result.exit_code == 0, result.output
    index = json.loads((tmp_path / "schemas" / "index.json").read_text())
    assert set(index["types"]) == set(EVENT_TYPES)
    assert {p.name for p in (tmp_path / "schemas").iterdir()} == {
        "index.json",
        index["envelope"],
        *(t["schema"] for t in index["types"].values()),
    }
    envelope = json.loads((tmp_path / "schemas" / index["envelope"]).read_text())

    desk = busy_desk(sqlite_url)
    for event in everything(desk.ledger):
        assert set(envelope["required"]) <= set(event) <= set(envelope["properties"])
        assert re.fullmatch(envelope["properties"]["sequence"]["pattern"], event["sequence"])
        assert event["type"] in envelope["properties"]["type"]["enum"]
        entry = index["types"][event["type"]]
        schema = json.loads((tmp_path / "schemas" / entry["schema"]).read_text())
        assert schema["title"] == event["type"]
        assert set(event["data"]) == set(schema["properties"]), event["type"]
        assert set(schema["required"]) <= set(event["data"])
    desk.ledger.close()
    assert export_schemas(tmp_path / "again")[-1].name == "index.json"


# --------------------------------------------------------------------------- CLI


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


def test_cli_writes_one_cloudevent_per_line(db_url: str) -> None:
    cli = make_cli(db_url)
    cli.run(*REPORT_ARGS)
    cli.run("ticket", "respond", "T-2026-000001", "--at", "2026-10-08T09:04")
    with Ledger.open(db_url) as ledger:
        full = everything(ledger)
    assert lines(cli.run("feed").stdout) == full
    assert positions(lines(cli.run("feed", "--after", "2", "--limit", "3").stdout)) == [3, 4, 5]
    only = lines(cli.run("feed", "--type", "ledger.ticket.*", "--type", "*.ticket_number_*").stdout)
    assert [e["type"] for e in only] == [
        "ledger.number_sequence.ticket_number_issued.v1",
        "ledger.ticket.reported.v1",
        "ledger.ticket.responded.v1",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--after", "x"], "Invalid value for '--after'"),
        (["--after", "-1"], "Invalid value for '--after'"),
        (["--limit", "0"], "Invalid value for '--limit'"),
        (["--type", "ticket.*"], "--type: type pattern 'ticket.*' matches no event type"),
    ],
)
def test_cli_refuses_bad_options(sqlite_url: str, args: list[str], message: str) -> None:
    Ledger.open(sqlite_url, create=True).close()
    result = CliRunner().invoke(ledger_cli, ["--db", sqlite_url, "feed", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _read_lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def test_cli_follow_streams_new_events_and_stops_cleanly_on_sigterm(db_url: str) -> None:
    cli = make_cli(db_url)
    cli.run(*REPORT_ARGS)
    head = cli.event_count()
    follower = subprocess.Popen(
        [sys.executable, "-m", "ledger", "feed", "--follow", "--poll", "0.1", "--after", "1"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        received: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_read_lines, args=(follower.stdout, received), daemon=True).start()
        seen = [position_of(json.loads(received.get(timeout=15))) for _ in range(head - 1)]
        assert seen == list(range(2, head + 1))
        cli.run("ticket", "respond", "T-2026-000001", "--at", "2026-10-08T09:04")
        new = json.loads(received.get(timeout=15))
        assert (position_of(new), new["type"]) == (head + 1, "ledger.ticket.responded.v1")
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(timeout=15) == 0
    finally:
        follower.kill()
        follower.wait()
    stderr = follower.stderr.read() if follower.stderr else ""
    assert "Traceback" not in stderr
    assert f"feed stopped after position {head + 1} ({head} events)" in stderr
    assert received.empty()


# --------------------------------------------------------------------------- guarantees


def _write_tickets(url: str, seconds: float, results: Any) -> None:
    """A writer process: report and respond to tickets for ``seconds``."""
    desk = open_desk(url, create=False)
    written = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                ticket = desk.report()
                desk.do("respond", ticket=ticket.number)
                written += 1
            except ConcurrentChange:
                pass
    finally:
        desk.ledger.close()
    results.put(written)


def _tail(url: str, stop: threading.Event, seen: list[int], reads: list[int]) -> None:
    """A consumer: resume from the last position seen until the writers are done."""
    with Ledger.open(url) as ledger:
        after = 0
        while True:
            writers_done = stop.is_set()  # before the read: that read then sees everything
            page = read_feed(ledger, after=after, limit=50)
            seen.extend(positions(page))
            if page:
                after = position_of(page[-1])
                reads.append(len(page))
            elif writers_done:
                return
            else:
                time.sleep(0.005)


def test_a_tailing_reader_sees_every_position_once_while_processes_write(pg_url: str) -> None:
    desk = open_desk(pg_url)
    desk.ledger.close()
    stop = threading.Event()
    seen: list[int] = []
    reads: list[int] = []
    reader = threading.Thread(target=_tail, args=(pg_url, stop, seen, reads))
    reader.start()
    try:
        tickets = run_in_processes(_write_tickets, (pg_url, 3.0), count=3)
    finally:
        stop.set()
        reader.join(timeout=30)
    assert not reader.is_alive()
    with Ledger.open(pg_url) as ledger, ledger.engine.connect() as conn:
        head, _ = chain_head(conn)
        assert head == ledger.event_count()
    assert sum(tickets) >= 10 and all(tickets)
    assert seen == list(range(1, head + 1))  # no gap, no duplicate, in order
    assert len(reads) > 3  # it really tailed while the writers wrote


# --------------------------------------------------------------------------- the example


def run_consumer(db_url: str, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(CONSUMER), "--db", db_url, "--state", str(state), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def resolutions(state: Path) -> dict[str, int]:
    with sqlite3.connect(state) as db:
        return dict(db.execute("SELECT customer, count FROM resolutions"))


def test_example_consumer_resumes_after_a_crash_without_double_counting(
    db_url: str, tmp_path: Path
) -> None:
    q = Supervision(open_desk(db_url))
    q.served(customer="禹州市公安局")
    q.served(customer="禹州市公安局")
    q.served(customer="许昌市人民医院")
    state = tmp_path / "consumer.db"

    crashed = run_consumer(db_url, state, "--batch", "2", "--crash-after", "3")
    assert crashed.returncode == 3
    # Committed: the first page (report, resolution); lost: the third event, applied, uncommitted.
    assert resolutions(state) == {"禹州市公安局": 1}
    done = run_consumer(db_url, state, "--batch", "2")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["resolutions"] == {"禹州市公安局": 2, "许昌市人民医院": 1}

    q.served(customer="许昌市人民医院")
    again = json.loads(run_consumer(db_url, state).stdout)
    assert again["resolutions"] == {"禹州市公安局": 2, "许昌市人民医院": 2}
    assert again["position"] == q.ledger.event_count()
    assert json.loads(run_consumer(db_url, state).stdout) == again  # nothing new: no change
    q.ledger.close()


@settings(max_examples=300, deadline=None)
@given(
    originator_id=st.one_of(st.uuids(), st.text(max_size=40)),
    version=st.integers(min_value=0, max_value=2**64),
)
def test_event_ids_are_the_documented_uuid5(originator_id: UUID | str, version: int) -> None:
    """The fast event_id is exactly str(uuid5(namespace, "<originator_id>:<version>"))."""
    expected = str(uuid5(EVENT_ID_NAMESPACE, f"{originator_id}:{version}"))
    assert event_id(originator_id, version) == expected
    assert event_id(str(originator_id), version) == expected
