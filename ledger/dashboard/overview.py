"""What the overview page shows, computed from the SLA verdicts and supervision facts. Pure.

Every tile, list and chart of the overview is a field of :class:`Overview`, built by
:func:`overview` from plain inputs (the read models' rows, already fetched), so each number
can be checked by hand against a fixture history (tests/unit/test_dashboard_views.py).

Counting follows the SLA report (``ledger.reports.sla``): compliance % = met ÷ (met +
breached + overdue), so an open ticket already past a due time counts as a breach; pending,
unknown and n/a targets are left out of the percentage.

Scope: the tiles, the daily chart and the per-engineer / per-contract bars cover the tickets
*reported in the period*. The at-risk list and the open breaches are about *now*: every open
ticket, whenever it was reported. Closed breaches are those of the period's tickets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from ledger.domain.compliance import Judgement
from ledger.domain.metrics import BUILTIN_METRICS, METRIC_NAME, metric_rank
from ledger.domain.sla import SlaStatus
from ledger.projections.sla_queries import TicketSla
from ledger.projections.supervision import SupervisionFact, SupervisionKind
from ledger.reports.common import Period
from ledger.reports.sla import Tally

TILE_METRICS = ("respond", "arrive", "resolve")
"""The built-in metrics with a tile (and a line of the daily chart); every metric a contract
declares gets a tile too once a ticket of the period has it (:func:`tile_metrics`)."""
MISSED = (SlaStatus.BREACHED, SlaStatus.OVERDUE)
RISK_FRACTION = 0.8
"""A pending target is at risk once this share of its covered time is used…"""
RISK_LEFT = timedelta(hours=1)
"""…or once less than this is left before it is due."""
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("<1d", timedelta(days=1)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
    (">7d", None),
)
"""Escalation ages: a bucket holds ages below its bound (the last has none)."""
NOTICE_KINDS = (SupervisionKind.INSPECTION_NOTICE, SupervisionKind.RECTIFICATION_NOTICE)


@dataclass(frozen=True)
class Tile:
    metric: str
    met: int
    missed: int
    met_pct: float | None
    previous_pct: float | None

    @property
    def change(self) -> float | None:
        """Percentage points against the previous period (``None`` when either is empty)."""
        if self.met_pct is None or self.previous_pct is None:
            return None
        return round(self.met_pct - self.previous_pct, 1)


@dataclass(frozen=True)
class Risk:
    """A pending target of an open ticket, with how much of its covered time is used."""

    number: str
    contract_id: str
    customer: str
    engineer: str | None
    metric: str
    target: str
    due_at: datetime
    used: float | None
    """Share (0..1+) of the target's covered time used; ``None`` when not measurable."""
    left: timedelta | None = None
    """Covered time left (business hours, pauses excluded); ``None``: not measurable, the
    wall-clock time to ``due_at`` is used instead."""

    def near(self, now: datetime) -> bool:
        """Less than :data:`RISK_LEFT` of the target's time left."""
        left = self.due_at - now if self.left is None else self.left
        return left < RISK_LEFT


@dataclass(frozen=True)
class BreachRow:
    number: str
    contract_id: str
    customer: str
    engineer: str | None
    metric: str
    target: str
    status: SlaStatus
    due_at: datetime | None
    done_at: datetime | None
    breach_minutes: int
    is_open: bool


@dataclass(frozen=True)
class Day:
    day: date
    tickets: int
    met_pct: dict[str, float | None]


@dataclass(frozen=True)
class MetBreached:
    key: str
    met: int
    missed: int


@dataclass(frozen=True)
class Escalation:
    number: str
    contract_id: str
    engineer: str | None
    level: str
    since: datetime
    age_bucket: str


@dataclass(frozen=True)
class Overview:
    period: Period
    previous: Period | None
    now: datetime
    tickets: int
    tiles: list[Tile]
    at_risk: list[Risk]
    breaches: list[BreachRow]
    daily: list[Day]
    by_engineer: list[MetBreached]
    by_contract: list[MetBreached]
    escalations: list[Escalation]
    escalation_matrix: dict[str, dict[str, int]] = field(default_factory=dict)
    notices: list[SupervisionFact] = field(default_factory=list)
    out_of_contract: int = 0
    """Tickets of the period reported outside their contract's coverage: in no figure."""


# --------------------------------------------------------------------------- pieces


def metric_tally(tickets: Iterable[TicketSla], metric: str) -> Tally:
    tally = Tally()
    for ticket in tickets:
        for target in ticket.targets:
            if target.metric == metric:
                tally.add(target.status)
    return tally


def tile_metrics(tickets: Iterable[TicketSla]) -> list[str]:
    """The built-in tiles, then each declared metric the tickets were judged on, by name."""
    declared = {t.metric for ticket in tickets for t in ticket.targets} - set(BUILTIN_METRICS)
    return [*TILE_METRICS, *sorted(declared, key=metric_rank)]


def tiles(current: Sequence[TicketSla], previous: Sequence[TicketSla] | None) -> list[Tile]:
    result = []
    for metric in tile_metrics(current):
        now_tally = metric_tally(current, metric)
        before = None if previous is None else metric_tally(previous, metric).met_pct
        counts = now_tally.counts
        result.append(
            Tile(
                metric,
                counts[SlaStatus.MET],
                counts[SlaStatus.BREACHED] + counts[SlaStatus.OVERDUE],
                now_tally.met_pct,
                before,
            )
        )
    return result


def at_risk(candidates: Iterable[Risk], now: datetime) -> list[Risk]:
    """The candidates at risk (see :data:`RISK_FRACTION`, :data:`RISK_LEFT`), soonest due
    first."""
    risky = [
        r
        for r in candidates
        if r.due_at > now and ((r.used is not None and r.used > RISK_FRACTION) or r.near(now))
    ]
    return sorted(risky, key=lambda r: (r.due_at, r.number, r.metric))


def breaches(
    period_tickets: Sequence[TicketSla], open_tickets: Sequence[TicketSla]
) -> list[BreachRow]:
    """Open tickets' overdue targets, most overdue first; then the period's breaches, most
    recently due first."""
    seen: set[tuple[str, str]] = set()
    rows: list[BreachRow] = []
    for ticket in (*open_tickets, *period_tickets):
        for t in ticket.targets:
            if t.status in MISSED and (ticket.number, t.metric) not in seen:
                seen.add((ticket.number, t.metric))
                rows.append(_breach_row(ticket, t))
    opened = sorted((r for r in rows if r.is_open), key=lambda r: (-r.breach_minutes, r.number))
    closed = sorted(
        (r for r in rows if not r.is_open),
        key=lambda r: (r.due_at is None, -(r.due_at.timestamp() if r.due_at else 0), r.number),
    )
    return opened + closed


def _breach_row(ticket: TicketSla, t: Judgement) -> BreachRow:
    return BreachRow(
        ticket.number,
        ticket.contract_id,
        ticket.customer,
        ticket.engineer,
        t.metric,
        t.target,
        t.status,
        t.due_at,
        t.done_at,
        t.breach_minutes,
        ticket.is_open,
    )


def daily(
    tickets: Sequence[TicketSla], period: Period, tz: tzinfo, today: date | None = None
) -> list[Day]:
    """One point per local day of the period up to ``today`` (every day, empty ones too),
    by the day each ticket was reported."""
    by_day: dict[date, list[TicketSla]] = {}
    for ticket in tickets:
        by_day.setdefault(ticket.reported_at.astimezone(tz).date(), []).append(ticket)
    if period.first is not None and period.last is not None:
        last = period.last if today is None else max(period.first, min(period.last, today))
        days = [period.first + timedelta(days=i) for i in range((last - period.first).days + 1)]
    else:
        days = sorted(by_day)
    return [
        Day(
            day,
            len(by_day.get(day, [])),
            {m: metric_tally(by_day.get(day, []), m).met_pct for m in TILE_METRICS},
        )
        for day in days
    ]


def met_breached(tickets: Iterable[TicketSla], key_of: str) -> list[MetBreached]:
    """Met and missed targets (all metrics) per engineer or contract, most missed first."""
    counts: dict[str, list[int]] = {}
    for ticket in tickets:
        key = getattr(ticket, key_of) or ""
        pair = counts.setdefault(key, [0, 0])
        for t in ticket.targets:
            if t.status is SlaStatus.MET:
                pair[0] += 1
            elif t.status in MISSED:
                pair[1] += 1
    rows = [MetBreached(k, met, missed) for k, (met, missed) in counts.items()]
    return sorted(rows, key=lambda r: (-r.missed, -r.met, r.key))


def age_bucket(age: timedelta) -> str:
    for name, bound in AGE_BUCKETS:
        if bound is None or age < bound:
            return name
    raise AssertionError("the last bucket has no bound")


def escalations(
    open_tickets: Sequence[TicketSla], facts: Iterable[SupervisionFact], now: datetime
) -> list[Escalation]:
    """Open tickets escalated above the engineer, at their latest level, oldest first."""
    latest: dict[str, SupervisionFact] = {}
    for fact in facts:
        if fact.kind is SupervisionKind.ESCALATED:
            latest[fact.number] = fact  # facts come in log order: the last one wins
    rows = []
    for ticket in open_tickets:
        last = latest.get(ticket.number)
        if last is None or last.detail is None:
            continue
        rows.append(
            Escalation(
                ticket.number,
                ticket.contract_id,
                ticket.engineer,
                last.detail,
                last.occurred_at,
                age_bucket(now - last.occurred_at),
            )
        )
    return sorted(rows, key=lambda e: (e.since, e.number))


def escalation_matrix(rows: Iterable[Escalation]) -> dict[str, dict[str, int]]:
    """Counts by level, then age bucket (every bucket present)."""
    matrix: dict[str, dict[str, int]] = {}
    for row in rows:
        buckets = matrix.setdefault(row.level, dict.fromkeys((n for n, _ in AGE_BUCKETS), 0))
        buckets[row.age_bucket] += 1
    return matrix


def notices(facts: Iterable[SupervisionFact]) -> list[SupervisionFact]:
    """Inspection and rectification notices (issued when work orders ran overdue), newest
    first."""
    return sorted(
        (f for f in facts if f.kind in NOTICE_KINDS), key=lambda f: f.occurred_at, reverse=True
    )


# --------------------------------------------------------------------------- the page


def overview(
    *,
    period: Period,
    current: Sequence[TicketSla],
    previous: Sequence[TicketSla] | None,
    open_tickets: Sequence[TicketSla],
    risks: Iterable[Risk],
    facts: Sequence[SupervisionFact],
    period_facts: Sequence[SupervisionFact],
    now: datetime,
    tz: tzinfo,
) -> Overview:
    """The overview: ``current`` (tickets reported in ``period``), ``previous`` (in the
    period before, ``None`` when there is none), ``open_tickets`` (all open ones), the
    pending targets measured in ``risks``, every supervision fact of the open tickets
    (``facts``) and the facts that occurred in the period (``period_facts``).

    Out-of-contract tickets are in no compliance figure (as in ``report sla``): the promises
    did not cover them; the period line counts them apart."""
    escalated = escalations(open_tickets, facts, now)
    counted = in_contract(current)
    return Overview(
        period=period,
        previous=period.previous(),
        now=now,
        tickets=len(counted),
        tiles=tiles(counted, None if previous is None else in_contract(previous)),
        at_risk=at_risk(risks, now),
        breaches=breaches(counted, in_contract(open_tickets)),
        daily=daily(counted, period, tz, now.astimezone(tz).date()),
        by_engineer=met_breached(counted, "engineer"),
        by_contract=met_breached(counted, "contract_id"),
        escalations=escalated,
        escalation_matrix=escalation_matrix(escalated),
        notices=notices(period_facts),
        out_of_contract=len(current) - len(counted),
    )


def in_contract(tickets: Sequence[TicketSla]) -> list[TicketSla]:
    """The tickets the contract's promises cover (the compliance figures' tickets)."""
    return [t for t in tickets if not t.out_of_contract]


# --------------------------------------------------------------------------- drill-down

OUTCOMES: dict[str, tuple[SlaStatus, ...]] = {
    "met": (SlaStatus.MET,),
    "missed": MISSED,
    "pending": (SlaStatus.PENDING,),
}
"""What a tile or a bar stands for, by the ``outcome`` its link names."""


@dataclass(frozen=True)
class DrillQuery:
    """The list behind a tile or a chart element: the period's tickets narrowed down, or,
    with ``level``, the open tickets escalated to that level (of ``age``, a bucket name)."""

    metric: str | None = None
    outcome: str | None = None
    engineer: str | None = None
    contract_id: str | None = None
    day: date | None = None
    level: str | None = None
    age: str | None = None

    def __post_init__(self) -> None:
        if self.age is not None and self.age not in dict(AGE_BUCKETS):
            raise ValueError(f"unknown age {self.age!r} ({', '.join(dict(AGE_BUCKETS))})")
        if self.metric is not None and not METRIC_NAME.match(self.metric):
            raise ValueError(f"unknown metric {self.metric!r}")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r} (met, missed or pending)")


@dataclass(frozen=True)
class DrillRow:
    ticket: TicketSla
    targets: tuple[Judgement, ...]
    """The targets that made the ticket match (all of them when no outcome is asked)."""


def drill_escalated(
    open_tickets: Iterable[TicketSla], escalated: Iterable[Escalation], query: DrillQuery
) -> list[DrillRow]:
    """The open tickets behind an element of the escalation chart, oldest escalation first."""
    wanted = {
        e.number: e
        for e in escalated
        if e.level == query.level and (query.age is None or e.age_bucket == query.age)
    }
    by_number = {t.number: t for t in open_tickets}
    return [
        DrillRow(by_number[number], by_number[number].targets)
        for number in sorted(wanted, key=lambda n: (wanted[n].since, n))
        if number in by_number
    ]


def drill(tickets: Iterable[TicketSla], query: DrillQuery, tz: tzinfo) -> list[DrillRow]:
    """The tickets behind a tile or chart element, in report order."""
    statuses = OUTCOMES.get(query.outcome or "")
    rows = []
    for ticket in tickets:
        if query.engineer is not None and (ticket.engineer or "") != query.engineer:
            continue
        if query.contract_id is not None and ticket.contract_id != query.contract_id:
            continue
        if query.day is not None and ticket.reported_at.astimezone(tz).date() != query.day:
            continue
        targets = tuple(
            t
            for t in ticket.targets
            if (query.metric is None or t.metric == query.metric)
            and (statuses is None or t.status in statuses)
        )
        if statuses is not None and not targets:
            continue
        if query.metric is not None and not targets:
            continue
        rows.append(DrillRow(ticket, targets))
    return rows
