"""``ledger ticket ...`` and ``ledger import``: the service desk's commands."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ledger.bootstrap import Ledger
from ledger.cli.evidence import attach_command
from ledger.cli.records import print_history, print_view
from ledger.cli.support import (
    BAD_INPUT,
    LedgerGroup,
    Settings,
    actor_options,
    choices,
    console,
    fail,
    json_option,
    model_options,
    pass_settings,
    plural,
    print_json,
    time_option,
)
from ledger.commands.importer import DEFAULT_BATCH, ImportReport, import_commands
from ledger.commands.models import Command
from ledger.commands.registry import TICKET_COMMANDS, parse_command
from ledger.domain.audit import backdating_threshold, recorded_by
from ledger.domain.ticket import Ticket, project_ticket
from ledger.domain.values import Role, Severity
from ledger.presenters.tickets import history_view, sla_view, ticket_row_view, ticket_view
from ledger.projections.tickets import list_tickets
from ledger.storage.chain import COMMANDS_TABLE
from ledger.storage.tables import LedgerNotInitialised
from ledger.timeutil import show as show_time

if TYPE_CHECKING:  # rich and the reports' words are imported by the commands that print
    from ledger.reports.export import Lang

# --------------------------------------------------------------------------- tickets


@click.group(cls=LedgerGroup)
def ticket() -> None:
    """Record and read service tickets (服务单)."""


def _run_command(settings: Settings, data: dict[str, Any], as_json: bool, lang: Lang) -> None:
    data = {k: v for k, v in data.items() if v is not None and k != "as_json"}
    command = parse_command(data, settings.tz)
    with settings.open() as ledger:
        result = ledger.tickets.execute(command, retries=1)
        if as_json:
            print_json(ticket_view(result, settings.tz))
        else:
            click.echo(recorded_line(result.number, data["command"], result.version, lang))


def recorded_line(number: str, command: str, version: int, lang: Lang) -> str:
    """What a write recorded, e.g. ``T-2026-000001 客户已签字确认 (版本 6)``."""
    from ledger.reports.common import EVENT_WORDS

    event = TICKET_COMMANDS[command].event.__name__
    return f"{number} {EVENT_WORDS(event, lang)} ({EVENT_WORDS('version', lang)} {version})"


def write_command(name: str, model: type[Command]) -> None:
    """Register ``ledger ticket NAME`` (dashes for underscores): the model's fields are its
    options (the ticket its argument), its docstring the help."""
    help_text = " ".join((model.__doc__ or "").split())

    def run(settings: Settings, /, **options: Any) -> None:
        as_json = options.pop("as_json", False)
        lang: Lang = "en" if options.pop("lang") == "en" else "zh"
        _run_command(settings, {"command": name, **options}, as_json, lang)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = help_text
    params = model_options(model, arguments=("ticket",))
    command = ticket.command(name.replace("_", "-"), help=help_text)
    command(lang_option(json_option(actor_options(pass_settings(params(run))))))


ticket_argument = click.argument("ticket")
lang_option = click.option(
    "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True
)

for _name, _entry in TICKET_COMMANDS.items():
    if not _entry.upload:  # ``ledger ticket attach``: ledger/cli/evidence.py
        write_command(_name, _entry.model)
attach_command(ticket, "ticket")


def show_ticket(
    settings: Settings, ticket: str, as_of: str | None, at_version: int | None, as_json: bool
) -> None:
    """``ledger ticket show`` (ledger/cli/ticket_show.py) through the ledger: every form of
    it, and what the quick path leaves to it."""
    if as_of is not None and at_version is not None:
        fail("--as-of and --at-version cannot be used together")
    when = time_option("--as-of", as_of, settings.tz)
    with settings.open() as ledger:
        found, replayed_at = _replay(ledger, ticket, when, at_version)
        # A replay judges the SLAs when it stands.
        judged = ledger.queries.judge(found, replayed_at)
        view = ticket_view(found, settings.tz) | {"sla": sla_view(judged, settings.tz)}
        contract = ledger.contracts.find(found.contract_id)
    if as_json:
        print_json(view)
        return
    if contract is not None:  # a person reads the contract's name, with its id
        view["contract_id"] = f"{contract.latest.policy.name} ({found.contract_id})"
    sla = view.pop("sla")
    title = f"{view['number']} · {view['status']}"
    if replayed_at is not None:
        title += f" (version {found.version}, as of {show_time(replayed_at, settings.tz)})"
    print_view(title, view)
    _print_sla(sla)


def _replay(
    ledger: Ledger, ref: str, as_of: datetime | None, at_version: int | None
) -> tuple[Ticket, datetime | None]:
    """The ticket now; or as the ledger stood at ``as_of``; or after its first ``at_version``
    events. Only the ticket's own events are read. Also the time a replay stands at: ``as_of``,
    or when event ``at_version`` was recorded (``None``: now)."""
    if at_version is not None:
        found = ledger.tickets.get(ref, version=at_version)
        if found.version < at_version:
            fail(
                f"ticket {found.number} has {plural(found.version, 'event')}: "
                f"there is no version {at_version}"
            )
        return found, found.modified_on
    if as_of is None:
        return ledger.tickets.get(ref), None
    events = ledger.tickets.history(ref)
    held = recorded_by(events, as_of)
    replayed = project_ticket(None, held)
    if replayed is None:
        fail(
            f"ticket {ref} was not recorded yet at {show_time(as_of, ledger.tz)}: its first "
            f"event was recorded at {show_time(events[0].recorded_at, ledger.tz)}"
        )
    return replayed, as_of


def _print_sla(rows: list[dict[str, Any]] | None) -> None:
    """The SLA section of ``ticket show``: one row per promised metric."""
    if rows is None:
        click.echo("SLA: unjudged (the ticket's contract is unknown)")
        return
    from rich.table import Table

    table = Table(title="SLA")
    columns = ("metric", "target", "due_at", "done_at", "status", "breach_minutes", "note")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    console().print(table)


@ticket.command("history")
@ticket_argument
@json_option
@pass_settings
def history(settings: Settings, ticket: str, as_json: bool) -> None:
    """Every event of a ticket, in order: what, when it happened, when it was recorded, who;
    back-dated events (occurred more than the contract's threshold before they were
    recorded) are flagged."""
    with settings.open() as ledger:
        events, policy = ledger.queries.history(ticket)
    views = history_view(events, policy, settings.tz)
    if as_json:
        print_json(views)
        return
    print_history(f"history of {ticket}", [_marked(v) for v in views])
    flagged = [str(v["version"]) for v in views if v["backdated"]]
    if flagged:
        minutes = int(backdating_threshold(policy).total_seconds() // 60)
        click.echo(
            f"⚑ N min: back-dated, occurred N min before it was recorded (threshold "
            f"{minutes} min): version {', '.join(flagged)}"
        )


def _marked(view: dict[str, Any]) -> dict[str, Any]:
    """A history row for the table: a back-dated event's told time carries a flag."""
    if not view["backdated"]:
        return view
    flag = f"{view['occurred_at']} ⚑ {view['lag_minutes']:g} min"
    return view | {"occurred_at": flag}


@ticket.command("list")
@click.option("--open", "state", flag_value="open", default=True, help="Open tickets (default).")
@click.option("--closed", "state", flag_value="closed", help="Closed tickets.")
@click.option("--all", "state", flag_value="all", help="Every ticket.")
@click.option("--contract")
@click.option("--engineer")
@click.option("--severity", type=choices(Severity))
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows.")
@json_option
@pass_settings
def list_(settings: Settings, /, as_json: bool, **filters: Any) -> None:
    """List tickets from the read model (caught up with the log first)."""
    with settings.open() as ledger:
        ledger.projections.catch_up()
        with ledger.engine.connect() as conn:
            rows = list_tickets(conn, **filters)
    views = [ticket_row_view(row, settings.tz) for row in rows]
    if as_json:
        print_json(views)
        return
    from rich.table import Table

    table = Table(title=f"{len(views)} ticket(s)")
    columns = ("number", "status", "severity", "contract_id", "customer", "engineer")
    for column in (*columns, "reported_at"):
        table.add_column(column)
    for v in views:
        table.add_row(*(str(v[c] or "") for c in columns), v["reported_at"])
    console().print(table)


# --------------------------------------------------------------------------- import


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Stop at the first rejected line.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Lines saved per transaction.",
)
@click.option("--actor", envvar="LEDGER_ACTOR", help="Default actor for lines without one.")
@click.option(
    "--role", envvar="LEDGER_ROLE", type=choices(Role), help="Default role for lines without one."
)
@json_option
@pass_settings
def import_(
    settings: Settings,
    file: Path,
    strict: bool,
    batch_size: int,
    actor: str | None,
    role: str | None,
    as_json: bool,
) -> None:
    """Apply a JSON-lines file of commands in order, in batches; safe to run again.

    Each line is an object with "command" (report, respond, dispatch, ...,
    visit_schedule, action_raise, complaint_receive, ...) and the same fields as the CLI
    options (underscores for dashes). A line that makes a new record may carry "ref";
    later lines may then name that ref where its number goes ("ticket", "visit", ...).
    A line may carry "command_id", its idempotency key; lines already applied (by an
    earlier run, e.g. one that crashed) are skipped and counted.
    """
    from rich.console import Console
    from rich.progress import Progress
    from sqlalchemy import inspect

    defaults = {k: v for k, v in (("actor", actor), ("role", role)) if v}
    with file.open("rb") as lines:
        total = sum(1 for _ in lines)
    with settings.open() as ledger, Progress(console=Console(stderr=True), transient=True) as bar:
        if not inspect(ledger.engine).has_table(COMMANDS_TABLE):
            raise LedgerNotInitialised(
                f"{ledger.location.describe()} has no {COMMANDS_TABLE} table: "
                "run `ledger init` once more to upgrade it"
            )
        task = bar.add_task(f"importing {file.name}", total=total)
        result: ImportReport = import_commands(
            ledger.tickets,
            ledger.quality,
            file,
            tz=settings.tz,
            defaults=defaults,
            strict=strict,
            batch_size=batch_size,
            on_lines=lambda n: bar.advance(task, n),
            projections=ledger.projections,
        )
        # The read models followed each saved batch; what they missed (another writer's
        # events between, a projection behind) they catch up now, reading the log.
        head = ledger.app.recorder.max_notification_id() or 0
        catching = bar.add_task("catching up the read models", total=head)
        ledger.projections.catch_up(
            on_batch=lambda name, _: bar.update(
                catching,
                description=f"catching up {name}",
                completed=ledger.projections.position(name),
            )
        )
    if as_json:
        print_json(result.as_dict())
    else:
        for rejection in result.rejected:
            click.echo(f"line {rejection.line}: {rejection.reason}", err=True)
        already = f", {result.already_applied} already applied" if result.already_applied else ""
        click.echo(
            f"{result.applied} applied{already}, {len(result.rejected)} rejected"
            + (" (stopped at the first rejection: --strict)" if result.stopped else "")
        )
    if result.rejected:
        sys.exit(BAD_INPUT)
