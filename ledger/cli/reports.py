"""``ledger report ...``: reports from the read models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from ledger.bootstrap import Ledger
from ledger.cli.support import (
    STDOUT,
    LedgerGroup,
    Settings,
    check_output,
    console,
    fail,
    force_option,
    is_stdout,
    json_option,
    out_path,
    pass_settings,
    print_json,
    time_option,
    write_output,
)
from ledger.reports import actions, assessment, audit, complaints, satisfaction, sla
from ledger.reports.common import Period, month_period, quarter_period
from ledger.reports.export import Cell, Lang, Sheet, cell_text, csv_files, csv_text, xlsx_bytes
from ledger.reports.protocol import ReportModule

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

# --------------------------------------------------------------------------- shared


def period_options(f: F) -> F:
    """``--from DATE`` and ``--to DATE`` (local dates in --tz, both included)."""
    dates = click.DateTime(["%Y-%m-%d"])
    f = click.option("--to", "date_to", type=dates, help="Last date (included).")(f)
    return click.option("--from", "date_from", type=dates, help="First date.")(f)


def output_options(f: F) -> F:
    """``--csv FILE``, ``--xlsx FILE`` (``-``: standard output), ``--force``, ``--lang
    en|zh`` and ``--json``."""
    f = json_option(f)
    f = force_option(f)
    f = click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)(f)
    f = click.option(
        "--xlsx",
        "xlsx_file",
        type=out_path,
        help="Write every table as a sheet of one workbook (- : stdout, not a terminal).",
    )(f)
    return click.option(
        "--csv",
        "csv_file",
        type=out_path,
        help="Write the first table to FILE, the others next to it (FILE stem + .KEY.csv); "
        "- : every table to stdout.",
    )(f)


def _period(date_from: datetime | None, date_to: datetime | None) -> Period:
    try:
        first, last = (d.date() if d else None for d in (date_from, date_to))
        return Period.given(first, last)
    except ValueError as e:
        fail(str(e))


def _checked(parse: Callable[[str], Period], text: str) -> str:
    try:
        parse(text)
    except ValueError as e:
        fail(str(e))
    return text.strip().upper()


def _write_files(
    sheets: Sequence[Sheet],
    csv_file: Path | None,
    xlsx_file: Path | None,
    tz: tzinfo,
    force: bool,
) -> None:
    """``--csv`` and ``--xlsx`` by the rule of every output file (:func:`check_output`):
    every file is checked before any is written. ``--csv -`` prints the tables one after
    the other, a blank line between them."""
    files: list[tuple[Path, bytes, bool]] = []
    if is_stdout(csv_file):
        text = "\n".join(csv_text(sheet, tz) for sheet in sheets)
        files.append((Path(STDOUT), text.encode(), False))
    elif csv_file:
        files.extend((path, content, False) for path, content in csv_files(sheets, csv_file, tz))
    if xlsx_file:
        files.append((xlsx_file, xlsx_bytes(sheets, tz), True))
    for path, _, binary in files:
        check_output(path, force=force, binary=binary, what="a workbook")
    for path, content, binary in files:
        write_output(path, content, force=force, binary=binary)
        if not is_stdout(path):
            click.echo(f"wrote {path}", err=True)


def _show(
    report: ReportModule[R],
    result: R,
    empty: str,
    tz: tzinfo,
    *,
    lang: Lang,
    csv_file: Path | None,
    xlsx_file: Path | None,
    as_json: bool,
    force: bool,
    limit: int | None = None,
) -> None:
    """Write ``result``'s tables (shaped by its :class:`ReportModule`) to the files, then
    print the JSON, or the summary (its last row the total) and each list (at most
    ``limit`` rows; for a list without any, the word ``no KEY`` of the list's key, else the
    word ``empty``)."""
    tables = csv_file is not None or xlsx_file is not None or not as_json
    sheets: list[Sheet] = report.sheets(result, lang) if tables else []  # --json alone: none
    to_stdout = [
        flag
        for flag, on in (
            ("--json", as_json),
            ("--csv -", is_stdout(csv_file)),
            ("--xlsx -", is_stdout(xlsx_file)),
        )
        if on
    ]
    if len(to_stdout) > 1:
        fail(f"{' and '.join(to_stdout)}: only one of them can use standard output")
    _write_files(sheets, csv_file, xlsx_file, tz, force)
    if is_stdout(csv_file) or is_stdout(xlsx_file):
        return
    if as_json:
        print_json(report.report_json(result))
        return
    summary, *lists = sheets
    _print_rows(report.title(result, lang), summary.headers, summary.rows, tz, total=True)
    for sheet in lists:
        if not sheet.rows:
            click.echo(report.WORDS(f"no {sheet.key}", lang, report.WORDS(empty, lang)))
            continue
        shown = sheet.rows if limit is None else sheet.rows[:limit]
        if shown:
            _print_rows(f"{sheet.title} ({len(sheet.rows)})", sheet.headers, shown, tz)
        if len(shown) < len(sheet.rows):
            click.echo(f"… {len(sheet.rows) - len(shown)} more: see --json, --csv or --xlsx")


def _run(
    settings: Settings,
    report: ReportModule[R],
    build: Callable[[Ledger], R],
    empty: str,
    output: dict[str, Any],
) -> None:
    """Open the ledger, ``build`` the report, then :func:`_show` it."""
    with settings.open() as ledger:
        result = build(ledger)
    _show(report, result, empty, settings.tz, **output)


# --------------------------------------------------------------------------- reports


@click.group("report", cls=LedgerGroup)
def report_group() -> None:
    """Reports from the read models (caught up with the log first)."""


@report_group.command("sla")
@period_options
@click.option("--contract", help="Only this contract's tickets.")
@click.option("--by", type=click.Choice(sla.GROUPINGS), default="contract", show_default=True)
@click.option("--as-of", help="Answer as the ledger stood then (ISO 8601; naive = --tz).")
@click.option(
    "--breaches",
    "max_breaches",
    type=click.IntRange(min=0),
    help="List at most N breaches in the table (files and --json always hold all).",
)
@output_options
@pass_settings
def report_sla(
    settings: Settings,
    /,
    date_from: datetime | None,
    date_to: datetime | None,
    contract: str | None,
    by: sla.Grouping,
    as_of: str | None,
    max_breaches: int | None,
    **output: Any,
) -> None:
    """SLA compliance of the tickets reported from --from to --to (dates in --tz, both
    included; cancelled tickets left out): met %, breaches, times to respond / arrive /
    resolve, per group and in total, then every breached or overdue target, then each
    metric (a contract's declared ones too) in total.

    --csv FILE writes the summary to FILE, the breaches to FILE's stem + .breaches.csv and
    the metrics to FILE's stem + .metrics.csv; --xlsx FILE writes the three as sheets."""
    period = _period(date_from, date_to)
    query = sla.ReportQuery(period.first, period.last, contract, by)
    when = time_option("--as-of", as_of, settings.tz)
    with settings.open() as ledger:
        if contract:
            ledger.contracts.get(contract)  # an unknown contract is bad input
        result = sla.sla_report(ledger, query, as_of=when)
    _show(sla, result, "no breaches", settings.tz, limit=max_breaches, **output)


@report_group.command("audit")
@period_options
@click.option("--contract", help="Only this contract's tickets.")
@click.option("--as-of", help="Answer as the ledger stood then (ISO 8601; naive = --tz).")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help="List at most N rows of each list in the table (files and --json always hold all).",
)
@output_options
@pass_settings
def report_audit(
    settings: Settings,
    /,
    date_from: datetime | None,
    date_to: datetime | None,
    contract: str | None,
    as_of: str | None,
    limit: int | None,
    **output: Any,
) -> None:
    """What an auditor should look at in the tickets reported from --from to --to (dates
    in --tz, both included; cancelled tickets too): per contract and in total, then listed,
    back-dated events (occurred more than the contract's [audit] backdating_minutes before
    they were recorded), SLA targets met only thanks to them, closings without a valid
    customer signature, events recorded by roles outside the norm, and reopenings.

    --csv FILE writes the summary to FILE and each list next to it (FILE's stem +
    .backdated.csv, .sla.csv, .signatures.csv, .roles.csv, .reopenings.csv)."""
    query = audit.AuditQuery(_period(date_from, date_to), contract)
    when = time_option("--as-of", as_of, settings.tz)
    with settings.open() as ledger:
        if contract:
            ledger.contracts.get(contract)  # an unknown contract is bad input
        result = audit.audit_report(ledger, query, as_of=when)
    _show(audit, result, "no findings", settings.tz, limit=limit, **output)


@report_group.command("satisfaction")
@period_options
@click.option(
    "--by", type=click.Choice(satisfaction.GROUPINGS), default="customer", show_default=True
)
@output_options
@pass_settings
def report_satisfaction(
    settings: Settings,
    /,
    date_from: datetime | None,
    date_to: datetime | None,
    by: satisfaction.Grouping,
    **output: Any,
) -> None:
    """Customer satisfaction (顾客满意度) of the return visits conducted and scored from
    --from to --to: per group the average scores A, B, C, D and total, the band of the
    average, the visits in each band and the trend against the previous period of the
    same length (--by quarter: against the quarter before); then the low scores
    (不太满意 or worse).

    --csv FILE writes the summary to FILE and the low scores to FILE's stem + .low.csv."""
    query = satisfaction.SatisfactionQuery(_period(date_from, date_to), by)
    _run(
        settings,
        satisfaction,
        lambda ledger: satisfaction.satisfaction_report(ledger, query),
        "no low scores",
        output,
    )


@report_group.command("assessment")
@click.option("--quarter", required=True, help="The quarter, e.g. 2026Q3 (dates in --tz).")
@output_options
@pass_settings
def report_assessment(settings: Settings, /, quarter: str, **output: Any) -> None:
    """The quarterly assessment, per engineer (inspection and rectification notices count
    against the engineer): tickets and SLA met % (as `report sla --by engineer`),
    escalations, inspection and rectification notices, reopenings, complaints, failed
    audits and the average satisfaction of their tickets' visits.

    --csv FILE writes the summary to FILE and the facts counted to FILE's stem +
    .facts.csv."""
    query = assessment.AssessmentQuery(_checked(quarter_period, quarter))
    _run(
        settings,
        assessment,
        lambda ledger: assessment.assessment_report(ledger, query),
        "no facts",
        output,
    )


@report_group.command("corrective-actions")
@period_options
@click.option("--department", help="Only this responsible department's actions.")
@output_options
@pass_settings
def report_actions(
    settings: Settings,
    /,
    date_from: datetime | None,
    date_to: datetime | None,
    department: str | None,
    **output: Any,
) -> None:
    """Corrective and preventive actions (纠正预防措施) raised from --from to --to, per
    responsible department: raised, open, overdue, verified effective / not effective,
    reworked, closed; then every open action, overdue first, with its responsible person
    and due date.

    --csv FILE writes the summary to FILE and the open actions to FILE's stem +
    .open.csv."""
    query = actions.ActionQuery(_period(date_from, date_to), department)
    _run(
        settings,
        actions,
        lambda ledger: actions.actions_report(ledger, query),
        "no open actions",
        output,
    )


@report_group.command("complaints")
@click.option("--month", required=True, help="The month, e.g. 2026-10 (dates in --tz).")
@output_options
@pass_settings
def report_complaints(settings: Settings, /, month: str, **output: Any) -> None:
    """The monthly complaint review (every complaint is recorded, analysed, handled and
    reviewed each month): the complaints received in --month by category, responsible
    department and engineer (share, ours or not, open or closed), then the list.

    --csv FILE writes the summary to FILE and the complaints to FILE's stem +
    .complaints.csv."""
    query = complaints.ComplaintQuery(_checked(month_period, month))
    _run(
        settings,
        complaints,
        lambda ledger: complaints.complaints_report(ledger, query),
        "no complaints",
        output,
    )


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
