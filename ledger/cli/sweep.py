"""``ledger sweep``: the escalation sweep and overdue notices, for cron or a systemd timer."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import click

from ledger.cli.support import (
    FAILURE,
    Settings,
    fail,
    json_option,
    pass_settings,
    plural,
    print_json,
    time_option,
)
from ledger.commands.sweep import Done, SweepReport
from ledger.domain.sweep import SweepKind
from ledger.domain.ticket import Escalated
from ledger.presenters.tickets import event_view
from ledger.timeutil import show

WHAT = {
    SweepKind.REPLACEMENT_FLAGGED: "replacement unit flagged",
    SweepKind.INSPECTION_NOTICE: "inspection notice (检查单)",
    SweepKind.RECTIFICATION_NOTICE: "rectification notice (整改通知单)",
    SweepKind.AT_RISK: "at-risk warning (临近超时)",
    SweepKind.METRIC_OVERDUE: "overdue noted (逾期)",
}

COUNTED = {
    SweepKind.ESCALATED: "escalation",
    SweepKind.REPLACEMENT_FLAGGED: "replacement flag",
    SweepKind.INSPECTION_NOTICE: "inspection notice",
    SweepKind.RECTIFICATION_NOTICE: "rectification notice",
    SweepKind.AT_RISK: "at-risk warning",
    SweepKind.METRIC_OVERDUE: "overdue note",
}


@click.command("sweep")
@click.option(
    "--now",
    "now_text",
    help="Sweep as of this time (ISO 8601; naive = --tz). Default: now. Not in the future.",
)
@click.option("--dry-run", is_flag=True, help="Decide and print, but record nothing.")
@json_option
@pass_settings
def sweep(settings: Settings, now_text: str | None, dry_run: bool, as_json: bool) -> None:
    """Escalate overdue tickets, flag owed replacement units, issue overdue notices.

    Safe to run as often as you like and from several hosts at once: what it records is
    decided from each ticket's state, so a second run at the same time records nothing.
    """
    now = time_option("--now", now_text, settings.tz)
    with settings.open() as ledger:
        report = ledger.sweep.run(now, dry_run=dry_run)
    if as_json:
        print_json(report_view(report, settings.tz))
    else:
        for done in report.done:
            click.echo(action_line(done))
        click.echo(summary_line(report, settings.tz))
    for problem in report.problems:
        click.echo(f"{problem.number}: {problem.message}", err=True)
    if report.problems:
        fail(f"{plural(len(report.problems), 'ticket')} not swept", FAILURE)


def action_line(done: Done) -> str:
    event = done.action.event
    if isinstance(event, Escalated):
        what = f"escalated {event.from_level.value} → {event.to_level.value}"
    else:
        what = WHAT[done.action.kind]
    return f"{done.number}  {what}: {done.action.why}"


def summary_line(report: SweepReport, tz: tzinfo) -> str:
    counts = ", ".join(plural(n, COUNTED[SweepKind(kind)]) for kind, n in report.counts().items())
    verb = "would record" if report.dry_run else "recorded"
    line = (
        f"sweep as of {show(report.now, tz)}: {plural(report.checked, 'open ticket')} checked, "
        f"{verb} {plural(len(report.done), 'action')} ({counts})"
    )
    return line + (" — dry run, nothing recorded" if report.dry_run else "")


def report_view(report: SweepReport, tz: tzinfo) -> dict[str, Any]:
    return {
        "now": show(report.now, tz),
        "dry_run": report.dry_run,
        "checked": report.checked,
        "counts": report.counts(),
        "actions": [
            {
                "ticket": done.number,
                "action": done.action.kind.value,
                "why": done.action.why,
                "since": show(done.action.since, tz),
                "event": event_view(done.action.event, tz),
            }
            for done in report.done
        ],
        "problems": [{"ticket": p.number, "message": p.message} for p in report.problems],
        "retries": report.retries,
    }
