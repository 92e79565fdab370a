"""Queries of the quality read models (:mod:`ledger.projections.quality`): the lists of
visits, corrective actions and complaints the CLI, the reports and the dashboard show,
filtered in the database, each row's times in UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    Table,
    func,
    select,
)

from ledger.domain.corrective_action import CorrectiveAction
from ledger.domain.return_visit import VisitPurpose
from ledger.projections.quality import action_summary, complaint_summary, visit_summary
from ledger.timeutil import as_utc

_TIMES = {
    "updated_at",
    "scheduled_at",
    "planned_at",
    "conducted_at",
    "scored_at",
    "audited_at",
    "raised_at",
    "due_by",
    "verified_at",
    "closed_at",
    "received_at",
    "analysed_at",
    "resolved_at",
}


def _rows(
    conn: Connection,
    query: Select[Any],
    limit: int | None,
    keep: Callable[[str], bool] | None = None,
) -> list[dict[str, Any]]:
    """The rows without bookkeeping, times in UTC (SQLite hands back naive ones), a visit's
    total as the exact ``Decimal`` it is (a multiple of 0.25), an action's links as a
    list. ``keep``: a test on a row's
    JSON state (applied before ``limit``)."""
    if limit and keep is None:
        query = query.limit(limit)
    result: list[dict[str, Any]] = []
    for row in conn.execute(query).mappings():
        if keep is not None and not keep(row["state"]):
            continue
        if limit and len(result) >= limit:
            break
        item = {str(k): v for k, v in row.items() if k not in ("state", "last_position")}
        for key in _TIMES & item.keys():
            value = item[key]
            item[key] = as_utc(value) if isinstance(value, datetime) else None
        if item.get("total") is not None:
            item["total"] = Decimal(item["total"])
        if "links" in item:
            item["links"] = item["links"].split()
        result.append(item)
    return result


def _matching(query: Select[Any], *pairs: tuple[Any, str | None]) -> Select[Any]:
    """Only rows whose column equals the value, for each (column, value) given a value."""
    for column, value in pairs:
        if value:
            query = query.where(column == value)
    return query


def _within(
    query: Select[Any], column: Any, start: datetime | None, end: datetime | None
) -> Select[Any]:
    """Only rows whose time ``column`` is in ``[start, end)`` (either end may be open)."""
    if start is not None:
        query = query.where(column >= as_utc(start))
    if end is not None:
        query = query.where(column < as_utc(end))
    return query


def _state_filter(query: Select[Any], table: Table, state: str | None) -> Select[Any]:
    """``state``: open | closed | all (or ``None``: all)."""
    if state in ("open", "closed"):
        return query.where(table.c.is_open.is_(state == "open"))
    return query


def list_visits(
    conn: Connection,
    *,
    contract: str | None = None,
    customer: str | None = None,
    ticket: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    engineer: str | None = None,
    band: str | None = None,
    audit: str | None = None,
    conducted_from: datetime | None = None,
    conducted_until: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Visits, latest planned first. ``conducted_from`` / ``conducted_until``: the visit
    was conducted in ``[from, until)``. ``audit``: ``passed`` | ``failed`` | ``pending``
    (a ticket's visit without a verdict)."""
    t = visit_summary
    query = _matching(
        select(t).order_by(t.c.planned_at.desc(), t.c.number.desc()),
        (t.c.contract_id, contract),
        (t.c.customer, customer),
        (t.c.ticket_number, ticket),
        (t.c.kind, kind),
        (t.c.status, status),
        (t.c.engineer, engineer),
        (t.c.band, band),
    )
    if audit == "pending":
        query = query.where(t.c.ticket_id.is_not(None), t.c.audit.is_(None))
    elif audit:
        query = query.where(t.c.audit == audit)
    return _rows(conn, _within(query, t.c.conducted_at, conducted_from, conducted_until), limit)


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
    query = _matching(
        _state_filter(select(t).order_by(t.c.raised_at.desc(), t.c.number.desc()), t, state),
        (t.c.source, source),
        (t.c.department, department),
        (t.c.responsible, responsible),
        (t.c.stage, stage),
    )
    if overdue_at is None:
        return _rows(conn, query, limit)
    now = as_utc(overdue_at)
    query = query.where(t.c.due_by <= now).order_by(None).order_by(t.c.due_by, t.c.number)
    return _rows(
        conn,
        query,
        limit,
        keep=lambda state: CorrectiveAction.model_validate_json(state).is_overdue(now),
    )


def overdue_actions(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Actions whose current plan is not implemented by the end of its due date."""
    return list_actions(conn, overdue_at=now)


def list_complaints(
    conn: Connection,
    *,
    state: str | None = None,
    customer: str | None = None,
    contract: str | None = None,
    category: str | None = None,
    department: str | None = None,
    engineer: str | None = None,
    status: str | None = None,
    received_from: datetime | None = None,
    received_until: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Complaints, latest received first. ``state``: open | closed | all; received in
    ``[received_from, received_until)``."""
    t = complaint_summary
    query = _matching(
        _state_filter(select(t).order_by(t.c.received_at.desc(), t.c.number.desc()), t, state),
        (t.c.customer, customer),
        (t.c.contract_id, contract),
        (t.c.category, category),
        (t.c.department, department),
        (t.c.engineer, engineer),
        (t.c.status, status),
    )
    return _rows(conn, _within(query, t.c.received_at, received_from, received_until), limit)


def last_conducted(conn: Connection) -> dict[tuple[str, VisitPurpose], datetime]:
    """When each contract's last visit of each kind was conducted (cancelled visits were
    never conducted; visits without a kind are left out)."""
    t = visit_summary
    query = (
        select(t.c.contract_id, t.c.kind, func.max(t.c.conducted_at))
        .where(t.c.conducted_at.is_not(None), t.c.kind.is_not(None))
        .group_by(t.c.contract_id, t.c.kind)
    )
    return {
        (contract_id, VisitPurpose(kind)): as_utc(last)
        for contract_id, kind, last in conn.execute(query)
    }
