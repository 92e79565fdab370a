"""Stable JSON shapes for read commands (documented in docs/cli.md).

Times are ISO 8601 in the user's zone, with the offset; enums are their string values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

from ledger.domain.audit import backdating_threshold, is_backdated, lag_minutes
from ledger.domain.compliance import Judgement
from ledger.domain.contract import Policy
from ledger.domain.evidence import Evidence
from ledger.domain.model import DomainEvent
from ledger.domain.ticket import Ticket
from ledger.timeutil import show


def _time(value: Any, tz: tzinfo) -> str | None:
    return show(value, tz) or None


def ticket_view(ticket: Ticket, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": str(ticket.id),
        "number": ticket.number,
        "status": ticket.status.value,
        "suspended": ticket.is_suspended,
        "contract_id": ticket.contract_id,
        "customer": ticket.customer,
        "contact": {"name": ticket.contact.name, "phone": ticket.contact.phone},
        "site": ticket.site,
        "device": ticket.device,
        "category": ticket.category.value,
        "severity": ticket.severity.value,
        "description": ticket.description,
        "channel": ticket.channel.value,
        "external_ref": ticket.external_ref,
        "engineer": ticket.engineer,
        "escalation_level": ticket.escalation_level.value,
        "reported_at": _time(ticket.reported_at, tz),
        "responded_at": _time(ticket.responded_at, tz),
        "dispatched_at": _time(ticket.dispatched_at, tz),
        "set_off_at": _time(ticket.set_off_at, tz),
        "first_arrived_at": _time(ticket.first_arrived_at, tz),
        "resolved_at": _time(ticket.resolved_at, tz),
        "resolution": ticket.resolution,
        "resolution_mode": ticket.resolution_mode.value if ticket.resolution_mode else None,
        "signature": (
            {
                "kind": ticket.signature.kind.value,
                "signer": ticket.signature.signer,
                "signed_at": _time(ticket.signature.signed_at, tz),
                "evidence_sha256": ticket.signature.evidence_sha256,
            }
            if ticket.signature
            else None
        ),
        "suspended_at": _time(ticket.suspended_at, tz),
        "replacements": [
            {"unit": r.unit, "provided_at": _time(r.provided_at, tz), "note": r.note}
            for r in ticket.replacements
        ],
        "closed_at": _time(ticket.closed_at, tz),
        "cancelled_at": _time(ticket.cancelled_at, tz),
        "reopen_count": ticket.reopen_count,
        "out_of_contract": ticket.out_of_contract,
        "contact_sheet": (
            {
                "sheet": sheet.sheet,
                "fee": str(sheet.fee),
                "confirmed_by": sheet.confirmed_by,
                "recorded_at": _time(sheet.recorded_at, tz),
            }
            if (sheet := ticket.contact_sheet)
            else None
        ),
        "evidence": [evidence_view(e, tz) for e in ticket.evidence],
        "version": ticket.version,
    }


def evidence_view(evidence: Evidence, tz: tzinfo) -> dict[str, Any]:
    """A file attached to a ticket, visit or action: what the log records of it (the
    attachments endpoints, ``show --json``, the dossier)."""
    return {
        "sha256": evidence.sha256,
        "size": evidence.size,
        "media_type": evidence.media_type,
        "file_name": evidence.file_name,
        "kind": evidence.kind.value,
        "attached_by": evidence.attached_by,
        "role": evidence.role.value,
        "attached_at": _time(evidence.attached_at, tz),
        "recorded_at": _time(evidence.recorded_at, tz),
        "version": evidence.version,
    }


def sla_view(judgements: list[Judgement] | None, tz: tzinfo) -> list[dict[str, Any]] | None:
    """The SLA section of ``ticket show``: one entry per promised metric; ``None`` when the
    ticket's contract is unknown."""
    if judgements is None:
        return None
    return [
        {
            "metric": j.metric,
            "target": j.target,
            "status": j.status.value,
            "due_at": _time(j.due_at, tz),
            "done_at": _time(j.done_at, tz),
            "breach_minutes": j.breach_minutes,
            "elapsed_minutes": None
            if j.elapsed is None
            else round(j.elapsed.total_seconds() / 60, 1),
            "note": j.note,
        }
        for j in judgements
    ]


def event_view(event: DomainEvent, tz: tzinfo) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "type": type(event).__name__,
        "occurred_at": _time(event.occurred_at, tz),
        "recorded_at": _time(event.recorded_at, tz),
        "actor": event.actor,
        "role": event.role.value,
        "data": event.data(),
    }


def history_view(
    events: Sequence[DomainEvent], policy: Policy | None, tz: tzinfo
) -> list[dict[str, Any]]:
    """``ticket history``: each event, plus whether it is back-dated (occurred more than the
    policy's threshold before it was recorded) and by how many minutes."""
    threshold = backdating_threshold(policy)
    return [
        event_view(e, tz) | {"backdated": is_backdated(e, threshold), "lag_minutes": lag_minutes(e)}
        for e in events
    ]


def ticket_row_view(row: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """One row of ``ticket list`` (from the ``tickets`` read model)."""
    return {
        "id": str(row["ticket_id"]),
        "number": row["number"],
        "status": row["status"],
        "suspended": row["suspended"],
        "severity": row["severity"],
        "category": row["category"],
        "contract_id": row["contract_id"],
        "customer": row["customer"],
        "engineer": row["engineer"],
        "escalation_level": row["escalation_level"],
        "reported_at": _time(row["reported_at"], tz),
        "resolved_at": _time(row["resolved_at"], tz),
        "closed_at": _time(row["closed_at"], tz),
        "updated_at": _time(row["updated_at"], tz),
        "version": row["version"],
    }
