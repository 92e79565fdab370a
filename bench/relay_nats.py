"""``relay_nats`` in ``make bench``: ``ledger relay nats`` against raw JetStream publishing of
the same messages from the same client, in the same run (docs/performance.md).

On the bench's store (its whole history already recorded), against a throwaway
``nats-server -js`` started as the tests start theirs (tests/nats_server.py):

* ``relay_events_per_s``: the relay (``ledger.relay.jetstream.Relay``, in this process, as the
  command runs it) takes the whole log into a new stream: feed pages read, CloudEvents built,
  published pipelined ``--batch`` at a time with the exactly-once headers, acks awaited, its
  position saved after each batch;
* ``raw_events_per_s``: the same messages (bodies, subjects, headers; built beforehand, not
  timed) published by nats-py's JetStream client into another stream, ``batch`` at a time,
  pipelined, acks awaited: the ``nats bench``-style ceiling of this client and server;
* ``lag_ms``: with the relay following (``--poll`` 0.05 s), tickets reported one by one
  through the application service on the real clock; per event, the time it is stored in the
  stream (the server's timestamp) minus its ``recordedtime``: p50 / p99 / max.

Usage: ``python -m bench.relay_nats [--db URL]`` runs it alone on an existing ledger (a
throwaway SQLite one with the seed contracts when no ``--db``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import Any

LAG_REPORTS = 100
"""Tickets reported while the relay follows (two or three events each)."""
LAG_PACE = 0.02
"""Seconds between those reports."""
BATCH = 500


class NatsUnavailable(RuntimeError):
    pass


def _server(root: Path) -> Any:
    from tests.nats_server import NatsServer, find_nats_server

    binary = find_nats_server()
    if binary is None:
        raise NatsUnavailable("no nats-server (Debian's `nats-server` package)")
    server = NatsServer(binary, root)
    server.start()
    return server


def _messages(ledger: Any) -> list[Any]:
    from ledger.feed.cloudevents import read_feed_page
    from ledger.relay.messages import message_for

    out: list[Any] = []
    after = 0
    while page := read_feed_page(ledger, after=after, limit=BATCH).events:
        base = len(out)
        out.extend(message_for(e, "raw", base + i) for i, e in enumerate(page))
        after = int(page[-1]["sequence"])
    return out


async def _raw_publish(url: str, messages: list[Any]) -> float:
    import nats
    from nats.js.api import StreamConfig

    client = await nats.connect(url)
    js = client.jetstream(timeout=30)
    await js.add_stream(StreamConfig(name="BENCH_RAW", subjects=["raw.>"]))
    start = perf_counter()
    for i in range(0, len(messages), BATCH):
        futures = [
            await js.publish_async(m.subject, m.body, headers=dict(m.headers), stream="BENCH_RAW")
            for m in messages[i : i + BATCH]
        ]
        for ack in await asyncio.gather(*futures):
            assert not ack.duplicate
    seconds = perf_counter() - start
    await client.close()
    return seconds


async def _stored_times(url: str, stream: str, first_seq: int) -> dict[int, datetime]:
    """Chain position → when the stream stored it, for the messages from ``first_seq`` on."""
    import nats
    from nats.js.api import ConsumerConfig, DeliverPolicy

    client = await nats.connect(url)
    js = client.jetstream()
    last = (await js.stream_info(stream)).state.last_seq
    sub = await js.subscribe(
        ">",
        stream=stream,
        ordered_consumer=True,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first_seq
        ),
    )
    times: dict[int, datetime] = {}
    seq = first_seq - 1
    while seq < last:
        msg = await sub.next_msg(timeout=10)
        seq = msg.metadata.sequence.stream
        times[int((msg.headers or {})["Ledger-Position"])] = msg.metadata.timestamp
    await client.close()
    return times


async def _last_seq(url: str, stream: str) -> int:
    import nats

    client = await nats.connect(url)
    last = int((await client.jetstream().stream_info(stream)).state.last_seq)
    await client.close()
    return last


def _relay(ledger: Any, url: str, stream: str, *, once: bool, stop: threading.Event) -> Any:
    from ledger.relay.jetstream import RelayConfig, run_relay

    config = RelayConfig(url=url, stream=stream, once=once, poll=0.05, batch=BATCH)
    return run_relay(ledger, config, stop, lambda _line: None)


def _report_tickets(ledger: Any, count: int, pace: float = LAG_PACE) -> None:
    """Tickets reported one by one, as ``ledger ticket report`` does, on the real clock."""
    from ledger.commands.registry import parse_command

    command = {
        "command": "report",
        "actor": "李娜",
        "role": "dispatcher",
        "contract": "seed-002",
        "customer": "禹州市公安局",
        "contact_name": "张三",
        "contact_phone": "13800138001",
        "site": "禹州市看守所监控中心",
        "device": "门禁控制器",
        "severity": "emergency",
        "description": "门禁控制器无法开机",
    }
    for _ in range(count):
        ledger.tickets.execute(parse_command(command, ledger.tz), retries=3)
        time.sleep(pace)


def measure_relay_nats(url: str) -> dict[str, Any]:
    """The figures above, on the ledger at ``url`` (which gains the lag phase's tickets)."""
    from bench.run import distribution, rate, ratio
    from ledger.bootstrap import Ledger
    from ledger.clock import SystemClock
    from ledger.feed.cloudevents import read_feed

    root = Path(tempfile.mkdtemp(prefix="ledger-bench-nats-"))
    server = _server(root)
    try:
        with Ledger.open(url, clock=SystemClock()) as ledger:
            messages = _messages(ledger)
            start = perf_counter()
            outcome = _relay(ledger, server.url, "BENCH_RELAY", once=True, stop=threading.Event())
            relay_seconds = perf_counter() - start
            assert outcome.relayed == len(messages)
            raw_seconds = asyncio.run(_raw_publish(server.url, messages))

            stop = threading.Event()
            follower = threading.Thread(
                target=_relay,
                args=(ledger, server.url, "BENCH_RELAY"),
                kwargs={"once": False, "stop": stop},
            )
            follower.start()
            try:
                _report_tickets(ledger, LAG_REPORTS)
                last = ledger.event_count()
                deadline = time.monotonic() + 60
                while asyncio.run(_last_seq(server.url, "BENCH_RELAY")) < last:
                    if time.monotonic() > deadline:
                        raise NatsUnavailable("the relay did not catch up within 60 s")
                    time.sleep(0.1)
            finally:
                stop.set()
                follower.join(timeout=60)
            lag_events = read_feed(ledger, after=len(messages), limit=10_000)
        stored = asyncio.run(_stored_times(server.url, "BENCH_RELAY", len(messages) + 1))
        lags = [
            (stored[int(e["sequence"])] - datetime.fromisoformat(e["recordedtime"])).total_seconds()
            * 1000
            for e in lag_events
        ]
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    relay_rate = rate(len(messages), relay_seconds)
    raw_rate = rate(len(messages), raw_seconds)
    return {
        "events": len(messages),
        "batch": BATCH,
        "relay_seconds": round(relay_seconds, 3),
        "relay_events_per_s": relay_rate,
        "raw_seconds": round(raw_seconds, 3),
        "raw_events_per_s": raw_rate,
        "relay_vs_raw": ratio(relay_rate, raw_rate),
        "lag_ms": distribution(lags),
        "lag_poll_ms": 50,
    }


def figures(url: str, progress: Callable[[str], None]) -> dict[str, Any]:
    """:func:`measure_relay_nats`, or why it was skipped (no nats-server here)."""
    try:
        return measure_relay_nats(url)
    except NatsUnavailable as e:
        progress(f"  relay nats skipped: {e}")
        return {"skipped": str(e)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="A ledger URL (default: a new SQLite ledger).")
    parser.add_argument("--tickets", type=int, default=500, help="Tickets in a new ledger.")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ledger-bench-relay-"))
    try:
        url = args.db
        if url is None:
            url = f"sqlite:///{workdir / 'ledger.db'}"
            from ledger.bootstrap import Ledger
            from tests.support import load_seed_contracts

            with Ledger.open(url, create=True) as ledger:
                load_seed_contracts(ledger)
                _report_tickets(ledger, args.tickets, pace=0)
        print(json.dumps(measure_relay_nats(url), indent=2))
    except NatsUnavailable as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
