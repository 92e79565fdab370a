"""``ledger contract ...`` and ``ledger calendar ...``: the promises and the working days."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import click
from rich.table import Table

from ledger.cli.support import (
    LedgerGroup,
    Settings,
    console,
    file_problems,
    json_option,
    lang_option,
    pass_settings,
    plural,
    print_facts,
    print_json,
    time_option,
    who_options,
)
from ledger.commands.contracts import parse_holiday_table, read_contract_files, read_file
from ledger.commands.models import CommandError
from ledger.domain.errors import Unchanged
from ledger.domain.metrics import METRIC_WORDS_ZH
from ledger.domain.values import (
    Role,
    Severity,
)
from ledger.presenters.contracts import (
    contract_row_view,
    contract_view,
    loaded_view,
    promise_text,
    year_table_view,
)


@click.group(cls=LedgerGroup)
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
        file_problems(e)
    effective_from = time_option("--effective", effective, settings.tz)
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
    table = Table(title=plural(len(rows), "contract"))
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
@lang_option("The language of the promises as the hotline reads them out (not of --json).")
@json_option
@pass_settings
def contract_show(
    settings: Settings, contract_id: str, at: str | None, lang: Literal["zh", "en"], as_json: bool
) -> None:
    """A contract's promises (the revision in force at --at) and its revisions."""
    when = time_option("--at", at, settings.tz)
    with settings.open() as ledger:
        contract = ledger.contracts.get(contract_id)
        shown_at = when or ledger.clock.now()
    view = contract_view(contract, shown_at, settings.tz)
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
    print_facts(
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
    names = list(next(iter(view["targets"].values())))
    for metric in names:
        targets.add_column(metric)
    for severity, promised in view["targets"].items():
        targets.add_row(severity, *(promised[m] or "—" for m in names))
    console().print(targets)
    policy = contract.revision_at(shown_at).policy
    words = METRIC_WORDS_ZH if lang == "zh" else {}
    print_facts(
        "承诺（接报时读给客户）" if lang == "zh" else "promises (as the hotline reads them out)",
        {severity.value: promise_text(policy, severity, words, lang) for severity in Severity},
    )
    clocks = Table(title="metrics: from start to stop")
    for column in ("metric", "start", "stop", "void", "applies to"):
        clocks.add_column(column)
    for name, d in view["metrics"].items():
        start = d["start"] + (f" + {d['start_after']}" if d["start_after"] else "")
        start += " (24x7)" if d["clock"] == "24x7" else ""
        start += "" if d["pausing"] else " (no pause)"
        void = f"{d['void']} (by the due time)" if d["void_until"] == "due" else d["void"]
        clocks.add_row(name, start, d["stop"], void or "—", ", ".join(d["categories"]) or "all")
    console().print(clocks)
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


@click.group(cls=LedgerGroup)
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
        file_problems(e)
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
        f"{year}: loaded {plural(len(view['holidays']), 'day')} off in "
        f"{plural(len(view['periods']), 'period')} and "
        f"{plural(len(view['workdays']), 'make-up workday')}{replaces}"
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
        f"days off: {plural(len(view['holidays']), 'day')} in "
        f"{plural(len(view['periods']), 'period')}"
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
