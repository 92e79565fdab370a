"""``ledger relay nats``: the feed into NATS JetStream (``ledger/relay/``, docs/feed.md).

The ``nats`` client is imported inside the command, never when ``ledger --help`` loads."""

from __future__ import annotations

import click

from ledger.cli.support import FAILURE, LedgerGroup, Settings, fail, pass_settings, plural
from ledger.feed.cloudevents import FeedIntegrityError
from ledger.relay.messages import BadRelayOption, RelayError, check_prefix, check_stream_name


@click.group(cls=LedgerGroup)
def relay() -> None:
    """Relay the event feed into a message broker, each event exactly once, in order."""


@relay.command("nats")
@click.option(
    "--url",
    required=True,
    metavar="URL",
    help="NATS server(s): nats://HOST:PORT, several separated by commas (a cluster).",
)
@click.option("--stream", default="LEDGER", show_default=True, help="The JetStream stream.")
@click.option(
    "--subject-prefix",
    "prefix",
    default="ledger",
    show_default=True,
    help="Subjects are PREFIX.<aggregate>.<event>, e.g. ledger.ticket.responded.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1, max=4000),
    default=500,
    show_default=True,
    metavar="N",
    help="Events read and published (pipelined) per round.",
)
@click.option("--once", is_flag=True, help="Relay what is there, then exit (tests, cron).")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.05),
    default=0.5,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for new events when caught up.",
)
@click.option(
    "--replicas",
    type=click.IntRange(min=1, max=5),
    default=1,
    show_default=True,
    help="Replicas of a stream the relay creates (3 on a 3-node cluster).",
)
@click.option(
    "--retention",
    type=click.Choice(["limits", "interest"]),
    default="limits",
    show_default=True,
    help="Retention of a stream the relay creates: limits keeps every event; interest "
    "drops an event once every consumer has acknowledged it.",
)
@click.option(
    "--duplicate-window",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="JetStream's de-duplication window (Nats-Msg-Id) of a stream the relay creates.",
)
@pass_settings
def nats(
    settings: Settings,
    url: str,
    stream: str,
    prefix: str,
    batch: int,
    once: bool,
    poll: float,
    replicas: int,
    retention: str,
    duplicate_window: float,
) -> None:
    """Publish every event as its CloudEvent to the JetStream stream, in chain order.

    Goes on after the chain position of the stream's last message (the stream is the
    relay's memory); waits, backing off, while the broker is down; one relay per stream at
    a time (a second one waits). Ctrl-C or SIGTERM stop it between batches (docs/feed.md)."""
    from ledger.cli.support import stop_requested
    from ledger.relay.jetstream import RelayConfig, run_relay

    try:
        check_stream_name(stream)
        check_prefix(prefix)
    except BadRelayOption as e:
        fail(str(e))
    servers = [u.strip() for u in url.split(",") if u.strip()]
    if not servers or not all(u.startswith(("nats://", "tls://")) for u in servers):
        fail(f"--url {url!r}: give nats://HOST:PORT (or tls://), several separated by commas")
    config = RelayConfig(
        url=url,
        stream=stream,
        prefix=prefix,
        batch=batch,
        once=once,
        poll=poll,
        replicas=replicas,
        retention=retention,
        duplicate_window=duplicate_window,
    )

    def say(line: str) -> None:
        click.echo(f"relay: {line}", err=True)

    with stop_requested() as stop, settings.open() as ledger:
        try:
            outcome = run_relay(ledger, config, stop, say)
        except FeedIntegrityError as e:
            fail(str(e), FAILURE)
        except RelayError as e:
            fail(str(e), FAILURE)
    what = plural(outcome.relayed, "event")
    if outcome.stopped:
        say(f"stopped after position {outcome.mark.position} ({what} relayed)")
    else:
        say(f"relayed {what} into stream {stream}; it holds up to position {outcome.mark.position}")
