"""JSON shapes of return visits, corrective actions and complaints (documented in
docs/cli.md). Times are ISO 8601 in the user's zone, with the offset; enums are their
string values; a satisfaction total is a number (a multiple of 0.25)."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.domain.complaint import Complaint
from ledger.domain.corrective_action import NEXT_STEP, CorrectiveAction
from ledger.domain.return_visit import ReturnVisit, Review
from ledger.domain.satisfaction import SatisfactionScores
from ledger.domain.visit_schedule import DueVisit
from ledger.presenters.tickets import evidence_view
from ledger.timeutil import show


def _time(value: datetime | None, tz: tzinfo) -> str | None:
    return show(value, tz) or None


def scores_view(scores: SatisfactionScores | None) -> dict[str, Any] | None:
    if scores is None:
        return None
    return {
        "engineering_quality": scores.engineering_quality,
        "progress": scores.progress,
        "service": scores.service,
        "performance_capability": scores.performance_capability,
        "total": float(scores.total),
        "band": scores.band.value,
        "band_zh": scores.band.zh,
    }


def _review(review: Review | None, tz: tzinfo) -> dict[str, Any] | None:
    if review is None:
        return None
    return {
        "opinion": review.opinion,
        "reviewer": review.reviewer,
        "reviewed_at": _time(review.reviewed_at, tz),
    }


def visit_view(visit: ReturnVisit, tz: tzinfo) -> dict[str, Any]:
    audit = visit.audit
    return {
        "id": str(visit.id),
        "number": visit.number,
        "status": visit.status.value,
        "purpose": visit.purpose.value if visit.purpose else None,
        "form": visit.form.value,
        "contract_id": visit.contract_id,
        "customer": visit.customer,
        "ticket_number": visit.ticket_number,
        "visitor": visit.visitor,
        "scheduled_at": _time(visit.scheduled_at, tz),
        "planned_at": _time(visit.planned_at, tz),
        "conducted_at": _time(visit.conducted_at, tz),
        "content": visit.content,
        "customer_opinion": visit.customer_opinion,
        "scores": scores_view(visit.scores),
        "scored_at": _time(visit.scored_at, tz),
        "score_corrections": visit.score_corrections,
        "signer": visit.signer,
        "signed_at": _time(visit.signed_at, tz),
        "manager_review": _review(visit.manager_review, tz),
        "chief_engineer_review": _review(visit.chief_engineer_review, tz),
        "audit": None
        if audit is None
        else {
            "result": "passed" if audit.passed else "failed",
            "comment": audit.comment,
            "auditor": audit.auditor,
            "audited_at": _time(audit.audited_at, tz),
        },
        "cancelled_at": _time(visit.cancelled_at, tz),
        "cancel_reason": visit.cancel_reason,
        "corrective_actions": [a.number for a in visit.corrective_actions],
        "evidence": [evidence_view(e, tz) for e in visit.evidence],
        "version": visit.version,
    }


def action_view(action: CorrectiveAction, tz: tzinfo, now: datetime) -> dict[str, Any]:
    plan = action.plan
    return {
        "id": str(action.id),
        "number": action.number,
        "stage": action.stage.value,
        "next_step": NEXT_STEP.get(action.stage),
        "overdue": action.is_overdue(now),
        "source": action.source.value,
        "links": [link.number for link in action.links],
        "department": action.department,
        "content": action.content,
        "raised_at": _time(action.raised_at, tz),
        "cause": action.cause,
        "plan": None
        if plan is None
        else {
            "corrective": plan.corrective,
            "preventive": plan.preventive,
            "responsible": plan.responsible,
            "due_on": plan.due_on.isoformat(),
            "time_zone": plan.time_zone,
            "due_by": _time(plan.due_by, tz),
            "planned_at": _time(plan.planned_at, tz),
        },
        "plans": action.plans,
        "implementation": action.implementation,
        "implemented_at": _time(action.implemented_at, tz),
        "result": action.result,
        "result_recorded_at": _time(action.result_recorded_at, tz),
        "verifications": [
            {
                "effective": v.effective,
                "comment": v.comment,
                "verifier": v.verifier,
                "role": v.role.value,
                "verified_at": _time(v.verified_at, tz),
            }
            for v in action.verifications
        ],
        "closed_at": _time(action.closed_at, tz),
        "evidence": [evidence_view(e, tz) for e in action.evidence],
        "version": action.version,
    }


def complaint_view(complaint: Complaint, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": str(complaint.id),
        "number": complaint.number,
        "status": complaint.status.value,
        "channel": complaint.channel.value,
        "customer": complaint.customer,
        "contract_id": complaint.contract_id,
        "about": complaint.about.value,
        "reference": complaint.reference,
        "category": complaint.category.value,
        "content": complaint.content,
        "received_at": _time(complaint.received_at, tz),
        "cause": complaint.cause,
        "department": complaint.department,
        "ours": complaint.ours,
        "analysed_at": _time(complaint.analysed_at, tz),
        "handling": complaint.handling,
        "result": complaint.result,
        "resolved_at": _time(complaint.resolved_at, tz),
        "closed_at": _time(complaint.closed_at, tz),
        "corrective_actions": [a.number for a in complaint.corrective_actions],
        "version": complaint.version,
    }


def record_view(record: Any, tz: tzinfo, now: datetime) -> dict[str, Any]:
    """The ``show --json`` shape of a visit, action or complaint."""
    if isinstance(record, ReturnVisit):
        return visit_view(record, tz)
    if isinstance(record, CorrectiveAction):
        return action_view(record, tz, now)
    assert isinstance(record, Complaint)
    return complaint_view(record, tz)


def row_view(row: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """One row of a ``list`` (from a read model): times in the zone, ids and dates as
    text, a total as a number."""
    view: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = _time(value, tz)
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, UUID):
            value = str(value)
        elif isinstance(value, Decimal):
            value = float(value)
        view[key] = value
    return view


def due_view(contract_id: str, customer: str, due: DueVisit, tz: tzinfo) -> dict[str, Any]:
    """One line of ``visits due``."""
    return {
        "contract_id": contract_id,
        "customer": customer,
        "kind": due.kind.value,
        "interval": due.interval,
        "last_conducted_at": _time(due.last_conducted_at, tz),
        "due_at": _time(due.due_at, tz),
        "status": due.status.value,
        "days_overdue": due.days_overdue,
    }
