"""``ledger report ...``: reports from the read models."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path

import click
from rich.table import Table

from ledger.cli.support import (
    LedgerGroup,
    Settings,
    console,
    fail,
    json_option,
    pass_settings,
    print_json,
    time_option,
)
from ledger.reports.export import Cell, Lang, cell_text
from ledger.reports.sla import (
    GROUPINGS,
    Grouping,
    ReportQuery,
    breach_table,
    report_json,
    sla_report,
    summary_table,
    title,
    word,
    write_csv,
    write_xlsx,
)

# --------------------------------------------------------------------------- reports


@click.group("report", cls=LedgerGroup)
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
    when = time_option("--as-of", as_of, settings.tz)
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
