"""The audit dossier of one ticket: everything an auditor needs to judge it, in one
document — its state, every event (who, occurred vs recorded, back-dating), the SLA
verdicts, the signature, the linked visits / actions / complaints, each event's chain
link and the digests it was checked against.

What the integrity section proves is stated, not implied: each of the ticket's links
recomputes from the link before it, and each digest given is signed (by the expected key
when one is named) and still matches the log at its position. Walking the whole chain
between them is ``ledger verify``'s job; ``whole_log=True`` does it here too.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from ledger.domain.evidence import IMAGE_TYPES, Evidence, EvidenceKind
from ledger.integrity.aggregate import LinkCheck, verify_aggregate
from ledger.integrity.digest import Digest
from ledger.integrity.digest_checks import check_digest
from ledger.integrity.privacy import erased_facts
from ledger.integrity.verify import verify_ledger
from ledger.presenters.tickets import evidence_view, history_view, sla_view, ticket_view
from ledger.projections.complaints import complaint_summary
from ledger.projections.corrective_actions import action_summary
from ledger.projections.visits import list_visits
from ledger.reports.common import Records, caught_up
from ledger.storage.evidence import EvidenceError, EvidenceMissing, EvidenceStore
from ledger.storage.reads import chain_head
from ledger.timeutil import show

FORMAT = "ledger-dossier-v1"
QUALITY = ("visits", "corrective_actions", "complaints")


def build_dossier(
    ledger: Records,
    ref: str,
    *,
    digests: Sequence[Digest] = (),
    public_key: bytes | None = None,
    whole_log: bool = False,
    evidence: EvidenceStore | None = None,
    images: bool = False,
) -> dict[str, Any]:
    """The dossier of ticket ``ref`` (number or id) as a JSON-ready document. With the
    ``evidence`` store, each attached file is re-hashed; with ``images`` too, the
    signatures, signed forms and photos that are PNG, JPEG or WebP come as ``data:`` URIs
    for the HTML and PDF to draw."""
    tz = ledger.tz
    ticket = ledger.queries.get(ref)
    events, policy = ledger.queries.history(ticket.id)
    links = {c.version: c for c in verify_aggregate(ledger.engine, _events(ledger), ticket.id)}
    timeline = [
        view
        | {"data": _local_times(view["data"], event, tz)}
        | _link_view(links.get(view["version"]))
        for view, event in zip(history_view(events, policy, tz), events, strict=True)
    ]
    with caught_up(ledger, QUALITY) as (conn, now):
        linked = _linked_records(conn, ticket.number, ticket.id, tz)
        head, head_hash = chain_head(conn)
        checked = [_digest_view(conn, d, public_key, head) for d in digests]
        erased = erased_facts(conn, ledger.location.events_table).files if evidence else set()
    whole = _whole_log(ledger, digests, public_key) if whole_log else None
    files = _evidence(ticket.evidence, evidence, images, tz, erased)
    integrity = _integrity(timeline, checked, whole, head, head_hash.hex()) | _clock(ledger)
    integrity["evidence"] = _files_check(files, checked=evidence is not None)
    integrity["ok"] = integrity["ok"] and integrity["evidence"]["ok"]
    return {
        "format": FORMAT,
        "generated_at": show(now, tz),
        "database": ledger.location.describe(),
        "ticket": ticket_view(ticket, tz),
        "sla": sla_view(ledger.queries.judge(ticket, now), tz),
        "timeline": timeline,
        **linked,
        "evidence": files,
        "integrity": integrity,
    }


DRAWN_KINDS = frozenset({EvidenceKind.SIGNATURE, EvidenceKind.SIGNED_FORM, EvidenceKind.PHOTO})


def _evidence(
    attached: Sequence[Evidence],
    store: EvidenceStore | None,
    images: bool,
    tz: Any,
    erased: set[str],
) -> list[dict[str, Any]]:
    """Each attached file: what the log records, what re-hashing it found (``ok``,
    ``missing``, ``changed``, ``erased``: deleted with its data subject, docs/privacy.md;
    ``unchecked`` without a store) and, for a picture the dossier shows, its bytes as a
    ``data:`` URI (only bytes that re-hash to the recorded SHA-256)."""
    views = []
    for file in attached:
        view = evidence_view(file, tz) | {"state": "unchecked", "image": None}
        if store is not None:
            try:
                data = store.get(file.sha256)
                view["state"] = "ok"
            except EvidenceMissing:
                gone = "erased" if file.sha256 in erased else "missing"
                view["state"], data = gone, b""
            except EvidenceError:
                view["state"], data = "changed", b""
            drawn = file.media_type in IMAGE_TYPES and file.kind in DRAWN_KINDS
            if images and drawn and view["state"] == "ok":
                encoded = base64.b64encode(data).decode()
                view["image"] = f"data:{file.media_type};base64,{encoded}"
        views.append(view)
    return views


def _files_check(files: list[dict[str, Any]], *, checked: bool) -> dict[str, Any]:
    good = sum(1 for f in files if f["state"] == "ok")
    failing = [f["file_name"] for f in files if f["state"] in ("missing", "changed")]
    return {
        "ok": not failing,
        "checked": checked,
        "count": len(files),
        "ok_count": good,
        "failing": failing,
    }


def _clock(ledger: Records) -> dict[str, Any]:
    """Where the recorded times come from (a fixed clock: a demo or test ledger)."""
    since = ledger.fixed_clock_since
    if since is None:
        return {"clock": "real"}
    return {
        "clock": "fixed",
        "clock_note": f"recorded times come from a fixed clock (LEDGER_NOW), not the real "
        f"time: a demo or test ledger (declared at {show(since, ledger.tz)})",
    }


def _events(ledger: Records) -> str:
    return ledger.location.events_table


def _local_times(data: dict[str, Any], event: Any, tz: Any) -> dict[str, Any]:
    """An event's fields with its times in the user's zone, as every time of the dossier."""
    return {
        key: show(getattr(event, key), tz)
        if isinstance(getattr(event, key, None), datetime)
        else value
        for key, value in data.items()
    }


def _link_view(check: LinkCheck | None) -> dict[str, Any]:
    if check is None:
        return {"position": None, "event_hash": None, "link_ok": False, "link_problem": "no link"}
    return {
        "position": check.position,
        "event_hash": check.event_hash,
        "link_ok": check.ok,
        "link_problem": check.problem,
    }


def _linked_records(conn: Connection, number: str, ticket_id: Any, tz: Any) -> dict[str, Any]:
    """The ticket's visits and complaints, and the corrective actions raised from any of
    them (or from the ticket itself)."""
    visits = list_visits(conn, ticket=number)
    complaints = [
        dict(r._mapping)
        for r in conn.execute(
            select(complaint_summary)
            .where(complaint_summary.c.ticket_id == ticket_id)
            .order_by(complaint_summary.c.received_at)
        )
    ]
    numbers = [number, *(v["number"] for v in visits), *(c["number"] for c in complaints)]
    actions = [
        dict(r._mapping)
        for r in conn.execute(
            select(action_summary)
            .where(or_(*(action_summary.c.links.contains(n) for n in numbers)))
            .order_by(action_summary.c.raised_at)
        )
        if set(r.links.split()) & set(numbers)
    ]
    return {
        "visits": [_plain(v, tz) for v in visits],
        "actions": [_plain(a, tz) for a in actions],
        "complaints": [_plain(c, tz) for c in complaints],
    }


def _plain(row: dict[str, Any], tz: Any) -> dict[str, Any]:
    """A read-model row as JSON values: times in the user's zone, the rest as text."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in ("state", "last_position", "id", "ticket_id"):
            continue
        if hasattr(value, "tzinfo"):
            out[key] = show(value, tz)
        elif value is None or isinstance(value, bool | int | float | str):
            out[key] = value
        else:
            out[key] = str(value)
    return out


def _digest_view(
    conn: Connection, digest: Digest, public_key: bytes | None, head: int
) -> dict[str, Any]:
    result = check_digest(conn, digest, head, public_key=public_key)
    if result.ok:
        message = "the log extends this digest" + ("" if digest.signed else " (unsigned)")
    else:
        message = "; ".join(p.message for p in result.problems)
    return {
        "file": digest.name,
        "position": digest.position,
        "head_hash": digest.head_hash.hex(),
        "created_at": digest.created_at,
        "signed": digest.signed,
        "ok": result.ok,
        "message": message,
    }


def _whole_log(
    ledger: Records, digests: Sequence[Digest], public_key: bytes | None
) -> dict[str, Any]:
    verdict = verify_ledger(ledger.engine, _events(ledger), list(digests), public_key=public_key)
    return {
        "ok": verdict.ok,
        "events": verdict.events,
        "problems": [p.as_json() for p in verdict.problems],
    }


def _integrity(
    timeline: list[dict[str, Any]],
    digests: list[dict[str, Any]],
    whole: dict[str, Any] | None,
    head: int,
    head_hash: str,
) -> dict[str, Any]:
    bad = [e["version"] for e in timeline if not e["link_ok"]]
    ok = not bad and all(d["ok"] for d in digests) and (whole is None or whole["ok"])
    parts = [
        f"{len(timeline) - len(bad)} of {len(timeline)} events verify against their chain links"
        + (f" (failing: version {', '.join(map(str, bad))})" if bad else "")
    ]
    covered = [d for d in digests if d["ok"]]
    if digests:
        parts.append(f"{len(covered)} of {len(digests)} digests hold")
    if whole is None:
        parts.append("whole chain not re-walked here: run `ledger verify` for that")
    else:
        parts.append(
            f"whole log verified: {whole['events']} events"
            if whole["ok"]
            else f"whole log FAILS: {whole['problems'][0]['message'] if whole['problems'] else ''}"
        )
    return {
        "ok": ok,
        "summary": "; ".join(parts),
        "head": {"position": head, "hash": head_hash},
        "failing_versions": bad,
        "digests": digests,
        "whole_log": whole,
    }
