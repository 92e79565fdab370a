"""The ``ledger`` command line: an adapter that turns options into commands and
events into tables or JSON. Every rule lives in the domain; every error ends here as
one line on stderr with exit code 2 (bad input) or 1 (conflict or failure).

One module per command group; the shared plumbing is in :mod:`ledger.cli.support`."""

from __future__ import annotations

import click

from ledger.cli import contracts, projections, quality, reports, tickets, visits
from ledger.cli.export import export
from ledger.cli.feed import feed, schema
from ledger.cli.integrity import digest, verify
from ledger.cli.notify import notify
from ledger.cli.serve import serve, user
from ledger.cli.support import LedgerGroup, Settings, pass_settings
from ledger.cli.sweep import sweep
from ledger.commands.users import Users


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
@click.option(
    "--parents",
    is_flag=True,
    help="Create the SQLite file's directory (and its parents) if missing.",
)
@click.option(
    "--fixed-clock",
    is_flag=True,
    help="A demo or test ledger: recorded times come from LEDGER_NOW (only on a new, empty "
    "ledger; verify, report audit and the dossier say so).",
)
@pass_settings
def init(settings: Settings, parents: bool, fixed_clock: bool) -> None:
    """Create the event store and read models and guard the events (safe to run again).
    A SQLite file's directory must exist, unless --parents."""
    with settings.open(create=True, parents=parents, fixed_clock=fixed_clock) as ledger:
        recorded = Users(ledger.engine, ledger.clock, ledger.app).record_untracked()
        click.echo(f"ledger ready at {ledger.location.describe()}")
        click.echo("events are append-only (database triggers)")
        if ledger.fixed_clock_since is not None:
            click.echo("recorded times come from a fixed clock (LEDGER_NOW): a demo or test ledger")
        if recorded:
            click.echo(
                f"recorded the access of {len(recorded)} API user(s) added before access "
                f"was logged: {', '.join(recorded)}"
            )


cli.add_command(tickets.ticket)
cli.add_command(tickets.import_)
cli.add_command(contracts.contract)
cli.add_command(visits.visit)
cli.add_command(visits.visits)
cli.add_command(quality.action)
cli.add_command(quality.complaint)
cli.add_command(contracts.calendar)
cli.add_command(projections.projections)
cli.add_command(reports.report_group)
cli.add_command(sweep)
cli.add_command(feed)
cli.add_command(schema)
cli.add_command(digest)
cli.add_command(verify)
cli.add_command(export)
cli.add_command(serve)
cli.add_command(user)
cli.add_command(notify)


def main() -> None:
    cli(prog_name="ledger")
