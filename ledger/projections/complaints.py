"""The ``complaints`` read model: one row per complaint (投诉), credited to the engineer it
is about or to its ticket's (:mod:`ledger.projections.records`); the complaint lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Integer, String, Uuid, select

from ledger.domain.complaint import COMPLAINT_EVENT_TYPES, Complaint, ComplaintSubject
from ledger.domain.complaint import mutate as mutate_complaint
from ledger.domain.ticket import Dispatched
from ledger.projections.records import (
    RecordProjection,
    engineers_table,
    matching,
    read_rows,
    record_table,
    state_filter,
    time_column,
    within,
)

complaint_summary = record_table(
    "complaint_summary",
    Column("channel", String(20), nullable=False),
    Column("customer", String(200), nullable=False, index=True),
    Column("contract_id", String(200), index=True),
    Column("about", String(20), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("ticket_id", Uuid, index=True),
    Column("engineer", String(200), index=True),
    Column("category", String(20), nullable=False, index=True),
    Column("department", String(200), index=True),
    Column("ours", Boolean),
    Column("status", String(20), nullable=False, index=True),
    Column("is_open", Boolean, nullable=False, index=True),
    Column("received_at", time_column(), nullable=False, index=True),
    Column("analysed_at", time_column()),
    Column("resolved_at", time_column()),
    Column("closed_at", time_column()),
    Column("corrective_actions", Integer, nullable=False),
)
complaint_engineers = engineers_table("complaint_ticket_engineers")


def _complaint_row(complaint: Complaint) -> dict[str, Any]:
    return {
        "channel": complaint.channel.value,
        "customer": complaint.customer,
        "contract_id": complaint.contract_id,
        "about": complaint.about.value,
        "reference": complaint.reference,
        "ticket_id": complaint.ticket_id,
        "category": complaint.category.value,
        "department": complaint.department,
        "ours": complaint.ours,
        "status": complaint.status.value,
        "is_open": complaint.is_open,
        "received_at": complaint.received_at,
        "analysed_at": complaint.analysed_at,
        "resolved_at": complaint.resolved_at,
        "closed_at": complaint.closed_at,
        "corrective_actions": len(complaint.corrective_actions),
    }


def _complaint_engineer(complaint: Complaint) -> str | None:
    """About an engineer: that engineer (about a ticket: the ticket's, looked up)."""
    return complaint.reference if complaint.about is ComplaintSubject.ENGINEER else None


class ComplaintProjection(RecordProjection):
    name = "complaints"
    event_types = (*COMPLAINT_EVENT_TYPES, Dispatched)
    tables = (complaint_summary, complaint_engineers)
    table = complaint_summary
    state_type = Complaint
    mutate = mutate_complaint
    columns = _complaint_row
    engineers = complaint_engineers
    own_engineer = _complaint_engineer


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
    query = matching(
        state_filter(select(t).order_by(t.c.received_at.desc(), t.c.number.desc()), t, state),
        (t.c.customer, customer),
        (t.c.contract_id, contract),
        (t.c.category, category),
        (t.c.department, department),
        (t.c.engineer, engineer),
        (t.c.status, status),
    )
    return read_rows(conn, within(query, t.c.received_at, received_from, received_until), limit)
