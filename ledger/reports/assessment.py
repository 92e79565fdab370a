"""The quarterly assessment (``ledger report assessment --quarter 2026Q3``): seed 003.

Per engineer, for one quarter of local dates:

* **tickets** and **met %**: exactly the SLA report's (``report sla --by engineer`` over
  the quarter): the tickets reported in the quarter whose engineer (last dispatched) is
  theirs, cancelled ones left out; met % = met ÷ (met + breached + overdue) of their
  targets, judged now;
* **escalations**, **inspection notices** (检查单), **rectification notices** (整改通知单)
  and **reopenings** that occurred in the quarter on their tickets (the ``supervision``
  read model);
* **complaints** received in the quarter about them or their tickets (``complaints``);
* **failed audits**: return visits of their tickets whose audit failed in the quarter
  (``visits``);
* **satisfaction**: the average survey total of the visits of their tickets conducted
  and scored in the quarter, and how many there were.

Every column credits the same engineer: the one the ticket was last dispatched to when
the fact was recorded (or, when it had none yet, the first dispatched after). Facts with
no engineer (a ticket never dispatched, a complaint about a product) form their own row,
so the columns add up to the total row. Then every counted fact, by engineer and time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from ledger.domain.complaint import ComplaintSubject
from ledger.projections.quality import (
    ComplaintProjection,
    VisitProjection,
    list_complaints,
    list_visits,
)
from ledger.projections.sla import SlaProjection
from ledger.projections.supervision import (
    SupervisionKind,
    SupervisionProjection,
    supervision_facts,
)
from ledger.reports import sla
from ledger.reports.common import (
    Counts,
    Period,
    Words,
    breakdown,
    caught_up,
    group_by,
    number,
    quarter_period,
    record_json,
    report_sheets,
    report_title,
    time_text,
    within,
)
from ledger.reports.export import Cell, Lang, Sheet
from ledger.reports.satisfaction import Satisfaction, ScoredVisit, scored_visit

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger

SUPERVISED = {
    SupervisionKind.ESCALATED: "escalations",
    SupervisionKind.INSPECTION_NOTICE: "inspection_notices",
    SupervisionKind.RECTIFICATION_NOTICE: "rectification_notices",
    SupervisionKind.REOPENED: "reopened",
}
"""The supervision facts the assessment counts, and their columns."""
KINDS = (*SUPERVISED.values(), "complaints", "failed_audits")
PROJECTIONS = (
    SlaProjection.name,
    SupervisionProjection.name,
    ComplaintProjection.name,
    VisitProjection.name,
)


@dataclass(frozen=True)
class AssessmentQuery:
    quarter: str  # 2026Q3

    @property
    def period(self) -> Period:
        return quarter_period(self.quarter)


@dataclass(frozen=True)
class Fact:
    """One counted fact: what, about which record and ticket, when, credited to whom."""

    engineer: str | None
    kind: str
    record: str
    ticket: str | None
    at: datetime
    detail: str | None


@dataclass(frozen=True)
class EngineerRow:
    engineer: str | None
    tickets: int
    targets: int
    met_pct: float | None
    counts: Counts
    satisfaction: Satisfaction

    def as_dict(self) -> dict[str, Any]:
        return {
            "engineer": self.engineer,
            "tickets": self.tickets,
            "targets": self.targets,
            "met_pct": self.met_pct,
            **{kind: self.counts[kind] for kind in KINDS},
            "visits_scored": self.satisfaction.count,
            "satisfaction": number(self.satisfaction.total),
        }


@dataclass(frozen=True)
class AssessmentReport:
    query: AssessmentQuery
    as_of: datetime
    tz: tzinfo
    engineers: list[EngineerRow]
    total: EngineerRow
    facts: list[Fact]


# --------------------------------------------------------------------------- the numbers


def _facts(conn: Connection, start: datetime, end: datetime) -> list[Fact]:
    facts = [
        Fact(f.engineer, SUPERVISED[f.kind], f.number, f.number, f.occurred_at, f.detail)
        for f in supervision_facts(conn, occurred_from=start, occurred_until=end)
        if f.kind in SUPERVISED
    ]
    facts += [
        Fact(
            c["engineer"],
            "complaints",
            c["number"],
            c["reference"] if c["about"] == ComplaintSubject.TICKET.value else None,
            c["received_at"],
            c["category"],
        )
        for c in list_complaints(conn, received_from=start, received_until=end)
    ]
    facts += [
        Fact(v["engineer"], "failed_audits", v["number"], v["ticket_number"], v["audited_at"], None)
        for v in list_visits(conn, audit="failed")
        if within(v["audited_at"], start, end)
    ]
    return sorted(
        facts,
        key=lambda f: (f.engineer is None, f.engineer or "", f.at, KINDS.index(f.kind), f.record),
    )


def _of_kind(kind: str) -> Callable[[Fact], bool]:
    return lambda fact: fact.kind == kind


def summarise(
    tickets: sla.SlaReport,
    facts: list[Fact],
    visits: list[ScoredVisit],
    query: AssessmentQuery,
    as_of: datetime,
    tz: tzinfo,
) -> AssessmentReport:
    """The per-engineer rows from the SLA report by engineer, the facts and the visits."""
    counted = breakdown(facts, lambda f: f.engineer, {kind: _of_kind(kind) for kind in KINDS})
    by_visit = group_by(visits, lambda v: v.engineer)
    sla_groups = {g.key or None: g for g in tickets.groups}
    names = {*sla_groups, *(c.key for c in counted.rows), *by_visit}
    rows = []
    for name in sorted(names, key=lambda k: (k is None, k or "")):
        group = sla_groups.get(name) or sla.Group(name or "")
        counts = counted.row(name) or Counts(name, dict.fromkeys(["count", *KINDS], 0))
        scored = Satisfaction(name, tuple(by_visit.get(name, ())))
        rows.append(
            EngineerRow(name, group.tickets, group.all.targets, group.all.met_pct, counts, scored)
        )
    total_group = tickets.total
    total = EngineerRow(
        None,
        total_group.tickets,
        total_group.all.targets,
        total_group.all.met_pct,
        counted.total,
        Satisfaction(None, tuple(visits)),
    )
    return AssessmentReport(query, as_of, tz, rows, total, facts)


def compute(
    conn: Connection, query: AssessmentQuery, now: datetime, tz: tzinfo
) -> AssessmentReport:
    period = query.period
    start, end = period.bounds(tz)
    assert start is not None and end is not None
    tickets = sla.compute(conn, sla.ReportQuery(period.first, period.last, by="engineer"), now, tz)
    rows = list_visits(conn, conducted_from=start, conducted_until=end)
    visits = [
        scored_visit(r) for r in rows if r["ticket_id"] is not None and r["total"] is not None
    ]
    return summarise(tickets, _facts(conn, start, end), visits, query, now, tz)


def assessment_report(ledger: Ledger, query: AssessmentQuery) -> AssessmentReport:
    with caught_up(ledger, PROJECTIONS) as (conn, now):
        return compute(conn, query, now, ledger.tz)


# --------------------------------------------------------------------------- shapes


def report_json(report: AssessmentReport) -> dict[str, Any]:
    tz = report.tz
    return {
        "as_of": time_text(report.as_of, tz),
        "quarter": report.query.quarter,
        **report.query.period.json(),
        "engineers": [row.as_dict() for row in report.engineers],
        "total": report.total.as_dict(),
        "facts": [record_json(f, tz) for f in report.facts],
    }


WORDS = Words(
    {
        "en": {
            "title": "Quarterly assessment",
            "facts": "Facts",
            "no facts": "no escalations, notices, reopenings, complaints or failed audits",
            "no engineer": "(no engineer)",
            "inspection_notices": "inspection notices",
            "rectification_notices": "rectification notices",
            "failed_audits": "failed audits",
            "visits_scored": "visits scored",
            "satisfaction": "satisfaction",
        },
        "zh": {
            "title": "季度考核",
            "facts": "考核明细",
            "no facts": "本季度无升级、检查单、整改通知单、重新打开、投诉或审核不合格",
            "no engineer": "(无工程师)",
            "targets": "考核项数",
            "escalations": "升级",
            "inspection_notices": "检查单",
            "rectification_notices": "整改通知单",
            "reopened": "重新打开",
            "complaints": "投诉",
            "failed_audits": "回访审核不合格",
            "visits_scored": "评分回访数",
            "satisfaction": "满意度总分",
            "kind": "事项",
            "record": "记录编号",
            "at": "时间",
            "detail": "说明",
            "detail department_manager": "部门经理",
            "detail project_general_manager": "项目总经理",
            "detail chief_engineer_office": "总工办",
            "detail quality": "质量异常",
            "detail non_quality": "人为因素",
            "detail other": "其他",
        },
    }
)


def summary_table(report: AssessmentReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    keys = ("engineer", "tickets", "targets", "met %", *KINDS, "visits_scored", "satisfaction")
    headers = [WORDS(k, lang) for k in keys]

    def row(r: EngineerRow, label: str) -> list[Cell]:
        cells: list[Cell] = [label, r.tickets, r.targets, r.met_pct]
        cells += [r.counts[kind] for kind in KINDS]
        return [*cells, r.satisfaction.count, number(r.satisfaction.total)]

    rows = [row(r, r.engineer or WORDS("no engineer", lang)) for r in report.engineers]
    rows.append(row(report.total, WORDS("total", lang)))
    return headers, rows


def fact_table(report: AssessmentReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    headers = [WORDS(k, lang) for k in ("engineer", "kind", "record", "ticket", "at", "detail")]
    rows: list[list[Cell]] = [
        [
            f.engineer or WORDS("no engineer", lang),
            WORDS(f.kind, lang),
            f.record,
            f.ticket,
            f.at,
            None if f.detail is None else WORDS(f"detail {f.detail}", lang, f.detail),
        ]
        for f in report.facts
    ]
    return headers, rows


def title(report: AssessmentReport, lang: Lang) -> str:
    scope = f"{report.query.quarter} ({report.query.period.text()})"
    return report_title(WORDS, lang, scope, report)


def sheets(report: AssessmentReport, lang: Lang) -> list[Sheet]:
    """The rows per engineer, then the facts counted."""
    summary, listed = summary_table(report, lang), fact_table(report, lang)
    return report_sheets(WORDS, lang, summary, "facts", "facts", listed)
