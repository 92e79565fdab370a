"""The corrective-action report (``ledger report corrective-actions``): seed 000's cards.

Built from the ``corrective_actions`` read model: the actions raised in a period of local
dates (optionally of one responsible department). Per department, and in total:

* raised; open (not closed); overdue (``CorrectiveAction.is_overdue`` at the report's
  time: a plan not implemented by the end of its due date);
* verified effective / verified not effective (by the **latest** verification, so an
  action found not effective and then effective after a new plan counts as effective);
  reworked: found not effective at least once; effective %: effective ÷ verified;
* closed.

Then every open action, overdue ones first, with its responsible person and due date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from ledger.domain.corrective_action import ActionStage, IssueSource
from ledger.projections.quality import CorrectiveActionProjection, list_actions
from ledger.reports.common import (
    Breakdown,
    Counts,
    Period,
    Words,
    breakdown,
    caught_up,
    from_row,
    percent,
    record_json,
    report_sheets,
    report_title,
    time_text,
    within,
)
from ledger.reports.export import Cell, Lang, Sheet

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger


@dataclass(frozen=True)
class ActionQuery:
    period: Period = field(default_factory=Period)
    department: str | None = None


@dataclass(frozen=True)
class Action:
    number: str
    department: str
    source: str
    links: tuple[str, ...]
    stage: ActionStage
    responsible: str | None
    raised_at: datetime
    due_on: date | None
    due_by: datetime | None
    verified_effective: bool | None
    not_effective: int
    closed_at: datetime | None
    overdue: bool

    @property
    def is_open(self) -> bool:
        return self.stage is not ActionStage.CLOSED

    def days_overdue(self, now: datetime) -> int | None:
        """Whole days since the end of the due date, for an overdue action."""
        if not self.overdue or self.due_by is None:
            return None
        return (now - self.due_by).days


COLUMNS: dict[str, Callable[[Action], bool]] = {
    "open": lambda a: a.is_open,
    "overdue": lambda a: a.overdue,
    "effective": lambda a: a.verified_effective is True,
    "not_effective": lambda a: a.verified_effective is False,
    "reworked": lambda a: a.not_effective > 0,
    "closed": lambda a: not a.is_open,
}
"""The counted columns (besides ``count``, the actions raised)."""


def effective_pct(counts: Counts) -> float | None:
    return percent(counts["effective"], counts["effective"] + counts["not_effective"])


@dataclass(frozen=True)
class ActionReport:
    query: ActionQuery
    as_of: datetime
    tz: tzinfo
    departments: Breakdown
    open: list[Action]


def _action(row: dict[str, Any], overdue: set[str]) -> Action:
    stage = ActionStage(row["stage"])
    links = tuple(row["links"])
    return from_row(Action, row, stage=stage, links=links, overdue=row["number"] in overdue)


def compute(conn: Connection, query: ActionQuery, now: datetime, tz: tzinfo) -> ActionReport:
    start, end = query.period.bounds(tz)
    overdue = {r["number"] for r in list_actions(conn, department=query.department, overdue_at=now)}
    actions = [
        _action(row, overdue)
        for row in list_actions(conn, department=query.department)
        if within(row["raised_at"], start, end)
    ]
    actions.sort(key=lambda a: a.number)
    still_open = sorted(
        (a for a in actions if a.is_open),
        key=lambda a: (not a.overdue, a.due_by is None, a.due_by or now, a.number),
    )
    return ActionReport(
        query, now, tz, breakdown(actions, lambda a: a.department, COLUMNS), still_open
    )


def actions_report(ledger: Ledger, query: ActionQuery) -> ActionReport:
    with caught_up(ledger, [CorrectiveActionProjection.name]) as (conn, now):
        return compute(conn, query, now, ledger.tz)


# --------------------------------------------------------------------------- shapes


def _counts_json(counts: Counts) -> dict[str, Any]:
    values = dict(counts.counts)
    raised = values.pop("count")
    return {
        "department": counts.key,
        "raised": raised,
        **values,
        "effective_pct": effective_pct(counts),
    }


def report_json(report: ActionReport) -> dict[str, Any]:
    tz = report.tz
    return {
        "as_of": time_text(report.as_of, tz),
        **report.query.period.json(),
        "department": report.query.department,
        "departments": [_counts_json(c) for c in report.departments.rows],
        "total": _counts_json(report.departments.total),
        "open_actions": [
            record_json(a, tz, number="action") | {"days_overdue": a.days_overdue(report.as_of)}
            for a in report.open
        ],
    }


WORDS = Words(
    {
        "en": {
            "title": "Corrective and preventive actions",
            "open actions": "Open actions",
            "no open actions": "no open actions",
            "count": "raised",
            "effective": "verified effective",
            "not_effective": "verified not effective",
            "effective %": "effective %",
            "due on": "due on",
            "days overdue": "days overdue",
            "raised": "raised on",
            **{f"stage {s.value}": s.value.replace("_", " ") for s in ActionStage},
            **{f"source {s.value}": s.value.replace("_", " ") for s in IssueSource},
        },
        "zh": {
            "title": "纠正预防措施",
            "open actions": "未关闭措施",
            "no open actions": "无未关闭措施",
            "count": "提出数",
            "overdue": "逾期",
            "effective": "验证有效",
            "not_effective": "验证无效",
            "reworked": "曾验证无效",
            "effective %": "有效率(%)",
            "action": "措施编号",
            "source": "信息来源",
            "links": "关联记录",
            "stage": "当前环节",
            "responsible": "责任人",
            "due on": "完成期限",
            "days overdue": "逾期天数",
            "raised": "提出时间",
            "stage raised": "已提出",
            "stage analysed": "已分析原因",
            "stage planned": "已制定措施",
            "stage implemented": "已实施",
            "stage result_recorded": "已记录结果",
            "stage verified": "已验证有效",
            "stage not_effective": "验证无效待重新制定",
            "stage closed": "已关闭",
            "source return_visit": "回访",
            "source complaint": "投诉",
            "source ticket": "工单",
            "source internal_audit": "内审",
        },
    }
)


def summary_table(report: ActionReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    columns = ["count", *COLUMNS]
    headers = [WORDS("department", lang), *(WORDS(c, lang) for c in columns)]
    headers.append(WORDS("effective %", lang))

    def row(counts: Counts, label: str) -> list[Cell]:
        return [label, *(counts[c] for c in columns), effective_pct(counts)]

    rows = [row(c, c.key or WORDS("none", lang)) for c in report.departments.rows]
    rows.append(row(report.departments.total, WORDS("total", lang)))
    return headers, rows


def open_table(report: ActionReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    keys = ("action", "department", "source", "stage", "responsible", "due on", "overdue")
    headers = [WORDS(k, lang) for k in (*keys, "days overdue", "raised", "links")]
    rows: list[list[Cell]] = [
        [
            a.number,
            a.department,
            WORDS(f"source {a.source}", lang),
            WORDS(f"stage {a.stage.value}", lang),
            a.responsible,
            None if a.due_on is None else a.due_on.isoformat(),
            WORDS.flag(a.overdue, lang),
            a.days_overdue(report.as_of),
            a.raised_at,
            " ".join(a.links),
        ]
        for a in report.open
    ]
    return headers, rows


def title(report: ActionReport, lang: Lang) -> str:
    q = report.query
    scope = q.period.text() + (f" · {q.department}" if q.department else "")
    return report_title(WORDS, lang, scope, report)


def sheets(report: ActionReport, lang: Lang) -> list[Sheet]:
    """The summary per department, then the open actions."""
    summary, listed = summary_table(report, lang), open_table(report, lang)
    return report_sheets(WORDS, lang, summary, "open", "open actions", listed)
