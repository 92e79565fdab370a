"""What the quality page shows: the quality department's reports, for the last quarters and
this month, side by side (the numbers are the reports' own: ``ledger report satisfaction /
corrective-actions / complaints``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING

from ledger.projections.quality import list_visits
from ledger.reports.actions import ActionQuery, ActionReport
from ledger.reports.actions import compute as compute_actions
from ledger.reports.common import Period, caught_up, group_by, quarter_of, quarter_period
from ledger.reports.complaints import ComplaintQuery, ComplaintReport
from ledger.reports.complaints import compute as compute_complaints
from ledger.reports.satisfaction import (
    BANDS,
    LOW,
    Satisfaction,
    ScoredVisit,
    scored_visit,
)

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger

QUARTERS_SHOWN = 4
QUALITY_MODELS = ("visits", "corrective_actions", "complaints")


@dataclass(frozen=True)
class QualityView:
    now: datetime
    quarters: list[str]
    """Oldest first, ending with the current quarter."""
    satisfaction: dict[tuple[str, str], Satisfaction]
    """(customer, quarter) → the averages of that customer's scored visits then."""
    customers: list[str]
    bands: dict[str, int]
    """Visits per satisfaction band over the quarters shown."""
    low: list[ScoredVisit]
    actions: ActionReport
    complaints: ComplaintReport


def last_quarters(today: date, count: int = QUARTERS_SHOWN) -> list[str]:
    year, quarter = today.year, (today.month - 1) // 3 + 1
    keys = []
    for _ in range(count):
        keys.append(f"{year}Q{quarter}")
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    return keys[::-1]


def satisfaction_grid(
    visits: Sequence[ScoredVisit], quarters: Sequence[str], tz: tzinfo
) -> dict[tuple[str, str], Satisfaction]:
    """The averages per customer and quarter (only the quarters given). Pure."""
    wanted = set(quarters)
    grid: dict[tuple[str, str], Satisfaction] = {}
    for key, members in group_by(
        visits, lambda v: f"{v.customer}\0{quarter_of(v.conducted_at, tz)}"
    ).items():
        assert key is not None
        customer, quarter = key.split("\0")
        if quarter in wanted:
            grid[(customer, quarter)] = Satisfaction(customer, tuple(members))
    return grid


def quality_view(
    visits: Sequence[ScoredVisit],
    actions: ActionReport,
    complaints: ComplaintReport,
    now: datetime,
    tz: tzinfo,
) -> QualityView:
    quarters = last_quarters(now.astimezone(tz).date())
    grid = satisfaction_grid(visits, quarters, tz)
    shown = [v for v in visits if quarter_of(v.conducted_at, tz) in quarters]
    return QualityView(
        now=now,
        quarters=quarters,
        satisfaction=grid,
        customers=sorted({customer for customer, _ in grid}),
        bands={b.value: sum(1 for v in shown if v.band is b) for b in BANDS},
        low=sorted((v for v in shown if v.band in LOW), key=lambda v: v.conducted_at, reverse=True),
        actions=actions,
        complaints=complaints,
    )


def load_quality(ledger: Ledger) -> QualityView:
    tz = ledger.tz
    with caught_up(ledger, QUALITY_MODELS) as (conn, now):
        today = now.astimezone(tz).date()
        first = quarter_period(last_quarters(today)[0]).bounds(tz)[0]
        rows = list_visits(conn, conducted_from=first)
        visits = sorted(
            (scored_visit(r) for r in rows if r["total"] is not None),
            key=lambda v: (v.conducted_at, v.number),
        )
        actions = compute_actions(conn, ActionQuery(Period()), now, tz)
        month = ComplaintQuery(f"{today.year}-{today.month:02d}")
        complaints = compute_complaints(conn, month, now, tz)
    return quality_view(visits, actions, complaints, now, tz)
