"""``ledger ticket ...`` and ``ledger import``: the service desk's commands."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import inspect

from ledger.bootstrap import Ledger
from ledger.bounds import MAX_POSITION
from ledger.cli.records import print_history, print_view
from ledger.cli.support import (
    BAD_INPUT,
    F,
    LedgerGroup,
    Settings,
    actor_options,
    choices,
    console,
    fail,
    json_option,
    pass_settings,
    plural,
    print_json,
    time_option,
)
from ledger.commands.importer import DEFAULT_BATCH, ImportReport, import_commands
from ledger.commands.models import parse_command
from ledger.domain.audit import backdating_threshold, recorded_by
from ledger.domain.roles import TICKET_EVENTS
from ledger.domain.ticket import Ticket, project_ticket
from ledger.domain.values import (
    Category,
    Channel,
    EscalationLevel,
    ResolutionMode,
    Role,
    Severity,
    SignatureKind,
)
from ledger.projections.tickets import list_tickets
from ledger.reports.common import EVENT_WORDS
from ledger.reports.export import Lang
from ledger.storage.chain import COMMANDS_TABLE
from ledger.storage.tables import LedgerNotInitialised
from ledger.timeutil import show as show_time
from ledger.views import history_view, sla_view, ticket_row_view, ticket_view

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
    event = TICKET_EVENTS[command].__name__
    return f"{number} {EVENT_WORDS(event, lang)} ({EVENT_WORDS('version', lang)} {version})"


def write_command(name: str, help_text: str, cli_name: str | None = None) -> Callable[[F], Any]:
    """Register ``ledger ticket NAME`` (or ``CLI_NAME``): its options become the command's
    fields."""

    def decorate(f: F) -> Any:
        @functools.wraps(f)
        @pass_settings
        def run(settings: Settings, /, **options: Any) -> None:
            as_json = options.pop("as_json", False)
            lang: Lang = "en" if options.pop("lang") == "en" else "zh"
            _run_command(settings, {"command": name, **options}, as_json, lang)

        run.__doc__ = help_text
        command = ticket.command(cli_name or name, help=help_text)
        return command(lang_option(json_option(actor_options(run))))

    return decorate


ticket_argument = click.argument("ticket")
lang_option = click.option(
    "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True
)


@write_command("report", "Open a ticket (报修): the hotline records the fault.")
@click.option("--contract", required=True, help="Contract id.")
@click.option("--customer", help="Default: the contract's customer.")
@click.option("--contact-name", required=True)
@click.option("--contact-phone", required=True)
@click.option("--site", required=True, help="Site / address.")
@click.option("--device", required=True, help="Faulty device or system.")
@click.option("--category", type=choices(Category), default=Category.DEFECT.value)
@click.option("--severity", type=choices(Severity), default=Severity.GENERAL.value)
@click.option("--description", required=True)
@click.option("--channel", type=choices(Channel), default=Channel.PHONE.value)
@click.option("--external-ref", help="The customer's or a legacy system's reference.")
def report(**_: Any) -> None: ...


@write_command("respond", "Record the first human response to the customer (响应).")
@ticket_argument
@click.option("--note")
def respond(**_: Any) -> None: ...


@write_command("dispatch", "Assign an engineer (派单); dispatch again to re-assign.")
@ticket_argument
@click.option("--engineer", required=True)
@click.option("--note")
def dispatch(**_: Any) -> None: ...


@write_command("arrive", "Record the engineer's arrival on site (到达现场).")
@ticket_argument
@click.option("--engineer", help="Default: the dispatched engineer.")
def arrive(**_: Any) -> None: ...


@write_command("resolve", "Record the fix (修复), remote or on site.")
@ticket_argument
@click.option("--summary", required=True)
@click.option("--mode", type=choices(ResolutionMode), default=ResolutionMode.ON_SITE.value)
def resolve(**_: Any) -> None: ...


@write_command("sign", "Record the customer's signature on the service form (客户签字确认).")
@ticket_argument
@click.option("--signer", required=True)
@click.option("--kind", type=choices(SignatureKind), default=SignatureKind.CUSTOMER.value)
def sign(**_: Any) -> None: ...


@write_command("escalate", "Escalate up the ladder (升级).")
@ticket_argument
@click.option("--to", "to", required=True, type=choices(EscalationLevel))
@click.option("--reason", required=True)
def escalate(**_: Any) -> None: ...


@write_command("suspend", "Pause the clocks, e.g. waiting for the customer.")
@ticket_argument
@click.option("--reason", required=True)
def suspend(**_: Any) -> None: ...


@write_command("resume", "Restart the clocks after a suspension.")
@ticket_argument
@click.option("--reason")
def resume(**_: Any) -> None: ...


@write_command("replace", "Record a replacement (loaner) unit provided (备用设备).")
@ticket_argument
@click.option("--unit", required=True, help="Model and serial of the loaner unit.")
@click.option("--note")
def replace(**_: Any) -> None: ...


@write_command("reclassify", "Change severity and/or category, with a reason.")
@ticket_argument
@click.option("--severity", type=choices(Severity))
@click.option("--category", type=choices(Category))
@click.option("--reason", required=True)
def reclassify(**_: Any) -> None: ...


@write_command("close", "Close a resolved and signed ticket.")
@ticket_argument
@click.option("--note")
def close(**_: Any) -> None: ...


@write_command("reopen", "Reopen a resolved or closed ticket.")
@ticket_argument
@click.option("--reason", required=True)
def reopen(**_: Any) -> None: ...


@write_command("cancel", "Cancel a ticket (no further events).")
@ticket_argument
@click.option("--reason", required=True)
def cancel(**_: Any) -> None: ...


@write_command(
    "contact_sheet",
    "Record the work contact sheet (工作联系单) of an out-of-contract ticket, its fee "
    "confirmed by the customer: needed before dispatch.",
    cli_name="contact-sheet",
)
@ticket_argument
@click.option("--sheet", required=True, help="The sheet's number or reference.")
@click.option("--fee", required=True, help="The confirmed fee in yuan (元), e.g. 800 or 1200.50.")
@click.option("--confirmed-by", required=True, help="Who confirmed the fee for the customer.")
@click.option("--note")
def contact_sheet(**_: Any) -> None: ...


@ticket.command("show")
@ticket_argument
@click.option(
    "--as-of",
    help="The ticket as the ledger stood then: only the events recorded at or before TIME "
    "(ISO 8601; naive = --tz), SLAs judged at TIME.",
)
@click.option(
    "--at-version",
    type=click.IntRange(min=1, max=MAX_POSITION),
    help="The ticket after its first N events, SLAs judged when event N was recorded.",
)
@json_option
@pass_settings
def show(
    settings: Settings, ticket: str, as_of: str | None, at_version: int | None, as_json: bool
) -> None:
    """Show a ticket's current state, rebuilt from its events, and its SLA verdicts now;
    or replay it: as the ledger stood at --as-of, or after --at-version events."""
    if as_of is not None and at_version is not None:
        fail("--as-of and --at-version cannot be used together")
    when = time_option("--as-of", as_of, settings.tz)
    with settings.open() as ledger:
        found, replayed_at = _replay(ledger, ticket, when, at_version)
        # A replay judges the SLAs when it stands.
        judged = ledger.judge(found, replayed_at)
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
        events, policy = ledger.ticket_history(ticket)
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
    from rich.progress import Progress

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
        )
        # The read models catch up in batches (ProjectionRunner), each its own transaction.
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
