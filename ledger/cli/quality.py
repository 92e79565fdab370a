"""``ledger action ...`` (纠正预防措施) and ``ledger complaint ...`` (投诉)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import click

from ledger.cli.records import history_command, print_list, quality_command, show_command
from ledger.cli.support import (
    LedgerGroup,
    Settings,
    choices,
    fail,
    json_option,
    pass_settings,
)
from ledger.domain.complaint import ComplaintCategory, ComplaintStatus, ComplaintSubject
from ledger.domain.corrective_action import ActionStage, IssueSource
from ledger.domain.numbering import Series
from ledger.domain.values import Channel
from ledger.projections.quality import (
    ComplaintProjection,
    CorrectiveActionProjection,
    list_actions,
    list_complaints,
)


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


action_argument = click.argument("action")


@quality_command(
    action,
    "raise",
    "action_raise",
    "Raise a quality issue (质量信息); each visit and complaint it links gets the link back.",
)
@click.option("--content", required=True, help="The quality information.")
@click.option("--source", type=choices(IssueSource), required=True)
@click.option("--department", required=True, help="The responsible department.")
@click.option(
    "--link", "links", multiple=True, help="A visit, complaint or ticket it came from (repeat)."
)
def raise_(**_: Any) -> None: ...


@quality_command(action, "analyse", "action_analyse", "Record the cause analysis (原因分析).")
@action_argument
@click.option("--cause", required=True)
def analyse(**_: Any) -> None: ...


@quality_command(
    action,
    "plan",
    "action_plan",
    "Record the corrective and preventive plan (after the analysis, or after a "
    "verification found the last plan not effective).",
)
@action_argument
@click.option("--corrective", required=True, help="The corrective measures.")
@click.option("--preventive", required=True, help="The preventive measures.")
@click.option("--responsible", required=True, help="The responsible person.")
@click.option("--due", "due_on", required=True, help="Due date (YYYY-MM-DD, in --tz).")
def plan(**_: Any) -> None: ...


@quality_command(action, "implement", "action_implement", "Record the implementation.")
@action_argument
@click.option("--description", required=True)
def implement(**_: Any) -> None: ...


@quality_command(action, "result", "action_result", "Record the result.")
@action_argument
@click.option("--result", required=True)
def result(**_: Any) -> None: ...


@quality_command(
    action,
    "verify",
    "action_verify",
    "Verify the effectiveness (role chief_engineer_office or quality); "
    "not effective → a new plan is due.",
)
@action_argument
@click.option("--effective/--not-effective", default=None, help="The verdict (required).")
@click.option("--comment", required=True)
def verify(**_: Any) -> None: ...


@quality_command(action, "close", "action_close", "Close an action verified effective.")
@action_argument
@click.option("--note")
def close_action(**_: Any) -> None: ...


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


complaint_argument = click.argument("complaint")


@quality_command(complaint, "receive", "complaint_receive", "Record a complaint received.")
@click.option("--channel", type=choices(Channel), default=Channel.PHONE.value)
@click.option("--customer", help="Default: the ticket's, else the contract's.")
@click.option("--contract", help="Contract id. Default: the ticket's.")
@click.option("--about", type=choices(ComplaintSubject), required=True)
@click.option("--reference", required=True, help="The ticket number, the engineer or the product.")
@click.option("--category", type=choices(ComplaintCategory), required=True)
@click.option("--content", required=True)
def receive(**_: Any) -> None: ...


@quality_command(
    complaint, "analyse", "complaint_analyse", "Record the cause and who is responsible."
)
@complaint_argument
@click.option("--cause", required=True)
@click.option("--department", required=True, help="The responsible department.")
@click.option("--ours/--not-ours", default=None, help="Whether the cause lies with us (required).")
def analyse_complaint(**_: Any) -> None: ...


@quality_command(
    complaint, "resolve", "complaint_resolve", "Record the handling and the result reported."
)
@complaint_argument
@click.option("--handling", required=True)
@click.option("--result", required=True, help="The result as reported to the customer.")
def resolve(**_: Any) -> None: ...


@quality_command(complaint, "close", "complaint_close", "Close a resolved complaint.")
@complaint_argument
@click.option("--note")
def close_complaint(**_: Any) -> None: ...


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
