"""The ``ledger`` command line: an adapter that turns options into commands and
events into tables or JSON. Every rule lives in the domain; every error ends here as
one line on stderr with exit code 2 (bad input) or 1 (conflict or failure)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, tzinfo
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
from ledger.commands.contracts import parse_holiday_table, read_contract_files, read_file
from ledger.commands.importer import ImportReport, import_commands
from ledger.commands.models import CommandError, parse_command
from ledger.commands.service import ConcurrentChange, NotFound
from ledger.contract_views import (
    contract_row_view,
    contract_view,
    loaded_view,
    year_table_view,
)
from ledger.domain.contract import METRICS
from ledger.domain.errors import DomainError, Unchanged
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
from ledger.reports.sla import (
    GROUPINGS,
    Cell,
    Grouping,
    Lang,
    ReportQuery,
    breach_table,
    cell_text,
    report_json,
    sla_report,
    summary_table,
    title,
    word,
    write_csv,
    write_xlsx,
)
from ledger.storage.location import LocationError, parse_location, resolve_url
from ledger.timeutil import parse_time, zone
from ledger.views import event_view, sla_view, ticket_row_view, ticket_view

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


def who_options(f: F) -> F:
    """``--actor`` and ``--role`` (required; from LEDGER_ACTOR / LEDGER_ROLE)."""
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
    return f


def actor_options(f: F) -> F:
    f = who_options(f)
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
@click.option("--customer", help="Default: the contract's customer.")
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
    """Show a ticket's current state, rebuilt from its events, and its SLA verdicts now."""
    with settings.open() as ledger:
        found = ledger.tickets.get(ticket)
        view = ticket_view(found, settings.tz) | {"sla": sla_view(ledger.judge(found), settings.tz)}
    if as_json:
        print_json(view)
        return
    table = Table(title=f"{view['number']} · {view['status']}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    sla = view.pop("sla")
    for key, value in view.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "; ".join(", ".join(f"{k}: {v}" for k, v in item.items()) for item in value)
        table.add_row(key, "" if value is None else str(value))
    console().print(table)
    _print_sla(sla)


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


# --------------------------------------------------------------------------- contracts


def _time_option(name: str, text: str | None, tz: tzinfo) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text, tz)
    except ValueError as e:
        fail(f"{name}: {e}")


def _file_problems(error: CommandError) -> NoReturn:
    """Every problem on a line of its own (``FILE: key.path: message``), then exit 2."""
    for problem in error.problems:
        click.echo(problem, err=True)
    count = len(error.problems)
    fail(f"{count} problem{'' if count == 1 else 's'}: nothing recorded")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _print_facts(title: str, facts: dict[str, str]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in facts.items():
        table.add_row(key, value)
    console().print(table)


@cli.group(cls=LedgerGroup)
def contract() -> None:
    """Service contracts (服务合同): the promises tickets are judged by."""


@contract.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--effective",
    help="When a revision takes effect (ISO 8601; naive = configured zone; "
    "not in the past). Default: now. Not for new contracts.",
)
@click.option("--note", help="Why the contract is revised (kept with the revision).")
@who_options
@json_option
@pass_settings
def contract_load(
    settings: Settings,
    files: tuple[Path, ...],
    effective: str | None,
    note: str | None,
    actor: str,
    role: str,
    as_json: bool,
) -> None:
    """Register or revise contracts from TOML files (format: docs/contracts.md).

    Every file is checked first: if any is bad, each problem is listed as
    FILE: key.path: message and nothing is recorded. A file whose policy is already the
    contract's latest revision is reported unchanged (not an error).
    """
    try:
        documents = read_contract_files(files)
    except CommandError as e:
        _file_problems(e)
    effective_from = _time_option("--effective", effective, settings.tz)
    with settings.open() as ledger:
        results = ledger.contracts.load_many(
            documents, actor=actor, role=Role(role), effective_from=effective_from, note=note
        )
    views = [loaded_view(result, settings.tz) for result in results]
    if as_json:
        print_json(views)
        return
    for view in views:
        if view["outcome"] == "revised":
            click.echo(
                f"{view['id']}: revised → revision {view['revision']}, "
                f"in force from {view['effective_from']}"
            )
        else:
            click.echo(f"{view['id']}: {view['outcome']} (revision {view['revision']})")


@contract.command("list")
@json_option
@pass_settings
def contract_list(settings: Settings, as_json: bool) -> None:
    """Every contract as in force now, and whether today is within its warranty."""
    with settings.open() as ledger:
        now = ledger.clock.now()
        rows = [contract_row_view(c, now) for c in ledger.contracts.list()]
    if as_json:
        print_json(rows)
        return
    table = Table(title=_plural(len(rows), "contract"))
    for column in ("id", "name", "customer", "calendar", "revisions", "warranty", "in warranty"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["id"],
            row["name"],
            row["customer"],
            row["calendar"],
            str(row["revision_count"]),
            f"{row['warranty_start']} – {row['warranty_last_day']}",
            "yes" if row["in_warranty"] else "no",
        )
    console().print(table)


@contract.command("show")
@click.argument("contract_id", metavar="ID")
@click.option(
    "--at",
    help="Show the revision in force then (ISO 8601; naive = configured zone). Default: now.",
)
@json_option
@pass_settings
def contract_show(settings: Settings, contract_id: str, at: str | None, as_json: bool) -> None:
    """A contract's promises (the revision in force at --at) and its revisions."""
    when = _time_option("--at", at, settings.tz)
    with settings.open() as ledger:
        view = contract_view(
            ledger.contracts.get(contract_id), when or ledger.clock.now(), settings.tz
        )
    if as_json:
        print_json(view)
        return
    ladder = " → ".join(f"{level} after {t} overdue" for level, t in view["escalation"].items())
    notices = "; ".join(f"{kind} after {t} open" for kind, t in view["notices"].items() if t)
    overrides = "; ".join(
        f"{key.replace('_', ' ')}: {', '.join(days)}"
        for key, days in view["workdays"].items()
        if days
    )
    _print_facts(
        f"{view['id']} · {view['name']}",
        {
            "customer": view["customer"],
            "revision": f"{view['revision']} of {view['revision_count']}, in force at {view['at']}",
            "time zone": view["timezone"],
            "calendar": view["calendar"],
            "warranty": f"{view['warranty_start']} – {view['warranty_last_day']} "
            f"({'in' if view['in_warranty'] else 'out of'} warranty)",
            "pausing": "suspensions stop the clocks"
            if view["pausing"]
            else "suspensions do not stop the clocks",
            "escalation": ladder or "—",
            "notices": notices or "—",
            "workday overrides": overrides or "—",
        },
    )
    targets = Table(title="targets (— = not promised, not judged)")
    targets.add_column("severity", style="bold")
    for metric in METRICS:
        targets.add_column(metric)
    for severity, promised in view["targets"].items():
        targets.add_row(severity, *(promised[m] or "—" for m in METRICS))
    console().print(targets)
    revisions = Table(title="revisions")
    for column in ("#", "in force from", "recorded at", "note"):
        revisions.add_column(column)
    for revision in view["revisions"]:
        mark = " (shown)" if revision["number"] == view["revision"] else ""
        revisions.add_row(
            f"{revision['number']}{mark}",
            revision["effective_from"] or "the start",
            revision["recorded_at"],
            revision["note"] or "",
        )
    console().print(revisions)


# --------------------------------------------------------------------------- calendar

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _day(iso: str) -> str:
    return f"{iso} {_DAY_NAMES[date.fromisoformat(iso).weekday()]}"


@cli.group(cls=LedgerGroup)
def calendar() -> None:
    """China's official working days (工作日): bundled years and loaded notices."""


@calendar.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@who_options
@json_option
@pass_settings
def calendar_load(settings: Settings, file: Path, actor: str, role: str, as_json: bool) -> None:
    """Load a year's holiday notice (放假安排) from a TOML file (format: docs/contracts.md).

    A loaded year replaces the bundled table of that year, or a table loaded before.
    """
    try:
        table = read_file(file, parse_holiday_table)
    except CommandError as e:
        _file_problems(e)
    with settings.open() as ledger:
        before = ledger.contracts.find_holiday_table(table.year)
        try:
            ledger.contracts.load_holidays(table, actor=actor, role=Role(role))
            outcome = "loaded"
        except Unchanged:
            outcome = "unchanged"
        view = year_table_view(ledger.contracts.holiday_table(table.year))
    replaced = None
    if outcome == "loaded" and before is not None:
        replaced = "loaded" if before.loaded else "bundled"
    if as_json:
        print_json({**view, "outcome": outcome, "replaced": replaced})
        return
    year = view["year"]
    if outcome == "unchanged":
        click.echo(f"{year}: unchanged (this table is already loaded): nothing recorded")
        return
    replaces = {
        None: "",
        "bundled": f"; replaces the bundled {year} table",
        "loaded": f"; replaces the {year} table loaded before",
    }[replaced]
    click.echo(
        f"{year}: loaded {_plural(len(view['holidays']), 'day')} off in "
        f"{_plural(len(view['periods']), 'period')} and "
        f"{_plural(len(view['workdays']), 'make-up workday')}{replaces}"
    )


@calendar.command("show")
@click.argument("year", type=click.IntRange(2000, 2100))
@json_option
@pass_settings
def calendar_show(settings: Settings, year: int, as_json: bool) -> None:
    """The days off and make-up workdays (调休) of YEAR, as the ledger uses them."""
    with settings.open() as ledger:
        view = year_table_view(ledger.contracts.holiday_table(year))
    if as_json:
        print_json(view)
        return
    if view["origin"] == "loaded":
        origin = "loaded with `ledger calendar load`" + (
            ", replacing the bundled table" if view["replaces_bundled"] else ""
        )
    else:
        origin = "bundled with ledger"
    click.echo(f"{year}: {origin}; source: {view['source'] or 'not given'}")
    click.echo(
        f"days off: {_plural(len(view['holidays']), 'day')} in "
        f"{_plural(len(view['periods']), 'period')}"
    )
    for period in view["periods"]:
        span = _day(period["start"])
        if period["days"] > 1:
            span += f" – {_day(period['end'])} ({period['days']} days)"
        click.echo(f"  {span}")
    click.echo(f"make-up workdays (调休): {len(view['workdays']) or 'none'}")
    for day in view["workdays"]:
        click.echo(f"  {_day(day)}")


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


@projections.command("follow")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds to wait between catch-ups.",
)
@click.option("--once", is_flag=True, help="Catch up once, then exit.")
@pass_settings
def projections_follow(settings: Settings, interval: float, once: bool) -> None:
    """Keep every read model caught up with the log until stopped (Ctrl-C or SIGTERM)."""
    import signal
    import threading

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    total = 0
    try:
        with settings.open() as ledger:
            while True:
                total += ledger.projections.catch_up(
                    on_batch=lambda name, n: click.echo(
                        f"{name}: {n} events applied (position {ledger.projections.position(name)})"
                    )
                )
                if once or stop.wait(interval):
                    break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"stopped following: {total} events applied", err=True)


# --------------------------------------------------------------------------- reports


@cli.group("report", cls=LedgerGroup)
def report_group() -> None:
    """Reports from the read models (caught up with the log first)."""


@report_group.command("sla")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="First report date.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Last report date.")
@click.option("--contract", help="Only this contract's tickets.")
@click.option("--by", type=click.Choice(GROUPINGS), default="contract", show_default=True)
@click.option("--as-of", help="Answer as the ledger stood then (ISO 8601; naive = --tz).")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--xlsx", "xlsx_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@click.option(
    "--breaches",
    "max_breaches",
    type=click.IntRange(min=0),
    help="List at most N breaches in the table (files and --json always hold all).",
)
@json_option
@pass_settings
def report_sla(
    settings: Settings,
    date_from: datetime | None,
    date_to: datetime | None,
    contract: str | None,
    by: Grouping,
    as_of: str | None,
    csv_file: Path | None,
    xlsx_file: Path | None,
    lang: Lang,
    max_breaches: int | None,
    as_json: bool,
) -> None:
    """SLA compliance of the tickets reported from --from to --to (dates in --tz, both
    included; cancelled tickets left out): met %, breaches, times to respond / arrive /
    resolve, per group and in total, then every breached or overdue target.

    --csv FILE writes the summary to FILE and the breaches to FILE's stem + .breaches.csv;
    --xlsx FILE writes both as two sheets."""
    try:
        query = ReportQuery(
            date_from.date() if date_from else None,
            date_to.date() if date_to else None,
            contract,
            by,
        )
    except ValueError as e:
        fail(str(e))
    when = _time_option("--as-of", as_of, settings.tz)
    with settings.open() as ledger:
        if contract:
            ledger.contracts.get(contract)  # an unknown contract is bad input
        result = sla_report(ledger, query, as_of=when)
    written = write_csv(result, csv_file, lang) if csv_file else []
    if xlsx_file:
        write_xlsx(result, xlsx_file, lang)
        written.append(xlsx_file)
    for path in written:
        click.echo(f"wrote {path}", err=True)
    if as_json:
        print_json(report_json(result))
        return
    headers, rows = summary_table(result, lang)
    _print_rows(title(result, lang), headers, rows, settings.tz, total=True)
    headers, rows = breach_table(result, lang)
    if not rows:
        click.echo(word("no breaches", lang))
        return
    shown = rows if max_breaches is None else rows[:max_breaches]
    if shown:
        _print_rows(f"{word('breaches', lang)} ({len(rows)})", headers, shown, settings.tz)
    if len(shown) < len(rows):
        click.echo(f"… {len(rows) - len(shown)} more: see --json, --csv or --xlsx")


def _print_rows(
    title_text: str,
    headers: list[str],
    rows: list[list[Cell]],
    tz: tzinfo,
    *,
    total: bool = False,
) -> None:
    table = Table(title=title_text)
    for header in headers:
        table.add_column(header, overflow="fold")
    for i, row in enumerate(rows):
        last = total and i == len(rows) - 1
        table.add_row(
            *(cell_text(c, tz) for c in row),
            style="bold" if last else None,
            end_section=total and i == len(rows) - 2,
        )
    console().print(table)


def main() -> None:
    cli(prog_name="ledger")
