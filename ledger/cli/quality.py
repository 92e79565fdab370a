"""``ledger action ...`` (纠正预防措施) and ``ledger complaint ...`` (投诉)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import click

from ledger.cli.evidence import attach_command
from ledger.cli.records import history_command, print_list, quality_commands, show_command
from ledger.cli.support import (
    LedgerGroup,
    Settings,
    choices,
    fail,
    json_option,
    pass_settings,
)
from ledger.domain.complaint import ComplaintCategory, ComplaintStatus
from ledger.domain.corrective_action import ActionStage, IssueSource
from ledger.domain.numbering import Series
from ledger.projections.complaints import ComplaintProjection, list_complaints
from ledger.projections.corrective_actions import CorrectiveActionProjection, list_actions


def state_options(f: Any) -> Any:
    """``--open`` (default) | ``--closed`` | ``--all``."""
    f = click.option("--all", "state", flag_value="all", help="Every one.")(f)
    f = click.option("--closed", "state", flag_value="closed", help="Closed ones.")(f)
    return click.option(
        "--open", "state", flag_value="open", default=True, help="Open ones (default)."
    )(f)


# --------------------------------------------------------------------------- actions


@click.group(cls=LedgerGroup)
def action() -> None:
    """Corrective and preventive actions (纠正预防措施): the seven boxes of the card."""


quality_commands(action, "action")
attach_command(action, "action")
show_command(action, "action", Series.CORRECTIVE_ACTION)
history_command(action, "action", Series.CORRECTIVE_ACTION)


@action.command("list")
@state_options
@click.option("--overdue", is_flag=True, help="Only actions past their due date, unimplemented.")
@click.option("--source", type=choices(IssueSource))
@click.option("--department")
@click.option("--responsible")
@click.option("--stage", type=choices(ActionStage))
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows.")
@json_option
@pass_settings
def list_action(settings: Settings, /, as_json: bool, overdue: bool, **filters: Any) -> None:
    """List corrective actions from the read model (caught up with the log first),
    latest raised first (with --overdue: soonest due first)."""
    with settings.open() as ledger:
        ledger.projections.catch_up([CorrectiveActionProjection.name])
        now = ledger.clock.now() if overdue else None
        with ledger.engine.connect() as conn:
            rows = list_actions(conn, overdue_at=now, **filters)
    columns = ("number", "stage", "source", "links", "department", "responsible", "due_on")
    print_list(settings, rows, as_json, "action", (*columns, "verified_effective"))


# --------------------------------------------------------------------------- complaints


@click.group(cls=LedgerGroup)
def complaint() -> None:
    """Complaints (投诉): received, analysed, resolved, closed."""


quality_commands(complaint, "complaint")
show_command(complaint, "complaint", Series.COMPLAINT)
history_command(complaint, "complaint", Series.COMPLAINT)


def _month(text: str | None, settings: Settings) -> tuple[datetime | None, datetime | None]:
    """``2026-10`` → the month's first instant and the next month's, in the zone."""
    if text is None:
        return None, None
    try:
        first = date.fromisoformat(f"{text.strip()}-01")
    except ValueError:
        fail(f"--month: {text!r} is not a month (e.g. 2026-10)")
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (
        datetime.combine(first, time(0), tzinfo=settings.tz),
        datetime.combine(following, time(0), tzinfo=settings.tz),
    )


@complaint.command("list")
@state_options
@click.option("--customer")
@click.option("--contract")
@click.option("--category", type=choices(ComplaintCategory))
@click.option("--department")
@click.option("--engineer", help="About this engineer, or about a ticket dispatched to them.")
@click.option("--status", type=choices(ComplaintStatus))
@click.option("--month", help="Received in this month (YYYY-MM, in --tz).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows.")
@json_option
@pass_settings
def list_complaint(settings: Settings, /, as_json: bool, month: str | None, **filters: Any) -> None:
    """List complaints from the read model (caught up with the log first), latest
    received first."""
    start, end = _month(month, settings)
    with settings.open() as ledger:
        ledger.projections.catch_up([ComplaintProjection.name])
        with ledger.engine.connect() as conn:
            rows = list_complaints(conn, received_from=start, received_until=end, **filters)
    columns = ("number", "status", "category", "customer", "about", "reference", "engineer")
    print_list(settings, rows, as_json, "complaint", (*columns, "department", "received_at"))
