"""The satisfaction report (``ledger report satisfaction``): seed 000's survey, summed up.

Built from the ``visits`` read model: every visit **scored** (顾客意见调查表) and conducted in
a period of local dates, grouped by customer, contract, quarter (of the visit) or engineer
(of the visited ticket). Per group: the average of each score (engineering quality A,
progress B, service C, performance capability D) and of the total, the band of that
average, how many visits fell in each band, and the trend: the change of the average
total against the previous period of the same length (the same number of calendar months
when the period is whole months, else of days); with ``--by quarter``, against the
quarter before each row's. Then the low-score visits (不太满意 or worse), lowest first.

The totals and bands are the projection's, i.e. :func:`satisfaction_total` and
:func:`satisfaction_band` of the domain; averages are exact decimals rounded half up to
two places, and the band of an average is ``satisfaction_band`` of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection

from ledger.domain.satisfaction import SatisfactionBand, satisfaction_band
from ledger.domain.values import VisitPurpose
from ledger.projections.visits import VisitProjection, list_visits
from ledger.reports.common import (
    Period,
    ReadModels,
    Words,
    caught_up,
    from_row,
    group_by,
    local_midnight,
    mean,
    number,
    quarter_of,
    quarter_period,
    record_json,
    report_sheets,
    report_title,
    time_text,
    within,
)
from ledger.reports.export import Cell, Lang, Sheet

Grouping = Literal["customer", "contract", "quarter", "engineer"]
GROUPINGS: tuple[Grouping, ...] = ("customer", "contract", "quarter", "engineer")
SCORES = ("engineering_quality", "progress", "service", "performance_capability")
BANDS = tuple(SatisfactionBand)
LOW = (SatisfactionBand.VERY_DISSATISFIED, SatisfactionBand.DISSATISFIED)
"""The bands of a low score: 不太满意 or worse."""


@dataclass(frozen=True)
class SatisfactionQuery:
    period: Period = field(default_factory=Period)
    by: Grouping = "customer"


@dataclass(frozen=True)
class ScoredVisit:
    number: str
    conducted_at: datetime
    customer: str
    contract_id: str
    ticket_number: str | None
    engineer: str | None
    kind: str | None
    engineering_quality: int
    progress: int
    service: int
    performance_capability: int
    total: Decimal
    band: SatisfactionBand

    @property
    def scores(self) -> tuple[int, int, int, int]:
        return (self.engineering_quality, self.progress, self.service, self.performance_capability)


def scored_visit(row: dict[str, Any]) -> ScoredVisit:
    """A scored visit from a row of ``list_visits``."""
    return from_row(ScoredVisit, row, band=SatisfactionBand(row["band"]))


@dataclass(frozen=True)
class Satisfaction:
    """One row: the averages of some scored visits, and the previous period's total."""

    key: str | None
    visits: tuple[ScoredVisit, ...]
    previous_total: Decimal | None = None

    @property
    def count(self) -> int:
        return len(self.visits)

    @property
    def averages(self) -> dict[str, Decimal | None]:
        result = {name: mean([v.scores[i] for v in self.visits]) for i, name in enumerate(SCORES)}
        return result | {"total": self.total}

    @property
    def total(self) -> Decimal | None:
        return mean([v.total for v in self.visits])

    @property
    def band(self) -> SatisfactionBand | None:
        total = self.total
        return None if total is None else satisfaction_band(total)

    @property
    def bands(self) -> dict[SatisfactionBand, int]:
        return {b: sum(1 for v in self.visits if v.band is b) for b in BANDS}

    @property
    def trend(self) -> Decimal | None:
        """This average total less the previous one (as shown, two places)."""
        total = self.total
        if total is None or self.previous_total is None:
            return None
        return total - self.previous_total

    def as_dict(self) -> dict[str, Any]:
        band = self.band
        return {
            "key": self.key,
            "visits": self.count,
            "averages": {k: number(v) for k, v in self.averages.items()},
            "band": None if band is None else band.value,
            "bands": {b.value: n for b, n in self.bands.items()},
            "previous_total": number(self.previous_total),
            "trend": number(self.trend),
        }


@dataclass(frozen=True)
class SatisfactionReport:
    query: SatisfactionQuery
    previous: Period | None
    as_of: datetime
    tz: tzinfo
    groups: list[Satisfaction]
    total: Satisfaction
    low: list[ScoredVisit]


# --------------------------------------------------------------------------- the numbers


def _closed(period: Period, today: date) -> Period:
    """An open end of the period is today, for the trend."""
    if period.first is None or period.last is not None or period.first > today:
        return period
    return Period(period.first, today)


def _quarter_start(key: str) -> date:
    first = quarter_period(key).first
    assert first is not None
    return first


def _previous_quarter(key: str) -> str:
    start = _quarter_start(key)
    return f"{start.year - 1}Q4" if start.month == 1 else f"{start.year}Q{(start.month - 1) // 3}"


def summarise(
    visits: Sequence[ScoredVisit], query: SatisfactionQuery, as_of: datetime, tz: tzinfo
) -> SatisfactionReport:
    """The report's numbers from the scored visits of the period and before it. Pure."""
    period = query.period
    start, end = period.bounds(tz)
    previous = _closed(period, as_of.astimezone(tz).date()).previous()
    current = [v for v in visits if within(v.conducted_at, start, end)]
    before: list[ScoredVisit] = []
    if previous is not None:
        before = [v for v in visits if within(v.conducted_at, *previous.bounds(tz))]

    def key(visit: ScoredVisit) -> str | None:
        if query.by == "quarter":
            return quarter_of(visit.conducted_at, tz)
        if query.by == "contract":
            return visit.contract_id
        return visit.customer if query.by == "customer" else visit.engineer

    earlier = group_by(visits if query.by == "quarter" else before, key)
    groups = []
    for k, members in group_by(current, key).items():
        prior = earlier.get(_previous_quarter(k) if query.by == "quarter" and k else k)
        groups.append(Satisfaction(k, tuple(members), Satisfaction(k, tuple(prior or ())).total))
    total = Satisfaction(None, tuple(current), Satisfaction(None, tuple(before)).total)
    low = sorted((v for v in current if v.band in LOW), key=lambda v: (v.total, v.number))
    return SatisfactionReport(query, previous, as_of, tz, groups, total, low)


def _fetch_from(query: SatisfactionQuery, previous: Period | None, tz: tzinfo) -> datetime | None:
    """How far back the visits are needed: the previous period's start, and with
    ``--by quarter`` the start of the quarter before the first one."""
    first = query.period.first
    if first is None:
        return None
    starts = [first] if previous is None or previous.first is None else [previous.first]
    if query.by == "quarter":
        starts.append(_quarter_start(_previous_quarter(quarter_of(local_midnight(first, tz), tz))))
    return local_midnight(min(starts), tz)


def compute(
    conn: Connection, query: SatisfactionQuery, now: datetime, tz: tzinfo
) -> SatisfactionReport:
    previous = _closed(query.period, now.astimezone(tz).date()).previous()
    rows = list_visits(
        conn,
        conducted_from=_fetch_from(query, previous, tz),
        conducted_until=query.period.bounds(tz)[1],
    )
    visits = [scored_visit(row) for row in rows if row["total"] is not None]
    visits.sort(key=lambda v: (v.conducted_at, v.number))
    return summarise(visits, query, now, tz)


def satisfaction_report(ledger: ReadModels, query: SatisfactionQuery) -> SatisfactionReport:
    with caught_up(ledger, [VisitProjection.name]) as (conn, now):
        return compute(conn, query, now, ledger.tz)


# --------------------------------------------------------------------------- shapes


def report_json(report: SatisfactionReport) -> dict[str, Any]:
    """The ``--json`` shape (keys and band values in English whatever ``--lang``)."""
    return {
        "as_of": time_text(report.as_of, report.tz),
        **report.query.period.json(),
        "by": report.query.by,
        "previous": None if report.previous is None else report.previous.json(),
        "groups": [g.as_dict() for g in report.groups],
        "total": report.total.as_dict(),
        "low_scores": [
            record_json(v, report.tz, number="visit", ticket_number="ticket") for v in report.low
        ],
    }


WORDS = Words(
    {
        "en": {
            "title": "Customer satisfaction",
            "low scores": "Low scores",
            "no low scores": "no low scores (不太满意 or worse)",
            "engineering_quality": "engineering quality A",
            "progress": "progress B",
            "service": "service C",
            "performance_capability": "performance capability D",
            "total score": "total",
            "previous total": "previous total",
            **{b.value: b.en for b in BANDS},
            **{f"kind {k.value}": k.value.replace("_", " ") for k in VisitPurpose},
        },
        "zh": {
            "title": "顾客满意度",
            "low scores": "低分回访",
            "no low scores": "无低分回访(不太满意及以下)",
            "visits": "评分回访数",
            "engineering_quality": "工程质量A",
            "progress": "工程进度B",
            "service": "服务C",
            "performance_capability": "履约能力D",
            "total score": "总分",
            "band": "满意程度",
            "previous total": "上期总分",
            "trend": "变化",
            "visit": "回访编号",
            "conducted": "回访时间",
            "kind": "回访类型",
            "kind weekly_contact": "每周联系",
            "kind inspection_round": "巡检",
            "kind satisfaction_survey": "满意度调查",
            "kind key_customer_visit": "重点客户走访",
            "kind ticket_audit": "服务单审核回访",
            "kind other": "其他",
            **{b.value: b.zh for b in BANDS},
        },
    }
)


def summary_table(report: SatisfactionReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    def w(key: str) -> str:
        return WORDS(key, lang)

    headers = [w(report.query.by), w("visits"), *(w(s) for s in SCORES), w("total score")]
    headers += [w("band"), *(w(b.value) for b in BANDS), w("previous total"), w("trend")]

    def row(group: Satisfaction, label: str) -> list[Cell]:
        band = group.band
        cells: list[Cell] = [label, group.count]
        cells += [number(v) for v in group.averages.values()]
        cells.append(None if band is None else w(band.value))
        cells += list(group.bands.values())
        return [*cells, number(group.previous_total), number(group.trend)]

    rows = [row(g, g.key or w("none")) for g in report.groups]
    rows.append(row(report.total, w("total")))
    return headers, rows


def low_table(report: SatisfactionReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    keys = ("visit", "conducted", "customer", "contract", "ticket", "engineer", "kind")
    headers = [WORDS(k, lang) for k in (*keys, *SCORES, "total score", "band")]
    rows: list[list[Cell]] = [
        [
            v.number,
            v.conducted_at,
            v.customer,
            v.contract_id,
            v.ticket_number,
            v.engineer,
            None if v.kind is None else WORDS(f"kind {v.kind}", lang),
            *v.scores,
            float(v.total),
            WORDS(v.band.value, lang),
        ]
        for v in report.low
    ]
    return headers, rows


def title(report: SatisfactionReport, lang: Lang) -> str:
    scope = f"{report.query.period.text()} · {WORDS(report.query.by, lang)}"
    return report_title(WORDS, lang, scope, report)


def sheets(report: SatisfactionReport, lang: Lang) -> list[Sheet]:
    """The summary, then the low-score visits."""
    summary, low = summary_table(report, lang), low_table(report, lang)
    return report_sheets(WORDS, lang, summary, "low", "low scores", low)
