"""The SLA compliance report (``ledger report sla``): how many promises were kept.

Built from the ``sla`` projection's verdicts (:func:`ledger.projections.sla_queries.ticket_slas`),
for the tickets reported in a period of local dates (inclusive, in the user's zone),
cancelled tickets left out. One summary row per group (contract, customer, engineer,
severity or month of the report) plus a total row, then the list of breaches. ``--as-of``
replays only the events recorded by then into a throwaway in-memory copy of the
projection's tables, through the same ``SlaProjection.apply``, and asks the same query.

Out-of-contract tickets (reported outside their contract's coverage, ``OutOfContractNoted``)
are judged like any other but counted apart: they are in no group, not in the total, not in
the breaches; their own line (``out_of_contract``) says how many there were and how their
targets went.

Counting: *targets* are the judged ones (met, breached, overdue, pending, unknown; ``n/a``
is counted apart); met % = met ÷ (met + breached + overdue); the median and p90 (nearest
rank) of the covered time to respond / arrive / resolve are over the targets done.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import StaticPool

from ledger.domain.contract import METRICS
from ledger.domain.metrics import METRIC_WORDS_ZH, metric_rank
from ledger.domain.sla import SlaStatus
from ledger.domain.values import Severity
from ledger.projections.sla import SlaProjection, load_contracts
from ledger.projections.sla_queries import TicketSla, ticket_slas
from ledger.reports import export
from ledger.reports.common import (
    Period,
    ReadModels,
    Words,
    caught_up,
    percent,
    report_sheets,
    report_title,
    time_text,
)
from ledger.reports.export import Cell, Lang, Sheet, csv_path
from ledger.storage.tables import metadata

Grouping = Literal["contract", "customer", "engineer", "severity", "month"]
GROUPINGS: tuple[Grouping, ...] = ("contract", "customer", "engineer", "severity", "month")
TIMED = ("respond", "arrive", "resolve")
"""The built-in metrics whose covered times the report summarises (median, p90); every
declared metric's are summarised too, once a ticket of the report has it."""
COUNTED = (
    SlaStatus.MET,
    SlaStatus.BREACHED,
    SlaStatus.OVERDUE,
    SlaStatus.PENDING,
    SlaStatus.UNKNOWN,
)
"""The statuses of judged targets; ``n/a`` targets did not apply and are counted apart."""
BREACHES = (SlaStatus.BREACHED, SlaStatus.OVERDUE)


# --------------------------------------------------------------------------- the numbers


@dataclass(frozen=True)
class ReportQuery:
    date_from: date | None = None
    date_to: date | None = None
    contract: str | None = None
    by: Grouping = "contract"

    def __post_init__(self) -> None:
        Period.given(self.date_from, self.date_to)  # refuses --from after --to, or out of range

    @property
    def period(self) -> Period:
        return Period(self.date_from, self.date_to)

    def bounds(self, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
        """The period as instants: from the first day's 00:00 to the day after the last."""
        return self.period.bounds(tz)


STATUSES = tuple(SlaStatus)
"""Iterating an enum class walks its members through a generator each time: a tally is
made for every group and metric of a report."""


@dataclass
class Tally:
    """Counts of target statuses (all metrics together, or one metric)."""

    counts: dict[SlaStatus, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    def add(self, status: SlaStatus) -> None:
        self.counts[status] += 1

    @property
    def targets(self) -> int:
        return sum(self.counts[s] for s in COUNTED)

    @property
    def met_pct(self) -> float | None:
        met = self.counts[SlaStatus.MET]
        missed = self.counts[SlaStatus.BREACHED] + self.counts[SlaStatus.OVERDUE]
        return percent(met, met + missed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "targets": self.targets,
            **{_key(s): self.counts[s] for s in (*COUNTED, SlaStatus.NOT_APPLICABLE)},
            "met_pct": self.met_pct,
        }


def _key(status: SlaStatus) -> str:
    return "not_applicable" if status is SlaStatus.NOT_APPLICABLE else status.value


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Group:
    """One row of the summary."""

    key: str
    tickets: int = 0
    unjudged: int = 0
    all: Tally = field(default_factory=Tally)
    metrics: dict[str, Tally] = field(default_factory=lambda: {m: Tally() for m in METRICS})
    elapsed: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in TIMED})

    def add(self, ticket: TicketSla) -> None:
        self.tickets += 1
        self.unjudged += not ticket.judged
        counts, metrics, elapsed = self.all.counts, self.metrics, self.elapsed  # kept tight:
        for target in ticket.targets:  # every ticket is added twice (its group, the total)
            status, metric = target.status, target.metric
            counts[status] += 1
            tally = metrics.get(metric)
            if tally is None:  # a declared metric (not one of the built-in four), first seen
                tally = metrics[metric] = Tally()
                elapsed[metric] = []
            tally.counts[status] += 1
            done = elapsed.get(metric) if status in (SlaStatus.MET, SlaStatus.BREACHED) else None
            if done is not None and target.elapsed is not None:
                done.append(target.elapsed.total_seconds() / 60)

    def minutes(self, metric: str) -> tuple[float | None, float | None]:
        """Median and p90 of the covered minutes to ``metric``, ``None`` when none done."""
        values = self.elapsed.get(metric, [])
        if not values:
            return None, None
        return round(statistics.median(values), 1), round(percentile(values, 90), 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key or None,  # None: no engineer (or the total row)
            "tickets": self.tickets,
            "unjudged": self.unjudged,
            **self.all.as_dict(),
            "minutes": {
                m: dict(zip(("median", "p90"), self.minutes(m), strict=True))
                | {"count": len(self.elapsed[m])}
                for m in self.elapsed
            },
            "metrics": {m: t.as_dict() for m, t in self.metrics.items()},
        }


@dataclass(frozen=True)
class Breach:
    number: str
    contract_id: str
    severity: str
    engineer: str | None
    metric: str
    target: str
    due_at: datetime | None
    done_at: datetime | None
    status: SlaStatus
    breach_minutes: int


@dataclass(frozen=True)
class SlaReport:
    query: ReportQuery
    as_of: datetime
    tz: tzinfo
    groups: list[Group]
    total: Group
    breaches: list[Breach]
    contract_names: dict[str, str] = field(default_factory=dict)
    """Each contract's name by id, for the tables people read (JSON keeps the ids)."""
    out_of_contract: Group = field(default_factory=lambda: Group(""))
    """The out-of-contract tickets, apart from every other figure."""

    @property
    def metrics(self) -> list[str]:
        """Every metric judged in the report (built-in ones first): a column each."""
        seen = {m for g in (self.total, self.out_of_contract) for m, t in g.metrics.items()}
        return sorted(seen, key=metric_rank)

    def contract_label(self, contract_id: str) -> str:
        """``禹州市看守所智慧监所项目 (seed-002)``; the bare id when the name is unknown."""
        name = self.contract_names.get(contract_id)
        return f"{name} ({contract_id})" if name else contract_id


def group_key(ticket: TicketSla, by: Grouping, tz: tzinfo) -> str:
    if by == "month":
        return ticket.reported_at.astimezone(tz).strftime("%Y-%m")
    if by == "engineer":
        return ticket.engineer or ""
    value: str = getattr(ticket, "contract_id" if by == "contract" else by)
    return value


def summarise(
    tickets: Sequence[TicketSla], query: ReportQuery, as_of: datetime, tz: tzinfo
) -> SlaReport:
    """The report's numbers from the tickets' verdicts. Pure."""
    groups: dict[str, Group] = {}
    total = Group("")
    outside = Group("")
    breaches = []
    for ticket in tickets:
        if ticket.out_of_contract:
            outside.add(ticket)
            continue
        key = group_key(ticket, query.by, tz)
        groups.setdefault(key, Group(key)).add(ticket)
        total.add(ticket)
        breaches += [
            Breach(
                ticket.number,
                ticket.contract_id,
                ticket.severity,
                ticket.engineer,
                t.metric,
                t.target,
                t.due_at,
                t.done_at,
                t.status,
                t.breach_minutes,
            )
            for t in ticket.targets
            if t.status in BREACHES
        ]
    breaches.sort(key=lambda b: (b.number, metric_rank(b.metric)))
    ordered = [groups[k] for k in sorted(groups, key=partial(group_order, query.by))]
    return SlaReport(query, as_of, tz, ordered, total, breaches, out_of_contract=outside)


def group_order(by: Grouping, key: str) -> tuple[int, str]:
    """Groups by key, except severities: by rank (emergency first), whatever the language."""
    if by == "severity":
        ranks = [s.value for s in Severity]
        return (ranks.index(key) if key in ranks else len(ranks), key)
    return (0, key)


# --------------------------------------------------------------------------- running it


@contextmanager
def as_of_snapshot(ledger: ReadModels, when: datetime) -> Iterator[Connection]:
    """A throwaway in-memory SQLite copy of the ``sla`` tables, holding only the events
    recorded at or before ``when``, applied through the same ``SlaProjection.apply``."""
    projection = ledger.projections.projections[SlaProjection.name]
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        metadata.create_all(engine, tables=list(projection.tables))
        with engine.begin() as conn:
            ledger.projections.replay(projection, conn, recorded_until=when)
            yield conn
    finally:
        engine.dispose()


def compute(conn: Connection, query: ReportQuery, now: datetime, tz: tzinfo) -> SlaReport:
    """The report from the ``sla`` tables reached through ``conn``, judged at ``now``."""
    start, end = query.bounds(tz)
    tickets = ticket_slas(
        conn, now, reported_from=start, reported_before=end, contract=query.contract
    )
    report = summarise(tickets, query, now, tz)
    names = {c.contract_id: c.latest.policy.name for c in load_contracts(conn).values()}
    return replace(report, contract_names=names)


def sla_report(
    ledger: ReadModels, query: ReportQuery, *, as_of: datetime | None = None
) -> SlaReport:
    """The report as the ledger stands now (the live projection, caught up first), or as
    it stood at ``as_of``."""
    if as_of is not None:
        with as_of_snapshot(ledger, as_of) as conn:
            return compute(conn, query, as_of, ledger.tz)
    with caught_up(ledger, [SlaProjection.name]) as (conn, now):
        return compute(conn, query, now, ledger.tz)


# --------------------------------------------------------------------------- shapes


def report_json(report: SlaReport) -> dict[str, Any]:
    """The ``--json`` shape (keys and status values in English whatever ``--lang``)."""
    tz, q = report.tz, report.query
    return {
        "as_of": time_text(report.as_of, tz),
        **q.period.json(),
        "contract": q.contract,
        "by": q.by,
        "groups": [g.as_dict() for g in report.groups],
        "total": report.total.as_dict(),
        "out_of_contract": report.out_of_contract.as_dict(),
        "breaches": [
            {
                "ticket": b.number,
                "contract_id": b.contract_id,
                "severity": b.severity,
                "engineer": b.engineer,
                "metric": b.metric,
                "target": b.target,
                "due_at": time_text(b.due_at, tz),
                "done_at": time_text(b.done_at, tz),
                "status": b.status.value,
                "breach_minutes": b.breach_minutes,
            }
            for b in report.breaches
        ],
    }


WORDS = Words(
    {
        "en": {
            "median": "{metric} median (min)",
            "p90": "{metric} p90 (min)",
            "per metric": "Per metric",
            "median minutes": "median (min)",
            "p90 minutes": "p90 (min)",
            "breaches": "Breaches",
            "title": "SLA compliance",
            "out of contract": "out of contract (not counted)",
        },
        "zh": {
            "severity": "严重程度",
            "targets": "考核项数",
            "median": "{metric}中位数(分钟)",
            "p90": "{metric}P90(分钟)",
            "metric": "考核项",
            "target": "承诺时限",
            "due": "应完成时间",
            "done": "完成时间",
            "breach minutes": "超时分钟数",
            "breaches": "超时明细",
            "title": "服务承诺达标情况",
            "no breaches": "无超时",
            "out of contract": "合同外（不计入）",
            # statuses
            "met": "达标",
            "breached": "超时",
            "overdue": "逾期未完成",
            "pending": "进行中",
            "n/a": "不适用",
            "unknown": "无法判定",
            # metrics
            **METRIC_WORDS_ZH,
            "per metric": "分项达标情况",
            "median minutes": "中位数(分钟)",
            "p90 minutes": "P90(分钟)",
            # severities
            "emergency": "紧急",
            "critical": "重大",
            "major": "较大",
            "general": "一般",
        },
    }
)


def word(key: str, lang: Lang) -> str:
    """A label, status, metric or severity in ``lang`` (English falls back to the key)."""
    return WORDS(key, lang)


def summary_table(report: SlaReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    by = report.query.by
    headers = [word(by, lang), word("tickets", lang), word("targets", lang)]
    headers += [word(s.value, lang) for s in COUNTED]
    headers.append(word("met %", lang))
    for metric in TIMED:
        name = word(metric, lang)
        headers += [word("median", lang).format(metric=name), word("p90", lang).format(metric=name)]

    def row(group: Group, label: str) -> list[Cell]:
        cells: list[Cell] = [label, group.tickets, group.all.targets]
        cells += [group.all.counts[s] for s in COUNTED]
        cells.append(group.all.met_pct)
        for metric in TIMED:
            cells += list(group.minutes(metric))
        return cells

    def label(key: str) -> str:
        if by == "engineer" and not key:
            return word("unassigned", lang)
        if by == "contract":
            return report.contract_label(key)
        return word(key, lang) if by == "severity" else key

    rows = [row(g, label(g.key)) for g in report.groups]
    rows.append(row(report.total, word("total", lang)))
    if report.out_of_contract.tickets:
        rows.append(row(report.out_of_contract, word("out of contract", lang)))
    return headers, rows


def breach_table(report: SlaReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    keys = ("ticket", "contract", "severity", "engineer", "metric", "target", "due", "done")
    headers = [word(k, lang) for k in (*keys, "status", "breach minutes")]
    rows: list[list[Cell]] = [
        [
            b.number,
            report.contract_label(b.contract_id),
            word(b.severity, lang),
            b.engineer,
            word(b.metric, lang),
            b.target,
            b.due_at,
            b.done_at,
            word(b.status.value, lang),
            b.breach_minutes,
        ]
        for b in report.breaches
    ]
    return headers, rows


def metric_table(report: SlaReport, lang: Lang) -> tuple[list[str], list[list[Cell]]]:
    """One row per metric judged in the report (the built-in ones and every declared one),
    over the total: its counts, met %, and the median and p90 of its covered minutes."""
    keys = ("metric", "targets", *(s.value for s in (*COUNTED, SlaStatus.NOT_APPLICABLE)))
    headers = [word(k, lang) for k in keys]
    headers += [word("met %", lang), word("median minutes", lang), word("p90 minutes", lang)]
    rows: list[list[Cell]] = []
    for metric in report.metrics:
        tally = report.total.metrics.get(metric, Tally())
        cells: list[Cell] = [word(metric, lang), tally.targets]
        cells += [tally.counts[s] for s in (*COUNTED, SlaStatus.NOT_APPLICABLE)]
        cells += [tally.met_pct, *report.total.minutes(metric)]
        rows.append(cells)
    return headers, rows


def title(report: SlaReport, lang: Lang) -> str:
    q = report.query
    scope = q.period.text() + (f" · {q.contract}" if q.contract else "")
    return report_title(WORDS, lang, scope, report)


# --------------------------------------------------------------------------- files


def sheets(report: SlaReport, lang: Lang) -> list[Sheet]:
    """The report's tables: the summary, the breaches, then one row per metric (a contract's
    declared metrics too)."""
    summary, listed = summary_table(report, lang), breach_table(report, lang)
    per_metric = Sheet("metrics", word("per metric", lang), *metric_table(report, lang))
    return [*report_sheets(WORDS, lang, summary, "breaches", "breaches", listed), per_metric]


def breaches_csv_path(path: Path) -> Path:
    """``report.csv`` → ``report.breaches.csv`` (next to it)."""
    return csv_path(path, Sheet("breaches", "", [], []), first=False)


def write_csv(report: SlaReport, path: Path, lang: Lang) -> list[Path]:
    """The summary to ``path`` and the breaches next to it. Returns the files written."""
    return export.write_csv(sheets(report, lang), path, report.tz)


def write_xlsx(report: SlaReport, path: Path, lang: Lang) -> None:
    """Two sheets, Summary and Breaches (汇总 / 超时明细)."""
    export.write_xlsx(sheets(report, lang), path, report.tz)
