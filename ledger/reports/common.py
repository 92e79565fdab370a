"""What every report shares: periods of local dates, counting and percentages, grouping,
the zh/en word table, and reading caught-up projections.

A report module computes its numbers from read models (pure functions over rows), then
shapes them as JSON and as :class:`~ledger.reports.export.Sheet` tables; the CLI prints
the tables, writes them as CSV or xlsx, or prints the JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from ledger.bounds import check_date
from ledger.clock import Clock
from ledger.projections.base import ProjectionRunner
from ledger.queries import TicketQueries
from ledger.reports.export import Cell, Lang, Sheet
from ledger.storage.location import Location
from ledger.timeutil import show

T = TypeVar("T")

# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """Local dates from ``first`` to ``last``, both included; either end may be open."""

    first: date | None = None
    last: date | None = None

    def __post_init__(self) -> None:
        if self.first and self.last and self.first > self.last:
            raise ValueError(f"--from {self.first} is after --to {self.last}")

    @classmethod
    def given(cls, first: date | None, last: date | None) -> Period:
        """A period as a person gave it: each end within the dates allowed
        (:data:`ledger.bounds.FIRST_DATE` … :data:`~ledger.bounds.LAST_DATE`), ``--from``
        not after ``--to``; ``ValueError`` naming the option otherwise."""
        for name, day in (("--from", first), ("--to", last)):
            if day is not None:
                check_date(day, name)
        return cls(first, last)

    def bounds(self, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
        """The period as instants: from the first day's 00:00 to the day after the last."""
        return (
            None if self.first is None else local_midnight(self.first, tz),
            None if self.last is None else local_midnight(self.last + timedelta(days=1), tz),
        )

    def json(self) -> dict[str, str | None]:
        return {"from": _iso(self.first), "to": _iso(self.last)}

    def text(self) -> str:
        """``2026-10-01 – 2026-10-31`` (``…`` for an open end)."""
        return " – ".join((_iso(self.first) or "…", _iso(self.last) or "…"))

    def previous(self) -> Period | None:
        """The period of the same length just before this one (``None`` when open). Whole
        calendar months step back by months (Q3 → Q2, October → September), other periods
        by days."""
        if self.first is None or self.last is None:
            return None
        months = _whole_months(self.first, self.last)
        if months:
            start = _add_months(self.first, -months)
            return Period(start, self.first - timedelta(days=1))
        days = (self.last - self.first).days + 1
        return Period(self.first - timedelta(days=days), self.first - timedelta(days=1))


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tz)


def _add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _whole_months(first: date, last: date) -> int:
    """How many calendar months ``first``..``last`` spans exactly (0: not whole months)."""
    after = last + timedelta(days=1)
    if first.day != 1 or after.day != 1:
        return 0
    return (after.year - first.year) * 12 + after.month - first.month


QUARTER = re.compile(r"^(\d{4})Q([1-4])$", re.IGNORECASE)
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def quarter_period(text: str) -> Period:
    """``2026Q3`` → 2026-07-01 … 2026-09-30."""
    found = QUARTER.match(text.strip())
    if not found:
        raise ValueError(f"--quarter: {text!r} is not a quarter like 2026Q3")
    first = date(int(found[1]), 3 * int(found[2]) - 2, 1)
    check_date(first, "--quarter")
    return Period.given(first, _add_months(first, 3) - timedelta(days=1))


def month_period(text: str) -> Period:
    """``2026-10`` → 2026-10-01 … 2026-10-31."""
    found = MONTH.match(text.strip())
    if not found or not 1 <= int(found[2]) <= 12:
        raise ValueError(f"--month: {text!r} is not a month like 2026-10")
    first = date(int(found[1]), int(found[2]), 1)
    check_date(first, "--month")
    return Period.given(first, _add_months(first, 1) - timedelta(days=1))


def quarter_of(when: datetime, tz: tzinfo) -> str:
    """The local quarter of an instant: ``2026Q4``."""
    local = when.astimezone(tz)
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


def within(when: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    """``when`` is in ``[start, end)`` (an open end admits everything)."""
    if when is None:
        return False
    return (start is None or when >= start) and (end is None or when < end)


# --------------------------------------------------------------------------- numbers


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in %, one decimal; ``None`` when ``whole`` is 0."""
    return None if whole == 0 else round(100 * part / whole, 1)


def mean(values: Sequence[int | Decimal], places: int = 2) -> Decimal | None:
    """The exact mean rounded half up to ``places`` decimals; ``None`` when empty."""
    if not values:
        return None
    exact = sum((Decimal(v) for v in values), Decimal(0)) / len(values)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def number(value: Decimal | None) -> float | None:
    """A decimal as a JSON / sheet number."""
    return None if value is None else float(value)


@dataclass
class Counts:
    """One row of a breakdown: its key (``None``: none, or the total row) and a count for
    each column."""

    key: str | None
    counts: dict[str, int]

    def __getitem__(self, column: str) -> int:
        return self.counts[column]

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.counts}


@dataclass
class Breakdown:
    """Counts per group plus the total, for a set of named columns (each a test on an
    item; the column ``count`` counts every item). Groups are sorted by key, ``None``
    last."""

    rows: list[Counts]
    total: Counts

    def as_dict(self) -> dict[str, Any]:
        return {"groups": [r.as_dict() for r in self.rows], "total": self.total.as_dict()}

    def row(self, key: str | None) -> Counts | None:
        return next((r for r in self.rows if r.key == key), None)


def group_by(items: Iterable[T], key: Callable[[T], str | None]) -> dict[str | None, list[T]]:
    """Items by key, keys sorted (``None`` last), items in their order."""
    groups: dict[str | None, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return {k: groups[k] for k in sorted(groups, key=lambda k: (k is None, k or ""))}


def breakdown(
    items: Sequence[T],
    key: Callable[[T], str | None],
    columns: Mapping[str, Callable[[T], bool]],
    *,
    keys: Sequence[str] = (),
) -> Breakdown:
    """Count the items per key: ``count`` and, for each column, how many pass its test.
    ``keys``: groups shown even when empty, first and in this order."""

    def counted(group_key: str | None, group: Sequence[T]) -> Counts:
        counts = {"count": len(group)}
        counts.update({name: sum(1 for i in group if test(i)) for name, test in columns.items()})
        return Counts(group_key, counts)

    groups = group_by(items, key)
    order = [*keys, *(k for k in groups if k not in keys)]
    rows = [counted(k, groups.get(k, [])) for k in order]
    return Breakdown(rows, counted(None, items))


# --------------------------------------------------------------------------- words


COMMON_WORDS: dict[Lang, dict[str, str]] = {
    "en": {
        "summary": "Summary",
        "unassigned": "(unassigned)",
        "none": "(none)",
        "as of": "as of",
        "yes": "yes",
        "no": "no",
    },
    "zh": {
        "contract": "合同",
        "customer": "客户",
        "engineer": "工程师",
        "department": "责任部门",
        "month": "月份",
        "quarter": "季度",
        "total": "合计",
        "unassigned": "(未派工)",
        "none": "(无)",
        "ticket": "工单号",
        "tickets": "工单数",
        "status": "状态",
        "summary": "汇总",
        "as of": "截至",
        "met %": "达标率(%)",
        "yes": "是",
        "no": "否",
        "open": "未关闭",
        "closed": "已关闭",
        "number": "编号",
    },
}
"""Labels several reports use; English falls back to the key itself."""


@dataclass(frozen=True)
class Words:
    """A report's word table over :data:`COMMON_WORDS`: ``words(key, lang)``."""

    own: dict[Lang, dict[str, str]] = field(default_factory=dict)

    def __call__(self, key: str, lang: Lang, default: str | None = None) -> str:
        """The word for ``key`` (else ``default``, else the key itself)."""
        found = self.own.get(lang, {}).get(key) or COMMON_WORDS[lang].get(key)
        return found or (key if default is None else default)

    def flag(self, value: bool | None, lang: Lang) -> str | None:
        """yes / no (是 / 否); ``None`` stays empty."""
        return None if value is None else self("yes" if value else "no", lang)


EVENT_WORDS = Words(
    {
        "en": {
            "Reported": "reported",
            "Responded": "responded",
            "Dispatched": "dispatched",
            "Arrived": "engineer on site",
            "Resolved": "resolved",
            "CustomerSigned": "customer signed",
            "Escalated": "escalated",
            "Suspended": "suspended",
            "Resumed": "resumed",
            "ReplacementProvided": "replacement unit provided",
            "ReplacementFlagged": "replacement unit owed",
            "Reclassified": "reclassified",
            "Closed": "closed",
            "Reopened": "reopened",
            "Cancelled": "cancelled",
            "InspectionNoticeIssued": "inspection notice issued",
            "RectificationNoticeIssued": "rectification notice issued",
            "OutOfContractNoted": "noted out of contract",
            "WorkContactSheetRecorded": "work contact sheet recorded",
            "EvidenceAttached": "evidence file attached",
            "DiagnosisReported": "diagnosis reported",
            "SolutionProposed": "solution proposed",
            "RepairStarted": "repair started",
            "TemporaryMeasureTaken": "temporary measure taken",
            "ServiceFormFiled": "service form filed",
            "ContactChanged": "contact person change notified",
            "EngineerSetOff": "engineer on the way",
            "WorkNoteAdded": "work note (internal)",
            "CustomerReplied": "replied to the customer",
            "MetricOverdueNoted": "noted overdue",
            "version": "version",
        },
        "zh": {
            "Reported": "已报修",
            "Responded": "已响应",
            "Dispatched": "已派工",
            "Arrived": "工程师已到场",
            "Resolved": "已修复",
            "CustomerSigned": "客户已签字确认",
            "Escalated": "已升级",
            "Suspended": "已暂停",
            "Resumed": "已恢复",
            "ReplacementProvided": "已提供备用设备",
            "ReplacementFlagged": "应提供备用设备",
            "Reclassified": "已重新定级",
            "Closed": "已关闭",
            "Reopened": "已重新打开",
            "Cancelled": "已取消",
            "InspectionNoticeIssued": "已发检查单",
            "RectificationNoticeIssued": "已发整改通知单",
            "OutOfContractNoted": "已记为合同外",
            "WorkContactSheetRecorded": "已登记工作联系单",
            "EvidenceAttached": "已附证据文件",
            "DiagnosisReported": "已提交故障诊断报告",
            "SolutionProposed": "已提出解决方案",
            "RepairStarted": "已开始检修",
            "TemporaryMeasureTaken": "已采取临时措施",
            "ServiceFormFiled": "服务记录单已归档",
            "ContactChanged": "已通知联系人变更",
            "EngineerSetOff": "工程师已出发",
            "WorkNoteAdded": "工作备注（内部）",
            "CustomerReplied": "已回复客户",
            "MetricOverdueNoted": "已记逾期",
            "version": "版本",
        },
    }
)
"""What each ticket event records, in words (keys: the event's type name)."""


def duration_text(minutes: float | None, lang: Lang) -> str:
    """A length of time for a person: ``45 天 6 小时`` / ``45 days 6 hours``; under a day
    in hours and minutes; under an hour in minutes (the two largest units, rounded down)."""
    if minutes is None:
        return ""
    whole = int(minutes)
    days, rest = divmod(whole, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = [(days, "天", "day"), (hours, "小时", "hour"), (mins, "分钟", "minute")]
    while len(units) > 1 and units[0][0] == 0:
        units.pop(0)
    parts = [
        f"{n} {zh}" if lang == "zh" else f"{n} {en}{'' if n == 1 else 's'}"
        for n, zh, en in units[:2]
        if n or len(units) == 1
    ]
    return " ".join(parts) or ("0 分钟" if lang == "zh" else "0 minutes")


def report_title(words: Words, lang: Lang, scope: str, report: Any) -> str:
    """``<title> <scope> (as of <time>)`` of a report (its ``as_of`` in its ``tz``)."""
    return (
        f"{words('title', lang)} {scope} ({words('as of', lang)} {show(report.as_of, report.tz)})"
    )


def report_sheets(
    words: Words,
    lang: Lang,
    summary: tuple[list[str], list[list[Cell]]],
    key: str,
    title: str,
    listed: tuple[list[str], list[list[Cell]]],
) -> list[Sheet]:
    """A report's two tables: the summary (its last row the total), then the list whose CSV
    file suffix is ``key`` and sheet title the word ``title``."""
    return [
        Sheet("summary", words("summary", lang), *summary),
        Sheet(key, words(title, lang), *listed),
    ]


def time_text(value: datetime | None, tz: tzinfo) -> str | None:
    """A time for JSON: ISO 8601 in the zone, ``None`` when unset."""
    return show(value, tz) or None


# --------------------------------------------------------------------------- records


R = TypeVar("R")


def from_row(cls: type[R], row: Mapping[str, Any], **values: Any) -> R:
    """A record dataclass from a read model's row: each field from the column of its name,
    unless given in ``values``."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{n: row[n] for n in names if n not in values}, **values)


def plain(value: Any, tz: tzinfo) -> Any:
    """A value for JSON: times in ``tz``, dates ISO 8601, enums their value, tuples lists,
    decimals numbers."""
    if isinstance(value, datetime):
        return time_text(value, tz)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [plain(v, tz) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def record_json(record: Any, tz: tzinfo, **renamed: str) -> dict[str, Any]:
    """A record dataclass as JSON: its fields (``renamed``: field → key), values
    :func:`plain`."""
    return {renamed.get(f.name, f.name): plain(getattr(record, f.name), tz) for f in fields(record)}


# --------------------------------------------------------------------------- reading


class ReadModels(Protocol):
    """What a report over the read models needs (a :class:`~ledger.bootstrap.Ledger` is
    one): the projections to catch up, the database, the clock and the user's zone."""

    @property
    def projections(self) -> ProjectionRunner: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def tz(self) -> tzinfo: ...


class Records(ReadModels, Protocol):
    """What a report over tickets' own events needs besides (the audit, the dossier): the
    ticket queries, where the events are stored, and whether the clock was fixed."""

    @property
    def queries(self) -> TicketQueries: ...
    @property
    def location(self) -> Location: ...
    @property
    def fixed_clock_since(self) -> datetime | None: ...


@contextmanager
def caught_up(ledger: ReadModels, names: Sequence[str]) -> Iterator[tuple[Connection, datetime]]:
    """A connection to the read models ``names``, caught up with the log first (a report
    is never stale), and the time the report is made."""
    ledger.projections.catch_up(list(names))
    with ledger.engine.connect() as conn:
        yield conn, ledger.clock.now()
