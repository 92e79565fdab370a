"""``ledger feed`` (the CloudEvents feed as JSON lines) and ``ledger schema export``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import orjson

from ledger.bounds import MAX_POSITION
from ledger.cli.support import (
    FAILURE,
    LedgerGroup,
    Settings,
    fail,
    pass_settings,
    plural,
    stop_requested,
)
from ledger.feed.cloudevents import (
    BadFeedRequest,
    FeedIntegrityError,
    read_feed_page,
    topics_for,
)

PAGE = 500
"""Events read per query."""


@click.command()
@click.option(
    "--after",
    type=click.IntRange(min=0, max=MAX_POSITION),
    default=0,
    show_default=True,
    metavar="POSITION",
    help="Start after this chain position (the `sequence` of the last event you processed).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Write at most N events, then exit (default: all of them).",
)
@click.option("--follow", is_flag=True, help="Keep writing new events until Ctrl-C or SIGTERM.")
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="PATTERN",
    help="Only events whose type matches (e.g. 'ledger.ticket.*'); repeat for several.",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="With --follow: how long to wait when caught up.",
)
@pass_settings
def feed(
    settings: Settings,
    after: int,
    limit: int | None,
    follow: bool,
    types: tuple[str, ...],
    poll: float,
) -> None:
    """Write events as CloudEvents 1.0 JSON, one object per line, in chain order.

    Resume with --after set to the `sequence` of the last line you processed: every later
    event comes exactly once, in order (docs/feed.md)."""
    try:
        topics_for(types)
    except BadFeedRequest as e:
        fail(f"--type: {e}")
    written = 0
    with stop_requested() as stop, settings.open() as ledger:
        while not stop.is_set():
            wanted = PAGE if limit is None else min(PAGE, limit - written)
            try:
                page = read_feed_page(ledger, after=after, limit=wanted, types=types)
            except BadFeedRequest as e:
                fail(str(e))
            except FeedIntegrityError as e:
                fail(str(e), FAILURE)
            for event in page.events:
                _write_line(orjson.dumps(event) + b"\n")
            written += len(page.events)
            after = page.last_position
            if limit is not None and written >= limit:
                break
            if len(page.events) < wanted and (not follow or stop.wait(poll)):
                break
    if follow or stop.is_set():
        click.echo(f"feed stopped after position {after} ({plural(written, 'event')})", err=True)


def _write_line(line: bytes) -> None:
    """One line, flushed, so a reader of a pipe sees each event as it comes. A reader that
    goes away (``| head``) ends the feed quietly."""
    try:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)


@click.group(cls=LedgerGroup)
def schema() -> None:
    """JSON Schemas of the feed's events."""


@schema.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schema_export(directory: Path) -> None:
    """Write one JSON Schema per event type (named by its CloudEvents type), the CloudEvent
    envelope's schema (cloudevent.json) and index.json into DIRECTORY."""
    from ledger.feed.schemas import export_schemas

    written = export_schemas(directory)
    click.echo(f"wrote {plural(len(written), 'file')} to {directory}")
