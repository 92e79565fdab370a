"""The ``ledger`` command line: an adapter that turns options into commands and
events into tables or JSON. Every rule lives in the domain; every error ends here as
one line on stderr with exit code 2 (bad input) or 1 (conflict or failure)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import tzinfo
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import orjson
from eventsourcing.persistence import MapperDeserialisationError, PersistenceError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from ledger.bootstrap import Ledger, LedgerNotInitialised
from ledger.clock import Clock, FixedClock, SystemClock
from ledger.commands.importer import ImportReport, import_commands
from ledger.commands.models import CommandError, parse_command
from ledger.commands.service import ConcurrentChange, NotFound
from ledger.domain.errors import DomainError
from ledger.domain.values import (
    Category,
    Channel,
    EscalationLevel,
    ResolutionMode,
    Role,
    Severity,
    SignatureKind,
)
from ledger.projections.base import UnknownProjection
from ledger.projections.tickets import list_tickets
from ledger.storage.location import LocationError, parse_location, resolve_url
from ledger.timeutil import parse_time, zone
from ledger.views import event_view, ticket_row_view, ticket_view

F = TypeVar("F", bound=Callable[..., Any])

BAD_INPUT = 2
FAILURE = 1


class BadInput(click.ClickException):
    exit_code = BAD_INPUT


class Failure(click.ClickException):
    exit_code = FAILURE


def fail(message: str, exit_code: int = BAD_INPUT) -> NoReturn:
    raise (BadInput if exit_code == BAD_INPUT else Failure)(message)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


@contextmanager
def translated_errors() -> Iterator[None]:
    """Map what can go wrong to one clear line and an exit code; never a traceback."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except CommandError as e:
        fail("invalid command: " + "; ".join(e.problems))
    except (
        DomainError,
        NotFound,
        LocationError,
        LedgerNotInitialised,
        UnknownProjection,
    ) as e:
        fail(_first_line(e))
    except ConcurrentChange as e:
        fail(_first_line(e), FAILURE)
    except MapperDeserialisationError as e:
        fail(f"a stored event cannot be read: {_first_line(e)}", FAILURE)
    except (PersistenceError, DBAPIError, OSError) as e:
        fail(f"database unavailable or unusable: {_first_line(e)}", FAILURE)
    except Exception as e:
        if os.environ.get("LEDGER_DEBUG"):
            raise
        fail(f"internal error ({type(e).__name__}): {_first_line(e)}", FAILURE)


class LedgerGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        with translated_errors():
            return super().invoke(ctx)


# --------------------------------------------------------------------------- context


class Settings:
    def __init__(self, db: str | None, tz_name: str | None) -> None:
        self.url = resolve_url(db)
        self.tz_name = tz_name
        self._tz: tzinfo | None = None

    @property
    def tz(self) -> tzinfo:
        if self._tz is None:
            try:
                self._tz = zone(self.tz_name)
            except ValueError as e:
                fail(str(e))
        return self._tz

    def clock(self) -> Clock:
        fixed = os.environ.get("LEDGER_NOW")
        if fixed:
            try:
                return FixedClock(parse_time(fixed, self.tz))
            except ValueError as e:
                fail(f"LEDGER_NOW: {e}")
        return SystemClock()

    def open(self, *, create: bool = False) -> Ledger:
        return Ledger(parse_location(self.url), clock=self.clock(), tz=self.tz, create=create)


pass_settings = click.make_pass_decorator(Settings)


def console() -> Console:
    width = None if sys.stdout.isatty() else 160
    return Console(width=width, highlight=False, soft_wrap=False)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def _choices(enum: Any) -> click.Choice[str]:
    return click.Choice([m.value for m in enum])


def actor_options(f: F) -> F:
    f = click.option(
        "--role",
        envvar="LEDGER_ROLE",
        required=True,
        type=_choices(Role),
        help="Role of the actor (or LEDGER_ROLE).",
    )(f)
    f = click.option(
        "--actor", envvar="LEDGER_ACTOR", required=True, help="Who acts (or LEDGER_ACTOR)."
    )(f)
    f = click.option(
        "--at",
        help="When it happened (ISO 8601; naive = configured zone). Default: now.",
    )(f)
    return f


@click.group(cls=LedgerGroup)
@click.option(
    "--db",
    envvar="LEDGER_DB",
    help="Database URL: sqlite:///FILE (default sqlite:///ledger.db) or postgresql://...",
)
@click.option(
    "--tz",
    "tz_name",
    envvar="LEDGER_TZ",
    help="Time zone for input and output (default Asia/Shanghai).",
)
@click.version_option(package_name="ledger")
@click.pass_context
def cli(ctx: click.Context, db: str | None, tz_name: str | None) -> None:
    """ledger: an event-sourced ledger for after-sales service (售后服务台账)."""
    ctx.obj = Settings(db, tz_name)


@cli.command()
@pass_settings
def init(settings: Settings) -> None:
    """Create the event store and read models (safe to run again)."""
    with settings.open(create=True) as ledger:
        click.echo(f"ledger ready at {ledger.location.describe()}")


# --------------------------------------------------------------------------- tickets


@cli.group(cls=LedgerGroup)
def ticket() -> None:
    """Record and read service tickets (服务单)."""


def _run_command(settings: Settings, data: dict[str, Any], as_json: bool) -> None:
    data = {k: v for k, v in data.items() if v is not None and k != "as_json"}
    command = parse_command(data, settings.tz)
    with settings.open() as ledger:
        result = ledger.tickets.execute(command, retries=1)
        if as_json:
            print_json(ticket_view(result, settings.tz))
        else:
            click.echo(f"{result.number} {result.status.value} (version {result.version})")


def write_command(name: str, help_text: str) -> Callable[[F], Any]:
    """Register ``ledger ticket NAME``: its options become the command's fields."""

    def decorate(f: F) -> Any:
        @functools.wraps(f)
        @pass_settings
        def run(settings: Settings, /, **options: Any) -> None:
            as_json = options.pop("as_json", False)
            _run_command(settings, {"command": name, **options}, as_json)

        run.__doc__ = help_text
        return ticket.command(name, help=help_text)(json_option(actor_options(run)))

    return decorate


ticket_argument = click.argument("ticket")


@write_command("report", "Open a ticket (报修): the hotline records the fault.")
@click.option("--contract", required=True, help="Contract id.")
@click.option("--customer", required=True)
@click.option("--contact-name", required=True)
@click.option("--contact-phone", required=True)
@click.option("--site", required=True, help="Site / address.")
@click.option("--device", required=True, help="Faulty device or system.")
@click.option("--category", type=_choices(Category), default=Category.DEFECT.value)
@click.option("--severity", type=_choices(Severity), default=Severity.GENERAL.value)
@click.option("--description", required=True)
@click.option("--channel", type=_choices(Channel), default=Channel.PHONE.value)
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
@click.option("--mode", type=_choices(ResolutionMode), default=ResolutionMode.ON_SITE.value)
def resolve(**_: Any) -> None: ...


@write_command("sign", "Record the customer's signature on the service form (客户签字确认).")
@ticket_argument
@click.option("--signer", required=True)
@click.option("--kind", type=_choices(SignatureKind), default=SignatureKind.CUSTOMER.value)
def sign(**_: Any) -> None: ...


@write_command("escalate", "Escalate up the ladder (升级).")
@ticket_argument
@click.option("--to", "to", required=True, type=_choices(EscalationLevel))
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
@click.option("--severity", type=_choices(Severity))
@click.option("--category", type=_choices(Category))
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


@ticket.command("show")
@ticket_argument
@json_option
@pass_settings
def show(settings: Settings, ticket: str, as_json: bool) -> None:
    """Show a ticket's current state, rebuilt from its events."""
    with settings.open() as ledger:
        view = ticket_view(ledger.tickets.get(ticket), settings.tz)
    if as_json:
        print_json(view)
        return
    table = Table(title=f"{view['number']} · {view['status']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in view.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "; ".join(", ".join(f"{k}: {v}" for k, v in item.items()) for item in value)
        table.add_row(key, "" if value is None else str(value))
    console().print(table)


@ticket.command("history")
@ticket_argument
@json_option
@pass_settings
def history(settings: Settings, ticket: str, as_json: bool) -> None:
    """Every event of a ticket, in order: what, when it happened, when it was recorded, who."""
    with settings.open() as ledger:
        events = [event_view(e, settings.tz) for e in ledger.tickets.history(ticket)]
    if as_json:
        print_json(events)
        return
    table = Table(title=f"history of {ticket}")
    for column in ("#", "type", "occurred_at", "recorded_at", "actor", "role", "data"):
        table.add_column(column, overflow="fold")
    for e in events:
        data = ", ".join(
            f"{k}={orjson.dumps(v).decode() if isinstance(v, dict) else v}"
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


@ticket.command("list")
@click.option("--open", "state", flag_value="open", default=True, help="Open tickets (default).")
@click.option("--closed", "state", flag_value="closed", help="Closed tickets.")
@click.option("--all", "state", flag_value="all", help="Every ticket.")
@click.option("--contract")
@click.option("--engineer")
@click.option("--severity", type=_choices(Severity))
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


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Stop at the first rejected line.")
@click.option("--actor", envvar="LEDGER_ACTOR", help="Default actor for lines without one.")
@click.option(
    "--role", envvar="LEDGER_ROLE", type=_choices(Role), help="Default role for lines without one."
)
@json_option
@pass_settings
def import_(
    settings: Settings,
    file: Path,
    strict: bool,
    actor: str | None,
    role: str | None,
    as_json: bool,
) -> None:
    """Apply a JSON-lines file of commands in order, each atomically.

    Each line is an object with "command" (report, respond, dispatch, ...) and the same
    fields as the CLI options (underscores for dashes). A report line may carry "ref";
    later lines may then name that ref as their "ticket".
    """
    from rich.progress import Progress

    defaults = {k: v for k, v in (("actor", actor), ("role", role)) if v}
    with file.open("rb") as lines:
        total = sum(1 for _ in lines)
    with settings.open() as ledger, Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"importing {file.name}", total=total)
        result: ImportReport = import_commands(
            ledger.tickets,
            file,
            tz=settings.tz,
            defaults=defaults,
            strict=strict,
            on_line=lambda: bar.advance(task),
        )
    if as_json:
        print_json(result.as_dict())
    else:
        for rejection in result.rejected:
            click.echo(f"line {rejection.line}: {rejection.reason}", err=True)
        click.echo(
            f"{result.applied} applied, {len(result.rejected)} rejected"
            + (" (stopped at the first rejection: --strict)" if result.stopped else "")
        )
    if result.rejected:
        sys.exit(BAD_INPUT)


# --------------------------------------------------------------------------- projections


@cli.group(cls=LedgerGroup)
def projections() -> None:
    """Read models that follow the event log."""


@projections.command("rebuild")
@click.argument("names", nargs=-1)
@pass_settings
def projections_rebuild(settings: Settings, names: tuple[str, ...]) -> None:
    """Empty read models and replay every event into them."""
    from rich.progress import Progress

    with settings.open() as ledger:
        chosen = ledger.projections.select(names)
        head = ledger.app.recorder.max_notification_id() or 0
        with Progress(console=Console(stderr=True), transient=True) as bar:
            tasks = {p.name: bar.add_task(f"rebuilding {p.name}", total=head) for p in chosen}
            count = ledger.projections.rebuild(
                list(names),
                on_batch=lambda name, n: bar.update(
                    tasks[name], completed=ledger.projections.position(name)
                ),
            )
    click.echo(f"rebuilt {', '.join(p.name for p in chosen)}: {count} events applied")


@projections.command("status")
@json_option
@pass_settings
def projections_status(settings: Settings, as_json: bool) -> None:
    """Each read model's position against the head of the log."""
    with settings.open() as ledger:
        head = ledger.app.recorder.max_notification_id() or 0
        rows = [
            {"name": name, "position": ledger.projections.position(name), "head": head}
            for name in ledger.projections.projections
        ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']}: position {row['position']} of {row['head']}")


def main() -> None:
    cli(prog_name="ledger")
