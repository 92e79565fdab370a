"""The monthly complaint review (``ledger report complaints --month 2026-10``): seed 004.

Built from the ``complaints`` read model: the complaints **received** in one month (local
dates in the user's zone). The summary counts them by category (quality 质量异常,
non-quality 人为因素, other: all three always shown), by responsible department and by
engineer (a complaint about a ticket is credited to the ticket's engineer, one about an
engineer to that engineer), each with its share of the month, ours vs not ours (not yet
analysed apart) and open vs closed; then a total row. Then every complaint of the month.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from ledger.domain.complaint import ComplaintCategory, ComplaintStatus, ComplaintSubject
from ledger.projections.quality import ComplaintProjection, list_complaints
from ledger.reports.common import (
    Breakdown,
    Counts,
    Period,
    Words,
    breakdown,
    caught_up,
    from_row,
    month_period,
    percent,
    record_json,
    report_sheets,
    report_title,
    time_text,
)
from ledger.reports.export import Cell, Lang, Sheet

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger

DIMENSIONS = ("category", "department", "engineer")


@dataclass(frozen=True)
class ComplaintQuery:
    month: str  # 2026-10

    @property
    def period(self) -> Period:
        return month_period(self.month)


@dataclass(frozen=True)
class ComplaintRow:
    number: str
    received_at: datetime
    customer: str
    contract_id: str | None
    about: str
    reference: str
    engineer: str | None
    category: str
    department: str | None
    ours: bool | None
    status: str
    closed_at: datetime | None
    corrective_actions: int

    @property
    def is_open(self) -> bool:
        return self.status != ComplaintStatus.CLOSED.value


COLUMNS: dict[str, Callable[[ComplaintRow], bool]] = {
    "ours": lambda c: c.ours is True,
    "not_ours": lambda c: c.ours is False,
    "not_analysed": lambda c: c.ours is None,
    "open": lambda c: c.is_open,
    "closed": lambda c: not c.is_open,
}


@dataclass(frozen=True)
class ComplaintReport:
    query: ComplaintQuery
    as_of: datetime
    tz: tzinfo
    by: dict[str, Breakdown]  # dimension → counts
    complaints: list[ComplaintRow]

    @property
    def total(self) -> Counts:
        return self.by["category"].total


def compute(conn: Connection, query: ComplaintQuery, now: datetime, tz: tzinfo) -> ComplaintReport:
    start, end = query.period.bounds(tz)
    rows = list_complaints(conn, received_from=start, received_until=end)
    complaints = sorted((from_row(ComplaintRow, r) for r in rows), key=lambda c: c.number)
    by = {
        "category": breakdown(
            complaints, lambda c: c.category, COLUMNS, keys=[c.value for c in ComplaintCategory]
        ),
        "department": breakdown(complaints, lambda c: c.department, COLUMNS),
        "engineer": breakdown(complaints, lambda c: c.engineer, COLUMNS),
    }
    return ComplaintReport(query, now, tz, by, complaints)


def complaints_report(ledger: Ledger, query: ComplaintQuery) -> ComplaintReport:
    with caught_up(ledger, [ComplaintProjection.name]) as (conn, now):
        return compute(conn, query, now, ledger.tz)


# --------------------------------------------------------------------------- shapes


def _counts_json(counts: Counts, total: int) -> dict[str, Any]:
    return {**counts.as_dict(), "share_pct": percent(counts["count"], total)}


def report_json(report: ComplaintReport) -> dict[str, Any]:
    tz, total = report.tz, report.total["count"]
    return {
        "as_of": time_text(report.as_of, tz),
        "month": report.query.month,
        **report.query.period.json(),
        **{f"by_{d}": [_counts_json(c, total) for c in report.by[d].rows] for d in DIMENSIONS},
        "total": _counts_json(report.total, total),
        "complaints": [record_json(c, tz, number="complaint") for c in report.complaints],
    }


WORDS = Words(
    {
        "en": {
            "title": "Complaints, monthly review",
            "complaints": "Complaints",
            "no complaints": "no complaints",
            "count": "complaints",
            "share %": "share %",
            "not_ours": "not ours",
            "not_analysed": "not analysed",
            "unanalysed": "(not analysed)",
            "non_quality": "non-quality",
            "corrective_actions": "corrective actions",
        },
        "zh": {
            "title": "顾客投诉月度评审",
            "complaints": "投诉明细",
            "no complaints": "本月无投诉",
            "dimension": "统计维度",
            "category": "类别",
            "key": "项目",
            "count": "投诉数",
            "share %": "占比(%)",
            "ours": "属我方责任",
            "not_ours": "非我方责任",
            "not_analysed": "未分析",
            "unanalysed": "(未分析)",
            "complaint": "投诉编号",
            "received": "受理时间",
            "about": "投诉对象",
            "reference": "对象",
            "closed at": "关闭时间",
            "corrective_actions": "纠正措施数",
            "quality": "质量异常",
            "non_quality": "人为因素",
            "other": "其他",
            "product": "产品",
            "received_status": "已受理",
            "analysed": "已分析",
            "resolved": "已处理",
            "closed": "已关闭",
            "ticket_subject": "工单",
        },
    }
)


def _subject(about: str, lang: Lang) -> str:
    return WORDS("ticket_subject" if about == ComplaintSubject.TICKET.value else about, lang, about)


def _status(status: str, lang: Lang) -> str:
    key = "received_status" if status == ComplaintStatus.RECEIVED.value else status
    return WORDS(key, lang, status)


def summary_table(report: ComplaintReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    columns = ["count", "share %", *COLUMNS]
    headers = [WORDS(k, lang) for k in ("dimension", "key", *columns)]
    total = report.total["count"]

    def row(dimension: str, counts: Counts, label: str) -> list[Cell]:
        cells: list[Cell] = [dimension, label, counts["count"], percent(counts["count"], total)]
        return cells + [counts[c] for c in COLUMNS]

    rows = []
    for d in DIMENSIONS:
        for counts in report.by[d].rows:
            label = counts.key or WORDS("unanalysed" if d == "department" else "none", lang)
            if d == "category":
                label = WORDS(label, lang)
            rows.append(row(WORDS(d, lang), counts, label))
    rows.append(row(WORDS("total", lang), report.total, ""))
    return headers, rows


def complaint_table(report: ComplaintReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    keys = ("complaint", "received", "customer", "contract", "about", "reference", "engineer")
    more = ("category", "department", "ours", "status", "closed at", "corrective_actions")
    headers = [WORDS(k, lang) for k in (*keys, *more)]
    rows: list[list[Cell]] = [
        [
            c.number,
            c.received_at,
            c.customer,
            c.contract_id,
            _subject(c.about, lang),
            c.reference,
            c.engineer,
            WORDS(c.category, lang),
            c.department,
            WORDS.flag(c.ours, lang),
            _status(c.status, lang),
            c.closed_at,
            c.corrective_actions,
        ]
        for c in report.complaints
    ]
    return headers, rows


def title(report: ComplaintReport, lang: Lang) -> str:
    return report_title(WORDS, lang, report.query.month, report)


def sheets(report: ComplaintReport, lang: Lang) -> list[Sheet]:
    """The counts by category, department and engineer, then the complaints."""
    summary, listed = summary_table(report, lang), complaint_table(report, lang)
    return report_sheets(WORDS, lang, summary, "complaints", "complaints", listed)
