"""An example downstream service that follows the ledger through NATS JetStream instead of
polling its database (docs/feed.md, "At scale"): `ledger relay nats` publishes each event,
this consumer receives it.

It keeps every event it receives in its own SQLite database (``events``: the CloudEvent's
``id``, chain position, type and subject), through a **durable pull consumer with explicit
acks**: the server remembers, under the durable name, which messages were acknowledged, so
a restarted consumer (same ``--durable``) goes on with the first unacknowledged one.

    python examples/nats_consumer.py --url nats://127.0.0.1:4222 --state downstream.db
    python examples/nats_consumer.py --url nats://a:4222,nats://b:4222 --subject 'ledger.ticket.>'

Each message is acknowledged only after its row is committed. A crash between the commit and
the ack makes the server deliver that message again (after ``ack_wait``): the insert is keyed
by the CloudEvent ``id``, so the repeat changes nothing and is only counted as a duplicate.
That is how "at least once" from the broker becomes "exactly once" in the consumer's state.

``--max N`` stops after N messages (a restart, for the demonstration and the test);
``--idle SECONDS`` stops after that long without a message (default: run until Ctrl-C or
SIGTERM). When it stops it prints a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sqlite3
import sys

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,           -- the CloudEvent id (Nats-Msg-Id): one row per event
    position INTEGER NOT NULL,     -- the ledger's chain position (the CloudEvent sequence)
    type TEXT NOT NULL,
    subject TEXT
);
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="nats://HOST:PORT, several with commas")
    parser.add_argument("--stream", default="LEDGER")
    parser.add_argument("--durable", default="downstream", help="The consumer's durable name.")
    parser.add_argument("--subject", default="ledger.>", help="Which events (a NATS filter).")
    parser.add_argument("--state", required=True, help="This consumer's own SQLite file.")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--max", type=int, help="Stop after this many messages.")
    parser.add_argument("--idle", type=float, help="Stop after this long without a message.")
    return parser.parse_args(argv)


async def consume(args: argparse.Namespace) -> dict[str, int]:
    db = sqlite3.connect(args.state)
    db.executescript(SCHEMA)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    client = await nats.connect(servers=args.url.split(","), max_reconnect_attempts=-1)
    js = client.jetstream()
    sub = await js.pull_subscribe(
        args.subject,
        durable=args.durable,
        stream=args.stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, ack_wait=30
        ),
    )
    received = duplicates = 0
    idle = 0.0
    while not stop.is_set():
        wanted = args.batch if args.max is None else min(args.batch, args.max - received)
        if wanted <= 0:
            break
        try:
            messages = await sub.fetch(wanted, timeout=1)
        except NatsTimeout:
            idle += 1
            if args.idle is not None and idle >= args.idle:
                break
            continue
        idle = 0.0
        for msg in messages:
            event = json.loads(msg.data)
            with db:  # the side effect commits before the ack
                inserted = db.execute(
                    "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?)",
                    (event["id"], int(event["sequence"]), event["type"], event.get("subject")),
                ).rowcount
            await msg.ack_sync()  # the server confirms: no redelivery after a restart
            received += 1
            duplicates += 1 - inserted
    await client.close()
    stored, last = db.execute("SELECT count(*), coalesce(max(position), 0) FROM events").fetchone()
    db.close()
    return {
        "received": received,
        "duplicates": duplicates,
        "stored": stored,
        "last_position": last,
    }


def main(argv: list[str] | None = None) -> int:
    summary = asyncio.run(consume(parse_args(argv)))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
