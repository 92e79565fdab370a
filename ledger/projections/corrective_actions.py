"""The ``corrective_actions`` read model: one row per corrective action (整改), its stage,
plan and verifications; the action lists, overdue ones included."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Date, Integer, String, select

from ledger.domain.corrective_action import ACTION_EVENT_TYPES, CorrectiveAction
from ledger.domain.corrective_action import mutate as mutate_action
from ledger.projections.records import (
    RecordProjection,
    matching,
    read_rows,
    record_table,
    state_filter,
    time_column,
)
from ledger.timeutil import as_utc

action_summary = record_table(
    "action_summary",
    Column("source", String(20), nullable=False, index=True),
    Column("links", String(2000), nullable=False),
    Column("department", String(200), nullable=False, index=True),
    Column("responsible", String(200), index=True),
    Column("stage", String(20), nullable=False, index=True),
    Column("is_open", Boolean, nullable=False, index=True),
    Column("raised_at", time_column(), nullable=False, index=True),
    Column("due_on", Date),
    Column("due_by", time_column(), index=True),
    Column("plans", Integer, nullable=False),
    Column("verifications", Integer, nullable=False),
    Column("not_effective", Integer, nullable=False),
    Column("verified_effective", Boolean),
    Column("verified_at", time_column()),
    Column("closed", Boolean, nullable=False),
    Column("closed_at", time_column()),
)


def _action_row(action: CorrectiveAction) -> dict[str, Any]:
    plan = action.plan
    last = action.verifications[-1] if action.verifications else None
    return {
        "source": action.source.value,
        "links": " ".join(link.number for link in action.links),
        "department": action.department,
        "responsible": plan.responsible if plan else None,
        "stage": action.stage.value,
        "is_open": action.is_open,
        "raised_at": action.raised_at,
        "due_on": plan.due_on if plan else None,
        "due_by": plan.due_by if plan else None,
        "plans": action.plans,
        "verifications": len(action.verifications),
        "not_effective": sum(not v.effective for v in action.verifications),
        "verified_effective": last.effective if last else None,
        "verified_at": last.verified_at if last else None,
        "closed": action.closed_at is not None,
        "closed_at": action.closed_at,
    }


class CorrectiveActionProjection(RecordProjection):
    name = "corrective_actions"
    event_types = ACTION_EVENT_TYPES
    tables = (action_summary,)
    table = action_summary
    state_type = CorrectiveAction
    mutate = mutate_action
    columns = _action_row


def list_actions(
    conn: Connection,
    *,
    state: str | None = None,
    source: str | None = None,
    department: str | None = None,
    responsible: str | None = None,
    stage: str | None = None,
    overdue_at: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Corrective actions, latest raised first. ``state``: open | closed | all;
    ``overdue_at``: only those overdue then (``CorrectiveAction.is_overdue``), soonest
    due first."""
    t = action_summary
    query = matching(
        state_filter(select(t).order_by(t.c.raised_at.desc(), t.c.number.desc()), t, state),
        (t.c.source, source),
        (t.c.department, department),
        (t.c.responsible, responsible),
        (t.c.stage, stage),
    )
    if overdue_at is None:
        return read_rows(conn, query, limit)
    now = as_utc(overdue_at)
    query = query.where(t.c.due_by <= now).order_by(None).order_by(t.c.due_by, t.c.number)
    return read_rows(
        conn,
        query,
        limit,
        keep=lambda state: CorrectiveAction.model_validate_json(state).is_overdue(now),
    )


def overdue_actions(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Actions whose current plan is not implemented by the end of its due date."""
    return list_actions(conn, overdue_at=now)
