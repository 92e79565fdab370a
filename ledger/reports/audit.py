"""The audit report (``ledger report audit``): where a ticket's record needs an auditor's eye.

For the tickets reported in a period of local dates (inclusive, in the user's zone),
cancelled ones included, optionally of one contract: each ticket's events go through
:func:`ledger.domain.audit.audit_ticket`, which finds back-dated events, targets met only
thanks to them, closings without a valid signature, events recorded by roles outside the
norm, reopenings, and events whose recorded time goes backwards (before the event they
follow in the chain). One summary row per contract plus a total row, then one list per
kind of finding. A fixed-clock (demo or test) ledger says so in the title and the JSON.

Which tickets, and the contracts and working-day calendar they are judged by, come from
the ``sla`` projection, caught up first (as ``report sla`` reads it); each ticket's own
events are then read from the store. ``--as-of`` takes all three as the ledger stood then:
the projection's tables replayed up to that time (``sla.as_of_snapshot``), each ticket's
events recorded by then, targets judged then.

Over 500 lines: one report is one module (:class:`~ledger.reports.protocol.ReportModule`:
its numbers, rows, words and tables together, as every other report); the audit has six
kinds of finding, each with its rows, words and table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import Connection

from ledger.domain.audit import (
    NORMAL_ROLES,
    TicketAudit,
    audit_ticket,
    lag_minutes,
    recorded_by,
)
from ledger.domain.ticket import TicketEvent
from ledger.integrity.aggregate import chain_predecessor_times
from ledger.integrity.privacy import ERASED_TOPIC
from ledger.projections.sla import (
    SlaProjection,
    load_contracts,
    load_holidays,
    ticket_slas,
    work_calendar,
)
from ledger.reports import sla
from ledger.reports.common import (
    Period,
    Records,
    Words,
    caught_up,
    report_sheets,
    report_title,
    time_text,
)
from ledger.reports.export import Cell, Lang, Sheet
from ledger.storage.reads import read_chain

History = Callable[[UUID], Sequence[TicketEvent]]
"""A ticket's events in order, by its id (``TicketService.history``)."""
ChainBefore = Callable[[UUID], Mapping[int, datetime]]
"""For a ticket's id, the recorded time of the event before each version in the chain."""

COUNTED = (
    "backdated",
    "met_thanks_to_backdating",
    "unsigned_closings",
    "off_norm_roles",
    "reopenings",
    "recorded_backwards",
)
"""The findings counted per contract, in the order of their lists."""
LISTS = {
    "backdated": "backdated",
    "met_thanks_to_backdating": "sla",
    "unsigned_closings": "signatures",
    "off_norm_roles": "roles",
    "reopenings": "reopenings",
    "recorded_backwards": "times",
}
"""Each finding's list: its key names the CSV file suffix (``FILE.sla.csv``)."""


# --------------------------------------------------------------------------- the numbers


@dataclass(frozen=True)
class AuditQuery:
    period: Period = field(default_factory=Period)
    contract: str | None = None


@dataclass
class Tally:
    """One summary row: a contract's tickets, their events and the findings of each kind."""

    key: str | None
    tickets: int = 0
    events: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))

    def add(self, audit: TicketAudit) -> None:
        self.tickets += 1
        self.events += audit.events
        for kind, found in findings(audit).items():
            self.counts[kind] += len(found)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "tickets": self.tickets, "events": self.events, **self.counts}


def findings(audit: TicketAudit) -> dict[str, Sequence[Any]]:
    """A ticket's findings by kind (:data:`COUNTED`)."""
    return {
        "backdated": audit.backdated,
        "met_thanks_to_backdating": audit.met_thanks_to_backdating,
        "unsigned_closings": audit.unsigned_closings,
        "off_norm_roles": audit.off_norm,
        "reopenings": audit.reopenings,
        "recorded_backwards": audit.recorded_backwards,
    }


@dataclass(frozen=True)
class AuditReport:
    query: AuditQuery
    as_of: datetime
    tz: tzinfo
    groups: list[Tally]
    total: Tally
    audits: list[TicketAudit]
    """Every ticket audited, by report time then number."""
    fixed_clock: bool = False
    """The ledger records a fixed clock's time (a demo or test ledger)."""
    erasures: list[dict[str, Any]] = field(default_factory=list)
    """The data subjects erased in the period (``SubjectErased``: PIPL art. 47), by
    recorded time: who erased whom (an opaque subject id), why, and how many files."""


def summarise(
    audits: Sequence[TicketAudit], query: AuditQuery, as_of: datetime, tz: tzinfo
) -> AuditReport:
    """The summary rows per contract and in total. Pure."""
    groups: dict[str, Tally] = {}
    total = Tally(None)
    for audit in audits:
        contract = audit.ticket.contract_id
        groups.setdefault(contract, Tally(contract)).add(audit)
        total.add(audit)
    ordered = [groups[k] for k in sorted(groups)]
    return AuditReport(query, as_of, tz, ordered, total, list(audits))


def compute(
    conn: Connection,
    history: History,
    query: AuditQuery,
    now: datetime,
    tz: tzinfo,
    *,
    recorded_until: datetime | None = None,
    chain_before: ChainBefore | None = None,
) -> AuditReport:
    """The report over the ``sla`` tables reached through ``conn`` and each ticket's events
    (only those recorded by ``recorded_until``, when given), targets judged at ``now``."""
    start, end = query.period.bounds(tz)
    scope = ticket_slas(
        conn,
        now,
        reported_from=start,
        reported_before=end,
        contract=query.contract,
        include_cancelled=True,
    )
    contracts = {c.contract_id: c for c in load_contracts(conn).values()}
    calendar = work_calendar(load_holidays(conn))
    audits = []
    for ticket in scope:
        events = history(ticket.ticket_id)
        if recorded_until is not None:
            events = recorded_by(events, recorded_until)
        if events:
            before = None if chain_before is None else chain_before(ticket.ticket_id)
            contract = contracts.get(ticket.contract_id)
            audits.append(audit_ticket(events, contract, calendar, now, before))
    return summarise(audits, query, now, tz)


def audit_report(
    ledger: Records, query: AuditQuery, *, as_of: datetime | None = None
) -> AuditReport:
    """The report as the ledger stands now (the ``sla`` projection caught up first), or as
    it stood at ``as_of``."""

    def before(ticket_id: UUID) -> Mapping[int, datetime]:
        return chain_predecessor_times(ledger.engine, ledger.location.events_table, ticket_id)

    fixed = ledger.fixed_clock_since is not None
    if as_of is not None:
        with sla.as_of_snapshot(ledger, as_of) as conn:
            report = compute(
                conn,
                ledger.queries.events,
                query,
                as_of,
                ledger.tz,
                recorded_until=as_of,
                chain_before=before,
            )
            return replace(report, fixed_clock=fixed)
    with caught_up(ledger, [SlaProjection.name]) as (conn, now):
        report = compute(conn, ledger.queries.events, query, now, ledger.tz, chain_before=before)
        erased = erasures(conn, ledger.location.events_table, query.period, ledger.tz, now)
        return replace(report, fixed_clock=fixed, erasures=erased)


ERASURE_KEYS = (
    "subject_id",
    "recorded_at",
    "actor",
    "role",
    "basis",
    "reason",
    "files_deleted",
)


def erasures(
    conn: Connection, events_table: str, period: Period, tz: tzinfo, until: datetime
) -> list[dict[str, Any]]:
    """The ``SubjectErased`` events recorded in ``period`` (and by ``until``)."""
    start, end = period.bounds(tz)
    found = []
    after = 0
    while page := read_chain(conn, events_table, after=after, topics=[ERASED_TOPIC]):
        after = page[-1].position
        for link in page:
            if link.state is None:
                continue
            data = orjson.loads(bytes(link.state))
            recorded = datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00"))
            in_period = (start is None or recorded >= start) and (end is None or recorded < end)
            if in_period and recorded <= until:
                found.append(
                    {
                        "subject_id": data["subject_id"],
                        "recorded_at": recorded,
                        "actor": data["actor"],
                        "role": data["role"],
                        "basis": data["basis"],
                        "reason": data["reason"],
                        "files_deleted": len(data.get("evidence_erased", ())),
                    }
                )
    return found


# --------------------------------------------------------------------------- rows


def _event_cells(audit: TicketAudit, event: TicketEvent) -> dict[str, Any]:
    """What every list says about an event: ticket, contract, version, type, who."""
    return {
        "ticket": audit.ticket.number,
        "contract_id": audit.ticket.contract_id,
        "version": event.originator_version,
        "type": type(event).__name__,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "actor": event.actor,
        "role": event.role.value,
    }


def backdated_rows(report: AuditReport) -> list[dict[str, Any]]:
    return [
        _event_cells(a, e)
        | {
            "lag_minutes": lag_minutes(e),
            "threshold_minutes": int(a.threshold.total_seconds() // 60),
        }
        for a in report.audits
        for e in a.backdated
    ]


def sla_rows(report: AuditReport) -> list[dict[str, Any]]:
    return [
        {
            "ticket": a.ticket.number,
            "contract_id": a.ticket.contract_id,
            "metric": m.told.metric,
            "target": m.told.target,
            "due_at": m.told.due_at,
            "done_at": m.told.done_at,
            "recorded_due_at": m.recorded.due_at,
            "recorded_done_at": m.recorded.done_at,
            "recorded_status": m.recorded.status.value,
            "breach_minutes": m.recorded.breach_minutes,
            "entries": [e.originator_version for e in m.entries],
        }
        for a in report.audits
        for m in a.met_thanks_to_backdating
    ]


def signature_rows(report: AuditReport) -> list[dict[str, Any]]:
    return [
        _event_cells(a, u.closed)
        | {
            "problem": u.problem.value,
            "signature": None
            if u.signature is None
            else {
                "version": u.signature.originator_version,
                "kind": u.signature.kind.value,
                "signer": u.signature.signer,
                "actor": u.signature.actor,
                "role": u.signature.role.value,
            },
        }
        for a in report.audits
        for u in a.unsigned_closings
    ]


def role_rows(report: AuditReport) -> list[dict[str, Any]]:
    return [
        _event_cells(a, e) | {"expected": sorted(r.value for r in NORMAL_ROLES[type(e)])}
        for a in report.audits
        for e in a.off_norm
    ]


def reopening_rows(report: AuditReport) -> list[dict[str, Any]]:
    return [
        _event_cells(a, e) | {"reason": e.reason, "cause": e.cause}
        for a in report.audits
        for e in a.reopenings
    ]


def backwards_rows(report: AuditReport) -> list[dict[str, Any]]:
    return [_event_cells(a, e) for a in report.audits for e in a.recorded_backwards]


ROWS: dict[str, Callable[[AuditReport], list[dict[str, Any]]]] = {
    "backdated": backdated_rows,
    "met_thanks_to_backdating": sla_rows,
    "unsigned_closings": signature_rows,
    "off_norm_roles": role_rows,
    "reopenings": reopening_rows,
    "recorded_backwards": backwards_rows,
}


# --------------------------------------------------------------------------- shapes


def report_json(report: AuditReport) -> dict[str, Any]:
    """The ``--json`` shape (keys and values in English whatever ``--lang``)."""
    tz, q = report.tz, report.query

    def plain(value: Any) -> Any:
        return time_text(value, tz) if isinstance(value, datetime) else value

    return {
        "as_of": time_text(report.as_of, tz),
        **q.period.json(),
        "contract": q.contract,
        "clock": "fixed" if report.fixed_clock else "real",
        "groups": [g.as_dict() for g in report.groups],
        "total": report.total.as_dict(),
        **{
            kind: [{k: plain(v) for k, v in row.items()} for row in rows(report)]
            for kind, rows in ROWS.items()
        },
        "erasures": [{k: plain(v) for k, v in row.items()} for row in report.erasures],
    }


WORDS = Words(
    {
        "en": {
            "title": "Audit",
            "contract": "contract",
            "backdated": "back-dated events",
            "met_thanks_to_backdating": "met only thanks to back-dating",
            "unsigned_closings": "closed without a valid signature",
            "off_norm_roles": "roles outside the norm",
            "reopenings": "reopenings",
            "title backdated": "Back-dated events",
            "title sla": "Met only thanks to back-dating",
            "title signatures": "Closed without valid signature",
            "title roles": "Roles outside the norm",
            "title reopenings": "Reopenings",
            "no backdated": "no back-dated events",
            "no sla": "no target met only thanks to back-dating",
            "no signatures": "no ticket closed without a valid signature",
            "no roles": "no event recorded by a role outside the norm",
            "no reopenings": "no reopenings",
            "recorded_backwards": "recorded time going backwards",
            "title times": "Recorded time going backwards",
            "no times": "no event recorded before the event it follows",
            "fixed clock": "fixed clock: a demo or test ledger",
            "lag": "lag (min)",
            "threshold": "threshold (min)",
            "recorded due": "due (as recorded)",
            "recorded done": "done (as recorded)",
            "recorded status": "status (as recorded)",
            "breach minutes": "breach minutes",
            "entries": "back-dated versions",
            "expected": "expected roles",
            "title erasures": "Personal data erased",
            "no erasures": "no personal data erased",
            "subject": "data subject",
            "basis": "basis",
            "files": "files deleted",
        },
        "zh": {
            "title": "审计核查",
            "events": "事件数",
            "backdated": "倒签事件",
            "met_thanks_to_backdating": "依赖倒签达标",
            "unsigned_closings": "无有效签字关闭",
            "off_norm_roles": "非常规角色操作",
            "reopenings": "重新打开",
            "title backdated": "倒签事件",
            "title sla": "依赖倒签达标的考核项",
            "title signatures": "无有效签字关闭的工单",
            "title roles": "非常规角色操作",
            "title reopenings": "重新打开",
            "no backdated": "无倒签事件",
            "no sla": "无依赖倒签达标的考核项",
            "no signatures": "无未有效签字即关闭的工单",
            "no roles": "无非常规角色操作",
            "no reopenings": "无重新打开",
            "recorded_backwards": "记录时间倒退",
            "title times": "记录时间倒退的事件",
            "no times": "无记录时间早于前一事件的事件",
            "fixed clock": "固定时钟：演示或测试账本",
            "version": "版本",
            "type": "事件",
            "occurred": "发生时间",
            "recorded": "记录时间",
            "actor": "操作人",
            "role": "角色",
            "lag": "滞后(分钟)",
            "threshold": "阈值(分钟)",
            "metric": "考核项",
            "target": "承诺时限",
            "due": "应完成时间",
            "done": "完成时间",
            "recorded due": "应完成时间(按记录时间)",
            "recorded done": "完成时间(按记录时间)",
            "recorded status": "状态(按记录时间)",
            "breach minutes": "超时分钟数",
            "entries": "倒签版本",
            "problem": "问题",
            "signature": "签字",
            "expected": "常规角色",
            "reason": "原因",
            "cause": "起因",
            "missing": "无签字",
            "signed_by_engineer": "工程师本人签字",
            "signed_by_recorder": "录入人本人签字",
            "breached": "超时",
            "overdue": "逾期未完成",
            "respond": "响应",
            "arrive": "到场",
            "resolve": "修复",
            "replacement": "备用机",
            "title erasures": "个人信息删除",
            "no erasures": "无个人信息删除",
            "subject": "个人信息主体",
            "basis": "依据",
            "files": "删除文件数",
        },
    }
)


def summary_table(report: AuditReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    headers = [WORDS(k, lang) for k in ("contract", "tickets", "events", *COUNTED)]

    def row(tally: Tally, label: str) -> list[Cell]:
        return [label, tally.tickets, tally.events, *(tally.counts[k] for k in COUNTED)]

    rows = [row(g, g.key or "") for g in report.groups]
    rows.append(row(report.total, WORDS("total", lang)))
    return headers, rows


EVENT_HEADERS = ("ticket", "contract", "version", "type", "occurred", "recorded", "actor", "role")


def _event_row(row: dict[str, Any]) -> list[Cell]:
    keys = ("ticket", "contract_id", "version", "type", "occurred_at", "recorded_at")
    return [*(row[k] for k in keys), row["actor"], row["role"]]


def list_tables(report: AuditReport, lang: Lang) -> dict[str, tuple[list[str], list[list[Cell]]]]:
    """Each list's headers and rows, by its key (:data:`LISTS`)."""

    def headers(*keys: str) -> list[str]:
        return [WORDS(k, lang) for k in keys]

    def signature(row: dict[str, Any]) -> str | None:
        signed = row["signature"]
        return None if signed is None else f"{signed['signer']} ({signed['kind']})"

    sla_keys = ("due_at", "done_at", "recorded_due_at", "recorded_done_at")
    return {
        "backdated": (
            headers(*EVENT_HEADERS, "lag", "threshold"),
            [
                [*_event_row(r), r["lag_minutes"], r["threshold_minutes"]]
                for r in backdated_rows(report)
            ],
        ),
        "sla": (
            headers(
                "ticket",
                "contract",
                "metric",
                "target",
                "due",
                "done",
                "recorded due",
                "recorded done",
                "recorded status",
                "breach minutes",
                "entries",
            ),
            [
                [
                    r["ticket"],
                    r["contract_id"],
                    WORDS(r["metric"], lang),
                    r["target"],
                    *(r[k] for k in sla_keys),
                    WORDS(r["recorded_status"], lang),
                    r["breach_minutes"],
                    ", ".join(str(v) for v in r["entries"]),
                ]
                for r in sla_rows(report)
            ],
        ),
        "signatures": (
            headers(*EVENT_HEADERS, "problem", "signature"),
            [
                [*_event_row(r), WORDS(r["problem"], lang), signature(r)]
                for r in signature_rows(report)
            ],
        ),
        "roles": (
            headers(*EVENT_HEADERS, "expected"),
            [[*_event_row(r), ", ".join(r["expected"])] for r in role_rows(report)],
        ),
        "reopenings": (
            headers(*EVENT_HEADERS, "reason", "cause"),
            [[*_event_row(r), r["reason"], r["cause"]] for r in reopening_rows(report)],
        ),
        "times": (headers(*EVENT_HEADERS), [_event_row(r) for r in backwards_rows(report)]),
    }


def title(report: AuditReport, lang: Lang) -> str:
    q = report.query
    scope = q.period.text() + (f" · {q.contract}" if q.contract else "")
    title = report_title(WORDS, lang, scope, report)
    return f"{title} · {WORDS('fixed clock', lang)}" if report.fixed_clock else title


def sheets(report: AuditReport, lang: Lang) -> list[Sheet]:
    """The summary, then one list per kind of finding (:data:`LISTS`)."""
    tables = list_tables(report, lang)
    first, *others = LISTS.values()
    listed = report_sheets(
        WORDS, lang, summary_table(report, lang), first, f"title {first}", tables[first]
    )
    erased = Sheet(
        "erasures",
        WORDS("title erasures", lang),
        [
            WORDS(k, lang)
            for k in ("subject", "recorded", "actor", "role", "basis", "reason", "files")
        ],
        [[r[k] for k in ERASURE_KEYS] for r in report.erasures],
    )
    return [
        *listed,
        *(Sheet(key, WORDS(f"title {key}", lang), *tables[key]) for key in others),
        erased,
    ]
