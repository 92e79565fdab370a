"""``ledger notify ...``: the routing rules, the notifier process and its delivery log
(docs/notifications.md)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from ledger.cli.support import (
    LedgerGroup,
    Settings,
    console,
    fail,
    file_problems,
    json_option,
    pass_settings,
    print_json,
    stop_requested,
    who_options,
)
from ledger.commands.models import CommandError
from ledger.domain.errors import Unchanged
from ledger.domain.values import Role

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger
    from ledger.notify.notifier import Notifier


@click.group(cls=LedgerGroup)
def notify() -> None:
    """Notifications (通知): escalations, at-risk warnings and notices pushed to WeCom,
    DingTalk, Feishu, e-mail and signed webhooks."""


@notify.group("rules", cls=LedgerGroup)
def rules() -> None:
    """The routing rules: which events go to which channel and people."""


@rules.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@who_options
@json_option
@pass_settings
def rules_load(settings: Settings, file: Path, actor: str, role: str, as_json: bool) -> None:
    """Record the rules of a TOML FILE as the routing in force (admin only). A bad file
    lists each problem as FILE: key.path: message and records nothing."""
    from ledger.commands.notify_rules import NotificationRules, read_rules_file

    try:
        rule_set = read_rules_file(file)
    except CommandError as e:
        file_problems(e)
    with settings.open() as ledger:
        service = NotificationRules(ledger.app, ledger.clock)
        try:
            service.load(rule_set, actor=actor, role=Role(role))
            outcome = "loaded"
        except Unchanged:
            outcome = "unchanged"
        routing = service.routing()
    assert routing is not None
    view: dict[str, Any] = {
        "outcome": outcome,
        "version": routing.version,
        "rules": len(routing.rules.rules),
        "channels": sorted(routing.rules.channels),
        "at_risk": list(routing.rules.at_risk_thresholds()),
    }
    if as_json:
        print_json(view)
        return
    click.echo(
        f"notification rules {outcome} (version {view['version']}): {view['rules']} rule(s), "
        f"channels {', '.join(view['channels']) or '-'}, at-risk warnings at "
        f"{', '.join(f'{p}%' for p in view['at_risk'])}"
    )


@rules.command("show")
@pass_settings
def rules_show(settings: Settings) -> None:
    """The rules in force, as JSON (who loaded each version: `ledger feed --type
    'ledger.notification_rules.*'`)."""
    from ledger.commands.notify_rules import NotificationRules

    with settings.open() as ledger:
        routing = NotificationRules(ledger.app, ledger.clock).routing()
    if routing is None:
        fail("no notification rules loaded: `ledger notify rules load FILE.toml`")
    print_json(
        {
            "version": routing.version,
            "loaded_at": routing.modified_on.isoformat(),
            "rules": routing.rules.model_dump(mode="json"),
        }
    )


def make_notifier(ledger: Ledger, **options: Any) -> Notifier:
    """A notifier on an open ledger (also used by ``ledger serve --notify``)."""
    from ledger.notify.notifier import Notifier

    return Notifier(
        ledger.engine,
        ledger.app,
        ledger.app.mapper,  # type: ignore[arg-type]
        ledger.location.events_table,
        ledger.tz,
        **{k: v for k, v in options.items() if v is not None},
    )


def _schedule(_: click.Context, __: click.Parameter, value: str | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    from ledger.notify.notifier import parse_schedule

    try:
        return parse_schedule(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@notify.command("run")
@click.option("--once", is_flag=True, help="Decide what is new, send what is due, and stop.")
@click.option(
    "--retry-schedule",
    callback=_schedule,
    metavar="SECONDS,...",
    help="Delay before each try (default Standard Webhooks': 0,5,300,1800,7200,18000,36000,36000).",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.01),
    metavar="SECONDS",
    help="SQLite: how often to look for new events (default 0.5). PostgreSQL needs no "
    "poll: a trigger NOTIFYs the notifier of every insert.",
)
@click.option(
    "--lease",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="How long a claimed message is left to its sender before it is sent again (60).",
)
@pass_settings
def run(
    settings: Settings,
    once: bool,
    retry_schedule: tuple[float, ...] | None,
    poll: float | None,
    lease: float | None,
) -> None:
    """Follow the log and deliver notifications until Ctrl-C or SIGTERM (or --once)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with settings.open() as ledger:
        notifier = make_notifier(ledger, schedule=retry_schedule, poll=poll, lease=lease)
        if once:
            decided, tried = notifier.run_once()
            click.echo(f"decided {decided} event(s), tried {tried} message(s)")
            return
        with stop_requested() as stop:
            notifier.run(stop)


def _when(value: float | None, settings: Settings) -> str:
    if value is None:
        return ""
    return datetime.fromtimestamp(value, UTC).astimezone(settings.tz).isoformat(timespec="seconds")


@notify.command("deliveries")
@click.option("--dead", is_flag=True, help="Only the messages that failed their last try.")
@click.option("--limit", type=click.IntRange(1, 10000), default=200, show_default=True)
@json_option
@pass_settings
def deliveries_list(settings: Settings, dead: bool, limit: int, as_json: bool) -> None:
    """The delivery log, newest first: status, attempts, last response."""
    from ledger.notify import log

    with settings.open() as ledger:
        log.ensure_tables(ledger.engine)
        found = log.list_deliveries(ledger.engine, status=log.DEAD if dead else None, limit=limit)
    views = [
        d.view()
        | {k: _when(getattr(d, k), settings) for k in ("created_at", "next_try", "delivered_at")}
        | {"title": json.loads(d.payload)["title"]}
        for d in found
    ]
    if as_json:
        print_json(views)
        return
    table = Table(title=f"{len(views)} deliver{'y' if len(views) == 1 else 'ies'}")
    for column in (
        "message_id",
        "ticket",
        "channel",
        "target",
        "status",
        "attempts",
        "code",
        "error",
    ):
        table.add_column(column)
    for v in views:
        table.add_row(
            v["message_id"],
            v["ticket"] or "",
            v["channel"],
            v["target"],
            v["status"],
            str(v["attempts"]),
            "" if v["last_code"] is None else str(v["last_code"]),
            v["last_error"] or "",
        )
    console().print(table)


@notify.command("replay")
@click.argument("message_id", required=False)
@click.option("--dead", is_flag=True, help="Every dead message.")
@pass_settings
def replay(settings: Settings, message_id: str | None, dead: bool) -> None:
    """Send a message again (same id: receivers drop a repeat), or every dead one; its
    channel is enabled again if it had answered 410. The notifier sends it."""
    import time

    from ledger.notify import log

    if (message_id is None) == (not dead):
        fail("give a MESSAGE_ID or --dead (not both)")
    with settings.open() as ledger:
        log.ensure_tables(ledger.engine)
        if message_id is not None:
            if log.get_delivery(ledger.engine, message_id) is None:
                fail(f"no message {message_id} (see `ledger notify deliveries`)")
            ids = [message_id]
        else:
            ids = log.dead_ids(ledger.engine)
        queued = log.replay(ledger.engine, ids, time.time())
    click.echo(f"queued {queued} message(s) to send again")
