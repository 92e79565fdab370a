"""An example downstream consumer of the ledger's event feed (docs/feed.md).

It counts ticket resolutions per customer in its own SQLite database, and keeps its
position in the feed in that same database, updated in the same transaction as the counts.
So after a crash — at any instant — the counts and the position agree: the transaction
either committed both or neither, and the next run resumes from the committed position,
re-reading the events whose effects were lost. No event is counted twice or missed.

    python examples/consumer.py --db sqlite:///ledger.db --state consumer.db
    python examples/consumer.py --db postgresql://.../ledger --state consumer.db --follow

``--db`` (or ``LEDGER_DB``) is the ledger (a read-only role is enough); ``--state`` the
consumer's own database. ``--follow`` keeps polling until Ctrl-C or SIGTERM. It prints the
counts as JSON when it stops. ``--crash-after N`` simulates a crash (the process dies
without committing) after applying N events, to show the resumption.

Why it works:

* ``sequence`` is the ledger's chain position: gap-free and commit-ordered, so "every event
  after position p" is a well-defined, final set once p is seen.
* Asking for ``after = stored position`` returns each later event exactly once, in order.
* It reads only two types (``--type`` on the CLI, ``types=`` here). ``FeedPage.last_position``
  is how far the read went, which may be past the last event it returned: storing it
  spares scanning the skipped events again. Storing the last event's ``sequence`` instead
  would be correct too.
* The feed read happens inside the consumer's write transaction (``BEGIN IMMEDIATE``), so
  two copies of this consumer on the same state file take turns instead of both applying
  the same page.

A consumer written against the CLI is the same loop around
``ledger feed --after POSITION --limit N --type ...``, taking ``int(line["sequence"])``
of the last line as the next position.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import threading
from typing import Any

from ledger.bootstrap import Ledger
from ledger.feed import feed_instance, read_feed_page

REPORTED = "ledger.ticket.reported.v1"
RESOLVED = "ledger.ticket.resolved.v1"
UNKNOWN_CUSTOMER = "(reported before this consumer's start)"

SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_position (
    source TEXT PRIMARY KEY,          -- the feed's CloudEvents source: one row per ledger
    position INTEGER NOT NULL         -- last chain position applied
);
CREATE TABLE IF NOT EXISTS ticket_customer (ticket TEXT PRIMARY KEY, customer TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resolutions (customer TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""


def open_state(path: str) -> sqlite3.Connection:
    # isolation_level=None: transactions are ours, begun and committed explicitly below.
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.executescript(SCHEMA)
    return db


def apply(db: sqlite3.Connection, event: dict[str, Any]) -> None:
    """The side effect of one event (inside the caller's transaction)."""
    if event["type"] == REPORTED:
        db.execute(
            "INSERT INTO ticket_customer (ticket, customer) VALUES (?, ?)",
            (event["subject"], event["data"]["customer"]),
        )
    elif event["type"] == RESOLVED:
        row = db.execute(
            "SELECT customer FROM ticket_customer WHERE ticket = ?", (event["subject"],)
        ).fetchone()
        db.execute(
            "INSERT INTO resolutions (customer, count) VALUES (?, 1) "
            "ON CONFLICT (customer) DO UPDATE SET count = count + 1",
            (row[0] if row else UNKNOWN_CUSTOMER,),
        )


def consume_page(
    ledger: Ledger, db: sqlite3.Connection, source: str, batch: int, crash_after: int | None
) -> int:
    """Apply the next page of events and move the position, in one transaction. Returns
    how many events were applied."""
    db.execute("BEGIN IMMEDIATE")
    try:
        after = stored_position(db, source)
        page = read_feed_page(ledger, after=after, limit=batch, types=(REPORTED, RESOLVED))
        for applied, event in enumerate(page.events):
            if applied == crash_after:
                os._exit(3)  # a crash: nothing of this transaction is committed
            apply(db, event)
        if page.last_position > after:
            db.execute(
                "INSERT INTO feed_position (source, position) VALUES (?, ?) "
                "ON CONFLICT (source) DO UPDATE SET position = excluded.position",
                (source, page.last_position),
            )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(page.events)


def stored_position(db: sqlite3.Connection, source: str) -> int:
    row = db.execute("SELECT position FROM feed_position WHERE source = ?", (source,)).fetchone()
    return int(row[0]) if row else 0


def summary(db: sqlite3.Connection, source: str) -> dict[str, Any]:
    counts = dict(db.execute("SELECT customer, count FROM resolutions ORDER BY customer"))
    return {"source": source, "position": stored_position(db, source), "resolutions": counts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("LEDGER_DB"), help="the ledger's URL")
    parser.add_argument("--state", required=True, help="this consumer's SQLite database file")
    parser.add_argument("--batch", type=int, default=100, help="events per transaction")
    parser.add_argument("--follow", action="store_true", help="keep polling for new events")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls")
    parser.add_argument(
        "--crash-after", type=int, help="die, uncommitted, after applying N more events"
    )
    args = parser.parse_args(argv)
    if not args.db:
        parser.error("--db (or LEDGER_DB) is required")

    stop = threading.Event()  # Ctrl-C and SIGTERM stop between transactions
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    db = open_state(args.state)
    remaining = args.crash_after
    with Ledger.open(args.db) as ledger:
        source = f"/ledger/{feed_instance(ledger)}"
        while not stop.is_set():
            applied = consume_page(ledger, db, source, args.batch, remaining)
            if remaining is not None:
                remaining -= applied
            if applied < args.batch and (not args.follow or stop.wait(args.poll)):
                break
        print(json.dumps(summary(db, source), ensure_ascii=False))
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
