"""``ledger visit ...`` and ``ledger visits due``: return visits (回访) and quality audits."""

from __future__ import annotations

from typing import Any

import click

from ledger.cli.evidence import attach_command
from ledger.cli.records import (
    history_command,
    print_list,
    print_rows,
    quality_commands,
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
from ledger.domain.return_visit import VisitStatus
from ledger.domain.satisfaction import SatisfactionBand
from ledger.domain.values import VisitPurpose
from ledger.domain.visit_schedule import PERIODIC, DueStatus, contracts_visits_due
from ledger.presenters.quality import due_view
from ledger.projections.visits import VisitProjection, last_conducted, list_visits


@click.group(cls=LedgerGroup)
def visit() -> None:
    """Return visits (回访): the visit card, the satisfaction survey, the quality audit of a
    ticket's service form."""


quality_commands(visit, "visit")
attach_command(visit, "visit")
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
