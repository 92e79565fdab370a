"""``ledger relay nats``: the stream's contents equal the feed's, in order, each event once,
after a clean run, the relay SIGKILLed at random points, the server stopped and started
again mid-run, and two relays at once; on SQLite and PostgreSQL. The relay runs as the
real command in a subprocess against a real nats-server (tests/nats_server.py) while this
process records events."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest
from click.testing import CliRunner
from nats.js.api import DeliverPolicy

from ledger.bootstrap import Ledger
from ledger.cli import cli as ledger_cli
from ledger.feed.cloudevents import MAX_LIMIT, read_feed
from ledger.relay.jetstream import Conflict, Relay, RelayConfig
from ledger.relay.messages import POSITION_HEADER, Mark, subject_for
from tests.nats_server import NatsServer
from tests.support import Desk, open_desk

REPO = Path(__file__).parents[2]
STREAM = "LEDGER"


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Stored:
    seq: int
    subject: str
    headers: dict[str, str]
    event: dict[str, Any]


async def _stream_messages(url: str, stream: str) -> list[Stored]:
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        if info.state.messages == 0:
            return []
        sub = await js.subscribe(
            ">", stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        out = []
        while len(out) < info.state.messages:
            msg = await sub.next_msg(timeout=10)
            out.append(
                Stored(
                    msg.metadata.sequence.stream,
                    msg.subject,
                    dict(msg.headers or {}),
                    orjson.loads(msg.data),
                )
            )
        await sub.unsubscribe()
        return out
    finally:
        await client.close()


def stream_messages(url: str, stream: str = STREAM, patience: float = 60) -> list[Stored]:
    """Read the whole stream; a cluster that just lost a node answers nothing until it has
    elected new leaders, so a timed-out request is tried again within ``patience``."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return asyncio.run(_stream_messages(url, stream))
        except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def stream_count(url: str, stream: str = STREAM) -> int:
    async def count() -> int:
        client = await nats.connect(url)
        try:
            try:
                info = await client.jetstream().stream_info(stream)
            except nats.js.errors.NotFoundError:
                return 0
            return int(info.state.messages)
        finally:
            await client.close()

    return asyncio.run(count())


def feed_of(url: str) -> list[dict[str, Any]]:
    with Ledger.open(url) as ledger:
        events: list[dict[str, Any]] = []
        while page := read_feed(
            ledger, after=int(events[-1]["sequence"]) if events else 0, limit=MAX_LIMIT
        ):
            events.extend(page)
        return events


def assert_stream_is_the_feed(nats_url: str, db_url: str) -> list[Stored]:
    """Every event once, in order, as its CloudEvent, with the documented subject and
    headers, in consecutive stream sequences."""
    stored = stream_messages(nats_url)
    feed = feed_of(db_url)
    assert feed, "nothing was recorded"
    assert [s.event["sequence"] for s in stored] == [e["sequence"] for e in feed]
    assert [s.event for s in stored] == feed
    assert [s.seq for s in stored] == list(range(1, len(feed) + 1))
    for s, e in zip(stored, feed, strict=True):
        assert s.subject == subject_for(e["type"])
        assert s.headers["Nats-Msg-Id"] == e["id"]
        assert s.headers[POSITION_HEADER] == str(int(e["sequence"]))
        assert s.headers["Content-Type"] == "application/cloudevents+json"
    return stored


def relay_argv(db_url: str, nats_url: str, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ledger",
        "--db",
        db_url,
        "relay",
        "nats",
        "--url",
        nats_url,
        "--stream",
        STREAM,
        *args,
    ]


def env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return base | {"PYTHONPATH": str(REPO)}


def start_relay(db_url: str, nats_url: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            relay_argv(db_url, nats_url, "--poll", "0.05", *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env(),
        )


def relay_once(db_url: str, nats_url: str) -> Any:
    """``ledger relay nats --once``, in this process (the subprocess runs are the ones
    that get killed)."""
    result = CliRunner().invoke(
        ledger_cli, ["--db", db_url, "relay", "nats", "--url", nats_url, "--once"]
    )
    assert result.exit_code == 0, result.output
    assert result.exception is None, result.exception
    return result


def wait_until(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def head(db_url: str) -> int:
    with Ledger.open(db_url) as ledger:
        return ledger.event_count()


class Writer:
    """Records tickets in a thread of this process until stopped."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._write, daemon=True)
        self.reports = 0

    def _write(self) -> None:
        while not self.halt.is_set():
            self.desk.report()
            self.reports += 1
            time.sleep(0.01)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.halt.set()
        self.thread.join(timeout=60)


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    d = open_desk(db_url)
    for _ in range(20):  # a backlog, so that the first relay has work at once
        d.report()
    yield d
    d.ledger.close()


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


# --------------------------------------------------------------------------- scenarios


def test_a_clean_run_puts_the_feed_in_the_stream_and_a_rerun_adds_nothing(
    db_url: str, desk: Desk, nats_server: NatsServer
) -> None:
    first = relay_once(db_url, nats_server.url)
    assert "created stream LEDGER" in first.stderr
    stored = assert_stream_is_the_feed(nats_server.url, db_url)
    assert f"relayed {len(stored)} events" in first.stderr

    again = relay_once(db_url, nats_server.url)
    assert "relayed 0 events" in again.stderr
    desk.report()
    relay_once(db_url, nats_server.url)
    assert len(assert_stream_is_the_feed(nats_server.url, db_url)) == len(stored) + 2


def test_sigkill_at_random_points_leaves_no_gap_and_no_duplicate(
    db_url: str, desk: Desk, nats_server: NatsServer, tmp_path: Path
) -> None:
    rng = random.Random(19)
    log = tmp_path / "relay.log"
    with Writer(desk):
        for _ in range(5):
            before = stream_count(nats_server.url)
            relay = start_relay(db_url, nats_server.url, log, "--batch", "7")
            try:
                wait_until(
                    lambda b=before: stream_count(nats_server.url) > b, "the relay to publish"
                )
                time.sleep(rng.uniform(0, 0.3))
            finally:
                relay.kill()
                relay.wait(timeout=30)
    relay_once(db_url, nats_server.url)
    assert_stream_is_the_feed(nats_server.url, db_url)
    assert "Traceback" not in log.read_text()


def test_the_broker_down_mid_run_is_waited_for_and_nothing_is_lost(
    db_url: str, desk: Desk, nats_server: NatsServer, tmp_path: Path
) -> None:
    log = tmp_path / "relay.log"
    relay = start_relay(db_url, nats_server.url, log, "--batch", "5")
    try:
        with Writer(desk):
            wait_until(lambda: stream_count(nats_server.url) > 0, "the relay to publish")
            nats_server.stop()
            time.sleep(1.5)  # the relay keeps reading events it cannot publish
            nats_server.start()
            time.sleep(0.5)
        target = head(db_url)
        wait_until(lambda: stream_count(nats_server.url) >= target, "the relay to catch up")
    finally:
        code = stop(relay)
    output = log.read_text()
    assert code == 0, output
    assert "NATS unavailable" in output
    assert "Traceback" not in output
    assert_stream_is_the_feed(nats_server.url, db_url)


def test_two_relays_at_once_one_publishes_the_other_waits_then_takes_over(
    db_url: str, desk: Desk, nats_server: NatsServer, tmp_path: Path
) -> None:
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    relays = [start_relay(db_url, nats_server.url, log, "--batch", "5") for log in logs]
    try:
        with Writer(desk):
            wait_until(
                lambda: any("waiting for it to stop" in log.read_text() for log in logs),
                "one relay to wait",
            )
            waiting = next(i for i, log in enumerate(logs) if "waiting" in log.read_text())
            relays[1 - waiting].kill()  # the active one dies mid-run
            wait_until(lambda: "taking over" in logs[waiting].read_text(), "the takeover")
        target = head(db_url)
        wait_until(lambda: stream_count(nats_server.url) >= target, "the relay to catch up")
    finally:
        for relay in relays:
            if relay.poll() is None:
                stop(relay)
    assert_stream_is_the_feed(nats_server.url, db_url)


def test_the_stream_refuses_a_publish_that_does_not_follow_its_last_message(
    sqlite_url: str, nats_server: NatsServer
) -> None:
    """The guard a second relay without the lock meets: a stale mark is refused by the
    server (Nats-Expected-Last-Sequence), nothing is stored twice, and the relay goes on
    from the stream's own last message. (The server's guard: one database is enough.)"""
    db_url = sqlite_url
    desk = open_desk(db_url)
    desk.report()
    relay_once(db_url, nats_server.url)
    stored = len(stream_messages(nats_server.url))
    relayed = desk.ledger.event_count()
    desk.report()  # new events, published as if the stream were still empty
    events = read_feed(desk.ledger, after=relayed, limit=3)
    assert events

    async def publish_stale() -> None:
        relay = Relay(desk.ledger, RelayConfig(url=nats_server.url), threading.Event(), print)
        client = await nats.connect(nats_server.url)
        try:
            await relay._stream(client.jetstream())
            with pytest.raises(Conflict, match="moved on past sequence 0"):
                await relay._publish(client, Mark(0, relayed), events)
        finally:
            await client.close()

    asyncio.run(publish_stale())
    assert len(stream_messages(nats_server.url)) == stored
    desk.ledger.close()
    relay_once(db_url, nats_server.url)
    assert_stream_is_the_feed(nats_server.url, db_url)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "http://127.0.0.1:4222"], "give nats://HOST:PORT"),
        (["--url", "nats://127.0.0.1:1", "--stream", "a.b"], "stream name 'a.b'"),
        (["--url", "nats://127.0.0.1:1", "--subject-prefix", "ledger.>"], "subject prefix"),
        (["--url", "nats://127.0.0.1:1", "--batch", "0"], "--batch"),
    ],
)
def test_bad_options_are_refused_before_connecting(
    sqlite_url: str, args: list[str], message: str
) -> None:
    CliRunner().invoke(ledger_cli, ["--db", sqlite_url, "init"])
    result = CliRunner().invoke(ledger_cli, ["--db", sqlite_url, "relay", "nats", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_stream_holding_another_ledgers_events_is_refused(
    sqlite_url: str, tmp_path: Path, nats_server: NatsServer
) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    for url, customer in ((sqlite_url, "禹州市公安局"), (other, "许昌市人民医院")):
        d = open_desk(url)
        d.report(customer=customer)
        d.ledger.close()
    relay_once(other, nats_server.url)
    done = CliRunner().invoke(
        ledger_cli, ["--db", sqlite_url, "relay", "nats", "--url", nats_server.url, "--once"]
    )
    assert done.exit_code == 1
    assert "holds another ledger's events" in done.stderr
    assert done.exception is None or isinstance(done.exception, SystemExit)


# --------------------------------------------------------------------------- the example

CONSUMER = REPO / "examples" / "nats_consumer.py"


def run_consumer(nats_url: str, state: Path, *args: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, str(CONSUMER), "--url", nats_url, "--state", str(state), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary: dict[str, int] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return summary


def test_example_consumer_gets_every_event_once_across_a_restart(
    sqlite_url: str, nats_server: NatsServer, tmp_path: Path
) -> None:
    d = open_desk(sqlite_url)
    for _ in range(4):
        d.report()
    relay_once(sqlite_url, nats_server.url)
    state = tmp_path / "downstream.db"

    first = run_consumer(nats_server.url, state, "--max", "7", "--batch", "3")
    assert first["received"] == 7
    second = run_consumer(nats_server.url, state, "--idle", "1")  # the restart goes on
    feed = feed_of(sqlite_url)
    assert second["received"] == len(feed) - 7
    assert second["duplicates"] == 0
    assert second["stored"] == len(feed)

    d.report()  # later events reach the same durable consumer
    d.ledger.close()
    relay_once(sqlite_url, nats_server.url)
    third = run_consumer(nats_server.url, state, "--idle", "1")
    feed = feed_of(sqlite_url)
    assert third["received"] == 2
    assert third["last_position"] == len(feed)
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT id, position FROM events ORDER BY position").fetchall()
    assert rows == [(e["id"], int(e["sequence"])) for e in feed]


# --------------------------------------------------------------------------- docs/feed.md

DOC = REPO / "docs" / "feed.md"


def doc_env() -> dict[str, str]:
    """The docs' shell: the virtualenv's ``ledger`` and ``python`` first on PATH."""
    bin_dir = Path(sys.executable).parent
    return env() | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def docs_ledger(tmp_path: Path) -> str:
    """A ledger at ``ledger.db`` in ``tmp_path`` (the docs' default), with a few events,
    and ``examples/`` beside it."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    d = open_desk(url)
    d.report()
    d.ledger.close()
    (tmp_path / "examples").symlink_to(REPO / "examples")
    return url


def test_feed_md_one_machine_block_runs_as_written(tmp_path: Path, nats_server: NatsServer) -> None:
    from tests.e2e.test_docs_examples import section_blocks

    url = docs_ledger(tmp_path)
    nats_server.stop()  # the block starts its own server; only its free port is borrowed
    (block,) = section_blocks(DOC, "On one machine")
    script = block.replace(":4222", f":{nats_server.port}").replace(
        "-p 4222", f"-p {nats_server.port}"
    )
    done = subprocess.run(
        ["bash", "-c", f"set -e\ntrap 'kill $(jobs -p)' EXIT\n{script}"],
        cwd=tmp_path,
        env=doc_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert summary["received"] == summary["stored"] == len(feed_of(url))
    assert summary["duplicates"] == 0


def _cluster_configs(tmp_path: Path, ports: dict[int, int]) -> list[Path]:
    """docs/feed.md's n1.conf as written, and n2, n3 as its text says, on free ports."""
    text = DOC.read_text(encoding="utf-8")
    n1 = text[text.index("# n1.conf\n") : text.index("```", text.index("# n1.conf\n"))]
    paths = []
    for i in (1, 2, 3):
        conf = n1.replace("server_name: n1", f"server_name: n{i}")
        conf = conf.replace('"nats-n1"', f'"nats-n{i}"')
        conf = conf.replace("listen: 127.0.0.1:4222", f"listen: 127.0.0.1:{4221 + i}")
        conf = conf.replace("listen: 127.0.0.1:6222", f"listen: 127.0.0.1:{6221 + i}")
        for doc_port, free in ports.items():
            conf = conf.replace(f":{doc_port}", f":{free}")
        path = tmp_path / f"n{i}.conf"
        path.write_text(conf, encoding="utf-8")
        paths.append(path)
    return paths


def test_feed_md_three_node_cluster_keeps_every_event_when_a_node_dies(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    from tests.e2e.test_docs_examples import commands, section_blocks
    from tests.nats_server import _free_port

    url = docs_ledger(tmp_path)
    nats_server.stop()  # a cluster of three instead
    ports = {p: _free_port() for p in (4222, 4223, 4224, 6222, 6223, 6224)}
    _cluster_configs(tmp_path, ports)
    (block,) = section_blocks(DOC, "A three-node cluster")
    lines = [c.split("#")[0].strip() for c in commands(block)]
    starts, relay_line = lines[:3], lines[3]
    assert all(s.startswith("nats-server -c n") and s.endswith("&") for s in starts)
    servers = []
    try:
        for i, line in enumerate(starts, 1):
            with (tmp_path / f"n{i}.log").open("wb") as log:
                servers.append(
                    subprocess.Popen(line.rstrip("&").split(), cwd=tmp_path, stdout=log, stderr=log)
                )
        wait_until(
            lambda: all(
                "metadata leader" in (tmp_path / f"n{i}.log").read_text() for i in (1, 2, 3)
            ),
            "the cluster to elect a JetStream leader",
        )
        for doc_port, free in ports.items():
            relay_line = relay_line.replace(f":{doc_port}", f":{free}")

        def relay() -> None:
            done = subprocess.run(
                ["bash", "-c", relay_line],
                cwd=tmp_path,
                env=doc_env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            assert "Traceback" not in done.stderr

        relay()
        survivor = f"nats://127.0.0.1:{ports[4224]}"
        assert_stream_is_the_feed(survivor, url)

        servers[0].kill()  # one node dies; the other two go on
        d = open_desk(url, create=False)
        d.report()
        d.ledger.close()
        relay()
        assert_stream_is_the_feed(survivor, url)
    finally:
        for server in servers:
            server.kill()
            server.wait()
