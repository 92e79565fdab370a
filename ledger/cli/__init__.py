"""The ``ledger`` command line: an adapter that turns options into commands and
events into tables or JSON. Every rule lives in the domain; every error ends here as
one line on stderr with exit code 2 (bad input) or 1 (conflict or failure).

One module per command group, imported only when that group runs (:mod:`ledger.cli.lazy`):
a new group is one line of ``COMMANDS``. The shared plumbing is in :mod:`ledger.cli.support`."""

from __future__ import annotations

import click

from ledger.cli.lazy import Lazy, LazyGroup
from ledger.cli.support import Settings, pass_settings

# fmt: off
COMMANDS: dict[str, Lazy] = {
    # name: Lazy("module:attribute", "its first help sentence, as `ledger --help` lists it")
    "action": Lazy("ledger.cli.quality:action", "Corrective and preventive actions (纠正预防措施): the seven boxes of the card."),  # noqa: E501
    "calendar": Lazy("ledger.cli.contracts:calendar", "China's official working days (工作日): bundled years and loaded notices."),  # noqa: E501
    "complaint": Lazy("ledger.cli.quality:complaint", "Complaints (投诉): received, analysed, resolved, closed."),  # noqa: E501
    "contract": Lazy("ledger.cli.contracts:contract", "Service contracts (服务合同): the promises tickets are judged by."),  # noqa: E501
    "digest": Lazy("ledger.cli.integrity:digest", "Take a digest: the chain's head (position, hash, time), signed when a key is set."),  # noqa: E501
    "export": Lazy("ledger.cli.export:export", "The audit dossier of one ticket: timeline (who, occurred vs recorded, back-dated flags), SLA verdicts, signature, linked visits/actions/complaints, each event's hash and the digests it was checked against."),  # noqa: E501
    "feed": Lazy("ledger.cli.feed:feed", "Write events as CloudEvents 1.0 JSON, one object per line, in chain order."),  # noqa: E501
    "import": Lazy("ledger.cli.tickets:import_", "Apply a JSON-lines file of commands in order, in batches; safe to run again."),  # noqa: E501
    "notify": Lazy("ledger.cli.notify:notify", "Notifications (通知): escalations, at-risk warnings and notices pushed to WeCom, DingTalk, Feishu, e-mail and signed webhooks."),  # noqa: E501
    "privacy": Lazy("ledger.cli.privacy:privacy", "Personal information (个人信息, PIPL): find, export and erase a data subject's."),  # noqa: E501
    "projections": Lazy("ledger.cli.projections:projections", "Read models that follow the event log."),  # noqa: E501
    "relay": Lazy("ledger.cli.relay:relay", "Relay the event feed into a message broker, each event exactly once, in order."),  # noqa: E501
    "report": Lazy("ledger.cli.reports:report_group", "Reports from the read models (caught up with the log first)."),  # noqa: E501
    "schema": Lazy("ledger.cli.feed:schema", "JSON Schemas of the feed's events."),
    "serve": Lazy("ledger.cli.serve:serve", "Serve the HTTP API (event feed, tickets, SLA report, and every command as a write; docs/api.md) and the supervisor dashboard (/dashboard; docs/dashboard.md) until Ctrl-C or SIGTERM."),  # noqa: E501
    "sweep": Lazy("ledger.cli.sweep:sweep", "Escalate overdue tickets, flag owed replacement units, issue overdue notices."),  # noqa: E501
    "ticket": Lazy("ledger.cli.ticket_show:ticket", "Record and read service tickets (服务单)."),
    "user": Lazy("ledger.cli.serve:user", "API users (`ledger serve`): who may read the ledger over HTTP, with which token."),  # noqa: E501
    "verify": Lazy("ledger.cli.integrity:verify", "Check the whole log: every hash, positions, versions, and each digest."),  # noqa: E501
    "visit": Lazy("ledger.cli.visits:visit", "Return visits (回访): the visit card, the satisfaction survey, the quality audit of a ticket's service form."),  # noqa: E501
    "visits": Lazy("ledger.cli.visits:visits", "Periodic return visits the contracts promise."),
}
# fmt: on


@click.group(cls=LazyGroup, lazy=COMMANDS)
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
@click.option(
    "--evidence",
    help="Evidence store: a folder or s3://bucket/prefix (or LEDGER_EVIDENCE; default for "
    "SQLite: the folder FILE.evidence beside the database).",
)
@click.version_option(package_name="ledger")
@click.pass_context
def cli(ctx: click.Context, db: str | None, tz_name: str | None, evidence: str | None) -> None:
    """ledger: an event-sourced ledger for after-sales service (售后服务台账)."""
    ctx.obj = Settings(db, tz_name, evidence)


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
    from ledger.commands.users import Users

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


def main() -> None:
    cli(prog_name="ledger")
