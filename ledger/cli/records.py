"""Plumbing shared by the commands on records: tickets (``ledger ticket``), return visits
(``ledger visit``), corrective actions (``ledger action``) and complaints (``ledger
complaint``): how a record, its history and a list are printed, and how a quality
command's options become a command."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import click
import orjson
from rich.table import Table

from ledger.cli.support import (
    Settings,
    actor_options,
    console,
    json_option,
    model_options,
    pass_settings,
    print_json,
)
from ledger.commands.models import Command
from ledger.commands.quality import Record
from ledger.commands.registry import QUALITY_COMMANDS, parse_quality_command
from ledger.domain.corrective_action import CorrectiveAction
from ledger.domain.numbering import Series
from ledger.presenters.quality import record_view, row_view
from ledger.presenters.tickets import event_view


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_cell(item) for item in value)
    return str(value)


def print_view(title: str, view: dict[str, Any]) -> None:
    """A record's ``show`` as a two-column table (nested values on one line)."""
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in view.items():
        table.add_row(key, _cell(value))
    console().print(table)


def print_history(title: str, events: Sequence[dict[str, Any]]) -> None:
    """A record's events (``event_view`` shapes), one row each."""
    table = Table(title=title)
    for column in ("#", "type", "occurred_at", "recorded_at", "actor", "role", "data"):
        table.add_column(column, overflow="fold")
    for e in events:
        data = ", ".join(
            f"{k}={orjson.dumps(v).decode() if isinstance(v, dict | list) else v}"
            for k, v in e["data"].items()
            if v is not None
        )
        table.add_row(
            str(e["version"]),
            e["type"],
            e["occurred_at"],
            e["recorded_at"],
            e["actor"],
            e["role"],
            data,
        )
    console().print(table)


def print_rows(title: str, rows: Sequence[dict[str, Any]], columns: Iterable[str]) -> None:
    table = Table(title=title)
    chosen = tuple(columns)
    for column in chosen:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row[c]) for c in chosen))
    console().print(table)


# --------------------------------------------------------------------------- quality records


def record_state(record: Record) -> str:
    """Where a record stands: a visit's or complaint's status, an action's stage."""
    if isinstance(record, CorrectiveAction):
        return record.stage.value
    return record.status.value


def run_quality_command(settings: Settings, data: dict[str, Any], as_json: bool) -> None:
    """Validate and apply one quality command; print the record (and what else the
    command did: links, a reopened ticket, or why a ticket was not reopened)."""
    data = {k: v for k, v in data.items() if v is not None and v != ()}
    command = parse_quality_command(data, settings.tz)
    with settings.open() as ledger:
        outcome = ledger.quality.execute(command, retries=1)
        now = ledger.clock.now()
    record = outcome.record
    if as_json:
        print_json(record_view(record, settings.tz, now) | {"notes": list(outcome.notes)})
        return
    click.echo(f"{record.number} {record_state(record)} (version {record.version})")
    for note in outcome.notes:
        click.echo(f"  {note}")


def quality_commands(group: click.Group, prefix: str) -> None:
    """Register ``ledger GROUP NAME`` for every quality command ``PREFIX_NAME`` of the
    registry (dashes for underscores): the model's fields are its options (the record's
    number its argument), its docstring the help."""
    for command, entry in QUALITY_COMMANDS.items():
        if command.startswith(prefix + "_") and not entry.upload:  # attach: cli/evidence.py
            _quality_command(group, command, entry.model)


def _quality_command(group: click.Group, command: str, model: type[Command]) -> None:
    help_text = " ".join((model.__doc__ or "").split())

    def run(settings: Settings, /, **options: Any) -> None:
        as_json = options.pop("as_json", False)
        run_quality_command(settings, {"command": command, **options}, as_json)

    run.__name__ = run.__qualname__ = command
    run.__doc__ = help_text
    subject = getattr(model, "subject", None)
    params = model_options(model, arguments=(subject,) if isinstance(subject, str) else ())
    name = command.split("_", 1)[1].replace("_", "-")
    group.command(name, help=help_text)(json_option(actor_options(pass_settings(params(run)))))


def show_command(group: click.Group, argument: str, series: Series) -> None:
    """``ledger GROUP show NUMBER``: the record's current state, rebuilt from its events."""

    @group.command("show", help=f"Show a {series.noun}'s current state, rebuilt from its events.")
    @click.argument(argument)
    @json_option
    @pass_settings
    def show(settings: Settings, /, as_json: bool, **number: str) -> None:
        with settings.open() as ledger:
            record = ledger.quality.get(number[argument], series)
            view = record_view(record, settings.tz, ledger.clock.now())
        if as_json:
            print_json(view)
            return
        print_view(f"{record.number} · {record_state(record)}", view)


def history_command(group: click.Group, argument: str, series: Series) -> None:
    """``ledger GROUP history NUMBER``: every event of the record, in order."""

    @group.command(
        "history",
        help=f"Every event of a {series.noun}, in order: what, when, when recorded, who.",
    )
    @click.argument(argument)
    @json_option
    @pass_settings
    def history(settings: Settings, /, as_json: bool, **number: str) -> None:
        with settings.open() as ledger:
            events = ledger.quality.history(number[argument], series)
        views = [event_view(e, settings.tz) for e in events]
        if as_json:
            print_json(views)
            return
        print_history(f"history of {number[argument]}", views)


def print_list(
    settings: Settings,
    rows: Sequence[dict[str, Any]],
    as_json: bool,
    noun: str,
    columns: Iterable[str],
) -> None:
    """A list command's output: JSON rows, or a table of ``columns``."""
    views = [row_view(row, settings.tz) for row in rows]
    if as_json:
        print_json(views)
        return
    print_rows(f"{len(views)} {noun}(s)", views, columns)
