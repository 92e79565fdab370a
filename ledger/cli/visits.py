"""``ledger visit ...`` and ``ledger visits due``: return visits (回访) and quality audits."""

from __future__ import annotations

from typing import Any

import click

from ledger.cli.records import (
    history_command,
    print_list,
    print_rows,
    quality_command,
    show_command,
)
from ledger.cli.support import (
    LedgerGroup,
    Settings,
    choices,
    json_option,
    pass_settings,
    print_json,
    time_option,
)
from ledger.domain.numbering import Series
from ledger.domain.return_visit import SatisfactionBand, VisitForm, VisitPurpose, VisitStatus
from ledger.domain.visit_schedule import PERIODIC, DueStatus, contracts_visits_due
from ledger.projections.quality import VisitProjection, last_conducted, list_visits
from ledger.quality_views import due_view


@click.group(cls=LedgerGroup)
def visit() -> None:
    """Return visits (回访): the visit card, the satisfaction survey, the quality audit of a
    ticket's service form."""


visit_argument = click.argument("visit")


@quality_command(visit, "schedule", "visit_schedule", "Schedule a return visit.")
@click.option("--contract", help="Contract id. Default: the ticket's.")
@click.option("--customer", help="Default: the ticket's, else the contract's.")
@click.option("--ticket", help="The ticket whose service form the visit audits (质量部).")
@click.option("--form", type=choices(VisitForm), default=VisitForm.PHONE.value)
@click.option("--planned-at", help="When it is planned (ISO 8601). Default: --at / now.")
@click.option("--visitor", required=True, help="Who makes the visit.")
@click.option(
    "--purpose", type=choices(VisitPurpose), help="Default: ticket_audit with --ticket, else none."
)
def schedule(**_: Any) -> None: ...


@quality_command(visit, "conduct", "visit_conduct", "Record the visit made: content, opinion.")
@visit_argument
@click.option("--content", required=True, help="What was looked at and talked about.")
@click.option("--customer-opinion", help="The customer's opinion (顾客意见).")
def conduct(**_: Any) -> None: ...


@quality_command(
    visit, "score", "visit_score", "Record the satisfaction survey's four scores (0–100)."
)
@visit_argument
@click.option("-a", "--engineering-quality", type=int, required=True, help="A 工程质量.")
@click.option("-b", "--progress", type=int, required=True, help="B 进度.")
@click.option("-c", "--service", type=int, required=True, help="C 服务.")
@click.option("-d", "--performance-capability", type=int, required=True, help="D 履约能力.")
@click.option("--correction-reason", help="Scoring again corrects the scores: say why.")
def score(**_: Any) -> None: ...


@quality_command(visit, "sign", "visit_sign", "Record the customer's signature on the card.")
@visit_argument
@click.option("--signer", required=True)
def sign(**_: Any) -> None: ...


@quality_command(visit, "review", "visit_review", "Record the project manager's opinion.")
@visit_argument
@click.option("--opinion", required=True)
def review(**_: Any) -> None: ...


@quality_command(
    visit,
    "chief-review",
    "visit_chief_review",
    "Record 总工办's opinion (role chief_engineer_office; after the project manager's).",
)
@visit_argument
@click.option("--opinion", required=True)
def chief_review(**_: Any) -> None: ...


@quality_command(
    visit,
    "audit",
    "visit_audit",
    "The quality department's verdict on the ticket's service form (role quality). "
    "A failure reopens a resolved or closed ticket, with this visit as the cause.",
)
@visit_argument
@click.option("--pass", "verdict", flag_value="pass", help="The form passes.")
@click.option("--fail", "verdict", flag_value="fail", help="The form fails (needs --reason).")
@click.option("--reason", help="Why it fails.")
@click.option("--note", help="A note on a pass.")
def audit(**_: Any) -> None: ...


@quality_command(visit, "cancel", "visit_cancel", "Cancel a visit that has not taken place.")
@visit_argument
@click.option("--reason", required=True)
def cancel(**_: Any) -> None: ...


show_command(visit, "visit", Series.VISIT)
history_command(visit, "visit", Series.VISIT)


@visit.command("list")
@click.option("--contract")
@click.option("--customer")
@click.option("--ticket", help="Visits of this ticket (its number).")
@click.option("--kind", type=choices(VisitPurpose), help="The visit's purpose.")
@click.option("--status", type=choices(VisitStatus))
@click.option("--engineer", help="Visits of tickets this engineer was dispatched to.")
@click.option("--band", type=choices(SatisfactionBand))
@click.option("--audit", type=click.Choice(["passed", "failed", "pending"]))
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows.")
@json_option
@pass_settings
def list_(settings: Settings, /, as_json: bool, **filters: Any) -> None:
    """List return visits from the read model (caught up with the log first), latest
    planned first."""
    with settings.open() as ledger:
        ledger.projections.catch_up([VisitProjection.name])
        with ledger.engine.connect() as conn:
            rows = list_visits(conn, **filters)
    columns = ("number", "status", "kind", "contract_id", "ticket_number", "engineer")
    print_list(settings, rows, as_json, "visit", (*columns, "planned_at", "total", "band", "audit"))


@click.group(cls=LedgerGroup)
def visits() -> None:
    """Periodic return visits the contracts promise."""


@visits.command("due")
@click.option("--as-of", help="As of this time (ISO 8601). Default: now.")
@click.option("--contract", help="Only this contract.")
@click.option("--all", "everything", is_flag=True, help="Also the visits due later.")
@json_option
@pass_settings
def due(
    settings: Settings, as_of: str | None, contract: str | None, everything: bool, as_json: bool
) -> None:
    """Per contract in warranty, each scheduled kind of visit that is due (on the as-of
    day) or overdue, counted from the last visit of that kind conducted (or the warranty
    start); soonest first."""
    kinds = ", ".join(k.value for k in PERIODIC)
    with settings.open() as ledger:
        when = time_option("--as-of", as_of, settings.tz) or ledger.clock.now()
        ledger.projections.catch_up([VisitProjection.name])
        with ledger.engine.connect() as conn:
            last = last_conducted(conn)
        contracts = [ledger.contracts.get(contract)] if contract else ledger.contracts.list()
    found = contracts_visits_due(contracts, last, when)
    if not everything:
        found = [d for d in found if d.visit.status is not DueStatus.UPCOMING]
    views = [due_view(d.contract_id, d.customer, d.visit, settings.tz) for d in found]
    if as_json:
        print_json(views)
        return
    if not views:
        click.echo(f"no periodic visit due (kinds: {kinds})")
        return
    columns = ("contract_id", "customer", "kind", "interval", "last_conducted_at", "due_at")
    print_rows(f"{len(views)} visit(s) due", views, (*columns, "status", "days_overdue"))
