"""The ``visits`` read model: one row per return visit (回访), its total and band from the
domain's ``satisfaction_total`` / ``satisfaction_band``, credited to the ticket's engineer
(:mod:`ledger.projections.records`); the visit lists and when each kind was last conducted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Float, Integer, String, Uuid, func, select

from ledger.domain.return_visit import VISIT_EVENT_TYPES, ReturnVisit
from ledger.domain.return_visit import mutate as mutate_visit
from ledger.domain.ticket import Dispatched
from ledger.domain.values import VisitPurpose
from ledger.projections.records import (
    RecordProjection,
    engineers_table,
    matching,
    read_rows,
    record_table,
    time_column,
    within,
)
from ledger.timeutil import as_utc

visit_summary = record_table(
    "visit_summary",
    Column("contract_id", String(200), nullable=False, index=True),
    Column("customer", String(200), nullable=False, index=True),
    Column("ticket_id", Uuid, index=True),
    Column("ticket_number", String(32)),
    Column("engineer", String(200), index=True),
    Column("kind", String(40), index=True),
    Column("form", String(20), nullable=False),
    Column("visitor", String(200), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("cancelled", Boolean, nullable=False),
    Column("scheduled_at", time_column(), nullable=False),
    Column("planned_at", time_column(), nullable=False, index=True),
    Column("conducted_at", time_column(), index=True),
    Column("engineering_quality", Integer),
    Column("progress", Integer),
    Column("service", Integer),
    Column("performance_capability", Integer),
    Column("total", Float),
    Column("band", String(30), index=True),
    Column("scored_at", time_column()),
    Column("score_corrections", Integer, nullable=False),
    Column("signed", Boolean, nullable=False),
    Column("manager_reviewed", Boolean, nullable=False),
    Column("chief_engineer_reviewed", Boolean, nullable=False),
    Column("audit", String(10), index=True),
    Column("audited_at", time_column()),
    Column("corrective_actions", Integer, nullable=False),
)
visit_engineers = engineers_table("visit_ticket_engineers")


def _visit_row(visit: ReturnVisit) -> dict[str, Any]:
    scores = visit.scores
    audit = visit.audit
    return {
        "contract_id": visit.contract_id,
        "customer": visit.customer,
        "ticket_id": visit.ticket_id,
        "ticket_number": visit.ticket_number,
        "kind": visit.purpose.value if visit.purpose else None,
        "form": visit.form.value,
        "visitor": visit.visitor,
        "status": visit.status.value,
        "cancelled": visit.cancelled_at is not None,
        "scheduled_at": visit.scheduled_at,
        "planned_at": visit.planned_at,
        "conducted_at": visit.conducted_at,
        "engineering_quality": scores.engineering_quality if scores else None,
        "progress": scores.progress if scores else None,
        "service": scores.service if scores else None,
        "performance_capability": scores.performance_capability if scores else None,
        "total": float(scores.total) if scores else None,
        "band": scores.band.value if scores else None,
        "scored_at": visit.scored_at,
        "score_corrections": visit.score_corrections,
        "signed": visit.signer is not None,
        "manager_reviewed": visit.manager_review is not None,
        "chief_engineer_reviewed": visit.chief_engineer_review is not None,
        "audit": None if audit is None else ("passed" if audit.passed else "failed"),
        "audited_at": audit.audited_at if audit else None,
        "corrective_actions": len(visit.corrective_actions),
    }


class VisitProjection(RecordProjection):
    name = "visits"
    event_types = (*VISIT_EVENT_TYPES, Dispatched)
    tables = (visit_summary, visit_engineers)
    table = visit_summary
    state_type = ReturnVisit
    mutate = mutate_visit
    columns = _visit_row
    engineers = visit_engineers


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
    query = matching(
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
    return read_rows(conn, within(query, t.c.conducted_at, conducted_from, conducted_until), limit)


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
