"""Read models of quality supervision: ``visits``, ``corrective_actions``, ``complaints``.

Each keeps one row per record: filter columns plus the record's full domain state as
JSON, advanced with the domain's own ``mutate`` (as the ticket list does), so a list can
never disagree with ``show`` about what an event does. Derived columns come from the
domain too: a visit's total and band from ``satisfaction_total`` / ``satisfaction_band``.

**Engineers.** The visits and complaints read models also follow ``Dispatched`` and keep
their own copy of each ticket's engineer (so each can be rebuilt alone). A visit of a
ticket, or a complaint about one, is credited to the engineer the ticket was last
dispatched to before the record was made; when the ticket had none yet, to the first
engineer dispatched after. Re-dispatching a reopened ticket does not move it. A complaint
about an engineer names the engineer itself.

Events take effect in log order, so a live projection (a few events a batch) and a rebuild
(hundreds) agree: a batch folds each record's events in memory from its stored state (read
once), replays the dispatches and record creations in order to credit engineers, and writes
each touched row once, with one ``executemany`` per statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    Select,
    String,
    Table,
    Text,
    Uuid,
    func,
    select,
)

from ledger.domain.complaint import (
    COMPLAINT_EVENT_TYPES,
    Complaint,
    ComplaintSubject,
)
from ledger.domain.complaint import mutate as mutate_complaint
from ledger.domain.corrective_action import ACTION_EVENT_TYPES, CorrectiveAction
from ledger.domain.corrective_action import mutate as mutate_action
from ledger.domain.model import Aggregate, DomainEvent
from ledger.domain.return_visit import VISIT_EVENT_TYPES, ReturnVisit, VisitPurpose
from ledger.domain.return_visit import mutate as mutate_visit
from ledger.domain.ticket import Dispatched
from ledger.projections.base import Projection, chunks, insert_rows, update_rows
from ledger.storage.tables import metadata
from ledger.timeutil import as_utc


def _record_table(name: str, *columns: Column[Any]) -> Table:
    """A table of one row per numbered record: its id and number, ``columns``, and the
    bookkeeping every such row has (version, last change, log position, JSON state)."""
    return Table(
        name,
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("number", String(32), nullable=False, unique=True),
        *columns,
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("version", Integer, nullable=False),
        Column("last_position", BigInteger, nullable=False),
        Column("state", Text, nullable=False),
    )


def _engineers_table(name: str) -> Table:
    """A projection's own copy of each ticket's last dispatched engineer."""
    return Table(
        name,
        metadata,
        Column("ticket_id", Uuid, primary_key=True),
        Column("engineer", String(200), nullable=False),
    )


def _time() -> Any:
    return DateTime(timezone=True)


visit_summary = _record_table(
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
    Column("scheduled_at", _time(), nullable=False),
    Column("planned_at", _time(), nullable=False, index=True),
    Column("conducted_at", _time(), index=True),
    Column("engineering_quality", Integer),
    Column("progress", Integer),
    Column("service", Integer),
    Column("performance_capability", Integer),
    Column("total", Float),
    Column("band", String(30), index=True),
    Column("scored_at", _time()),
    Column("score_corrections", Integer, nullable=False),
    Column("signed", Boolean, nullable=False),
    Column("manager_reviewed", Boolean, nullable=False),
    Column("chief_engineer_reviewed", Boolean, nullable=False),
    Column("audit", String(10), index=True),
    Column("audited_at", _time()),
    Column("corrective_actions", Integer, nullable=False),
)
visit_engineers = _engineers_table("visit_ticket_engineers")

action_summary = _record_table(
    "action_summary",
    Column("source", String(20), nullable=False, index=True),
    Column("links", String(2000), nullable=False),
    Column("department", String(200), nullable=False, index=True),
    Column("responsible", String(200), index=True),
    Column("stage", String(20), nullable=False, index=True),
    Column("is_open", Boolean, nullable=False, index=True),
    Column("raised_at", _time(), nullable=False, index=True),
    Column("due_on", Date),
    Column("due_by", _time(), index=True),
    Column("plans", Integer, nullable=False),
    Column("verifications", Integer, nullable=False),
    Column("not_effective", Integer, nullable=False),
    Column("verified_effective", Boolean),
    Column("verified_at", _time()),
    Column("closed", Boolean, nullable=False),
    Column("closed_at", _time()),
)

complaint_summary = _record_table(
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
    Column("received_at", _time(), nullable=False, index=True),
    Column("analysed_at", _time()),
    Column("resolved_at", _time()),
    Column("closed_at", _time()),
    Column("corrective_actions", Integer, nullable=False),
)
complaint_engineers = _engineers_table("complaint_ticket_engineers")


# --------------------------------------------------------------------------- rows


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


# --------------------------------------------------------------------------- projections


class RecordProjection(Projection):
    """One row per record, its state folded with the domain's ``mutate``; optionally
    crediting records of a ticket to the ticket's engineer (``engineers``)."""

    table: ClassVar[Table]
    state_type: ClassVar[type[Aggregate]]
    mutate: ClassVar[Callable[[Any, Any], Any]]
    columns: ClassVar[Callable[[Any], dict[str, Any]]]
    engineers: ClassVar[Table | None] = None
    own_engineer: ClassVar[Callable[[Any], str | None] | None] = None

    def apply(self, conn: Connection, events: Sequence[tuple[int, DomainEvent]]) -> None:
        """Fold the batch's records in memory (each stored state read once), credit
        engineers in log order, then write each touched row once."""
        states, stored = self._load(conn, events)
        positions: dict[UUID, int] = {}
        created: dict[UUID, int] = {}  # records first seen in this batch: index of the event
        dispatches: list[tuple[int, Dispatched]] = []
        for index, (position, event) in enumerate(events):
            if isinstance(event, Dispatched):
                dispatches.append((index, event))
                continue
            key = event.originator_id
            states[key] = type(self).mutate(event, states.get(key))
            positions[key] = position
            if key not in stored and key not in created:
                created[key] = index
        rows = {key: self._row(states[key], position) for key, position in positions.items()}
        new = [{"id": key, **rows[key]} for key in created]
        if self.engineers is not None:
            credited = self._credit(conn, states, created, dispatches)
            for row in new:
                row["engineer"] = credited[row["id"]]
        update_rows(conn, self.table, "id", {k: v for k, v in rows.items() if k in stored})
        insert_rows(conn, self.table, new)

    def _load(
        self, conn: Connection, events: Sequence[tuple[int, DomainEvent]]
    ) -> tuple[dict[UUID, Any], set[UUID]]:
        """The stored states of the batch's records (one ``SELECT ... IN`` per chunk)."""
        table = self.table
        wanted = {e.originator_id for _, e in events if not isinstance(e, Dispatched)}
        states: dict[UUID, Any] = {}
        for chunk in chunks(wanted):
            query = select(table.c.id, table.c.state).where(table.c.id.in_(chunk))
            for row in conn.execute(query):
                states[row.id] = self.state_type.model_validate_json(row.state)
        return states, set(states)

    def _row(self, state: Any, position: int) -> dict[str, Any]:
        return {
            "number": state.number,
            **type(self).columns(state),
            "updated_at": state.modified_on,
            "version": state.version,
            "last_position": position,
            "state": state.model_dump_json(),
        }

    def _credit(
        self,
        conn: Connection,
        states: dict[UUID, Any],
        created: dict[UUID, int],
        dispatches: list[tuple[int, Dispatched]],
    ) -> dict[UUID, str | None]:
        """Replay the batch's dispatches and record creations in log order: the engineer
        each new record is credited to; stored records still without one get their
        ticket's first dispatch, and the engineers table its last.

        A record's ticket is fixed when it is made, so its final state's ``ticket_id`` is
        the one it had then; so is a complaint's own engineer."""
        engineers, table = self.engineers, self.table
        assert engineers is not None
        own = type(self).own_engineer
        tickets = {key: states[key].ticket_id for key in created}
        wanted = {e.originator_id for _, e in dispatches} | {t for t in tickets.values() if t}
        last: dict[UUID, str] = {}
        for chunk in chunks(wanted):
            query = select(engineers.c.ticket_id, engineers.c.engineer).where(
                engineers.c.ticket_id.in_(chunk)
            )
            last.update({row.ticket_id: row.engineer for row in conn.execute(query)})
        known = set(last)
        credited: dict[UUID, str | None] = {}
        waiting: dict[UUID, list[UUID]] = {}  # ticket → new records still without one
        steps = sorted(
            [(index, None, key) for key, index in created.items()]
            + [(index, event, None) for index, event in dispatches],
            key=lambda step: step[0],
        )
        first: dict[UUID, str] = {}
        for _, dispatch, key in steps:
            if dispatch is not None:
                ticket_id = dispatch.originator_id
                last[ticket_id] = dispatch.engineer
                first.setdefault(ticket_id, dispatch.engineer)
                for record in waiting.pop(ticket_id, ()):
                    credited[record] = dispatch.engineer
                continue
            assert key is not None
            engineer = own(states[key]) if own is not None else None
            ticket_id = tickets[key]
            if engineer is None and ticket_id is not None:
                engineer = last.get(ticket_id)
                if engineer is None:
                    waiting.setdefault(ticket_id, []).append(key)
            credited[key] = engineer
        changed = {t: e for t, e in last.items() if t in first}
        update_rows(
            conn,
            engineers,
            "ticket_id",
            {t: {"engineer": e} for t, e in changed.items() if t in known},
        )
        insert_rows(
            conn,
            engineers,
            [{"ticket_id": t, "engineer": e} for t, e in changed.items() if t not in known],
        )
        self._credit_stored(conn, table, first)
        return credited

    @staticmethod
    def _credit_stored(conn: Connection, table: Table, first: dict[UUID, str]) -> None:
        """Stored records of the dispatched tickets still without an engineer: the ticket's
        first dispatch in the batch (run before the batch's new rows are inserted)."""
        waiting: dict[UUID, str] = {}
        for chunk in chunks(first):
            query = select(table.c.id, table.c.ticket_id).where(
                table.c.ticket_id.in_(chunk), table.c.engineer.is_(None)
            )
            waiting.update({row.id: first[row.ticket_id] for row in conn.execute(query)})
        update_rows(conn, table, "id", {k: {"engineer": e} for k, e in waiting.items()})


class VisitProjection(RecordProjection):
    name = "visits"
    event_types = (*VISIT_EVENT_TYPES, Dispatched)
    tables = (visit_summary, visit_engineers)
    table = visit_summary
    state_type = ReturnVisit
    mutate = mutate_visit
    columns = _visit_row
    engineers = visit_engineers


class CorrectiveActionProjection(RecordProjection):
    name = "corrective_actions"
    event_types = ACTION_EVENT_TYPES
    tables = (action_summary,)
    table = action_summary
    state_type = CorrectiveAction
    mutate = mutate_action
    columns = _action_row


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


# --------------------------------------------------------------------------- queries

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
