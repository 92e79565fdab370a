"""The dashboard's view models against hand-computed numbers.

The pure pieces (:mod:`ledger.dashboard.overview`, :mod:`ledger.dashboard.quality`,
:mod:`ledger.dashboard.charts`, ``period_of``) are fed verdicts and facts written by hand.
The whole overview of one history driven through the real services on SQLite and
PostgreSQL is checked in tests/integration/test_dashboard_overview.py.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from ledger.dashboard import charts
from ledger.dashboard.overview import (
    AGE_BUCKETS,
    DrillQuery,
    Escalation,
    Overview,
    Risk,
    Tile,
    age_bucket,
    at_risk,
    breaches,
    daily,
    drill,
    drill_escalated,
    escalation_matrix,
    escalations,
    met_breached,
    notices,
    overview,
    tiles,
)
from ledger.dashboard.quality import last_quarters, quality_view, satisfaction_grid
from ledger.dashboard.queries import period_of
from ledger.domain.compliance import Judgement
from ledger.domain.satisfaction import SatisfactionBand, satisfaction_band, satisfaction_total
from ledger.domain.sla import SlaStatus
from ledger.projections.sla_queries import TicketSla
from ledger.projections.supervision import SupervisionFact, SupervisionKind
from ledger.reports.actions import ActionReport
from ledger.reports.common import Period
from ledger.reports.complaints import ComplaintReport
from ledger.reports.satisfaction import ScoredVisit
from tests.support import SHANGHAI

MET, BREACHED, OVERDUE = SlaStatus.MET, SlaStatus.BREACHED, SlaStatus.OVERDUE
PENDING, NA, UNKNOWN = SlaStatus.PENDING, SlaStatus.NOT_APPLICABLE, SlaStatus.UNKNOWN
NOW = datetime(2026, 10, 8, 12, 0, tzinfo=UTC)  # Thursday 20:00 in Shanghai
EVIL = "</script><script>alert(1)</script>"


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Shanghai, 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def judged(
    metric: str,
    status: SlaStatus,
    *,
    due: datetime | None = None,
    done: datetime | None = None,
    minutes: int = 0,
) -> Judgement:
    return Judgement(metric, "1h", status, due, done, minutes)


def ticket(
    number: str,
    *targets: Judgement,
    engineer: str | None = "王工",
    contract: str = "seed-002",
    reported: datetime = NOW,
    is_open: bool = False,
) -> TicketSla:
    return TicketSla(
        ticket_id=uuid.uuid5(uuid.NAMESPACE_URL, number),
        number=number,
        contract_id=contract,
        customer="禹州市公安局",
        severity="general",
        engineer=engineer,
        reported_at=reported,
        is_open=is_open,
        judged=True,
        targets=targets,
    )


def fact(
    number: str,
    kind: SupervisionKind,
    at: datetime,
    detail: str | None = None,
    engineer: str | None = "王工",
) -> SupervisionFact:
    return SupervisionFact(number, "seed-002", kind, at, engineer, detail, "system:sweep")


def numbers_and_metrics(rows: list[Any]) -> list[tuple[str, str]]:
    return [(r.number, r.metric) for r in rows]


# --------------------------------------------------------------------------- tiles


def test_tiles_count_open_tickets_past_due_as_breaches_against_the_previous_period() -> None:
    current = [
        ticket("T1", judged("respond", MET), judged("arrive", BREACHED), judged("resolve", MET)),
        ticket(
            "T2",
            judged("respond", MET),
            judged("arrive", OVERDUE),  # open and past due: a breach already
            judged("resolve", PENDING),  # not counted
            is_open=True,
        ),
        ticket("T3", judged("respond", MET), judged("arrive", NA), judged("resolve", UNKNOWN)),
        ticket(
            "T4",
            judged("respond", BREACHED),
            judged("resolve", MET),
            judged("replacement", OVERDUE),  # no tile for replacements
        ),
    ]
    previous = [
        ticket("P1", judged("respond", MET), judged("arrive", MET)),
        ticket("P2", judged("respond", BREACHED)),
    ]
    respond, arrive, resolve = tiles(current, previous)
    # respond: met T1 T2 T3 = 3, missed T4 = 1 → 3/4 = 75.0 %; before 1/2 = 50.0 → +25.0
    assert (respond.metric, respond.met, respond.missed) == ("respond", 3, 1)
    assert (respond.met_pct, respond.previous_pct, respond.change) == (75.0, 50.0, 25.0)
    # arrive: met 0, missed T1 (breached) + T2 (overdue) = 2 → 0.0 %; before 1/1 → −100.0
    assert (arrive.met, arrive.missed, arrive.met_pct) == (0, 2, 0.0)
    assert (arrive.previous_pct, arrive.change) == (100.0, -100.0)
    # resolve: met T1 T4 = 2, pending and unknown left out → 100.0 %; no resolve before
    assert (resolve.met, resolve.missed, resolve.met_pct) == (2, 0, 100.0)
    assert (resolve.previous_pct, resolve.change) == (None, None)

    without = tiles(current, None)
    assert [t.previous_pct for t in without] == [None, None, None]
    assert [t.change for t in without] == [None, None, None]
    assert [t.met_pct for t in tiles([], None)] == [None, None, None]
    # the change is rounded to one decimal, as the percentages are
    assert Tile("respond", 5, 1, 83.3, 100.0).change == -16.7


# --------------------------------------------------------------------------- at risk


def test_at_risk_is_more_than_80_percent_used_or_less_than_an_hour_left_soonest_first() -> None:
    def risk(number: str, left: timedelta, used: float | None, metric: str = "resolve") -> Risk:
        return Risk(number, "seed-002", "禹州市公安局", "王工", metric, "4h", NOW + left, used)

    candidates = [
        risk("far-but-used", timedelta(hours=10), 0.81),  # > 80 % used: at risk
        risk("exactly-80", timedelta(hours=10), 0.8),  # 80 % is not more than 80 %
        risk("59-min-left", timedelta(minutes=59), 0.1),  # < 1 h left: at risk
        risk("exactly-1h", timedelta(hours=1), 0.5),  # 1 h left is not less than 1 h
        risk("unmeasured", timedelta(minutes=30), None),  # no share, but 30 min left
        risk("unmeasured-far", timedelta(hours=3), None),
        risk("due-now", timedelta(0), 1.0),  # due: no longer a risk but a breach
        risk("past-due", -timedelta(minutes=5), 1.2),
        risk("59-min-left", timedelta(minutes=59), 0.9, metric="arrive"),
    ]
    found = at_risk(candidates, NOW)
    assert numbers_and_metrics(found) == [
        ("unmeasured", "resolve"),  # due in 30 min
        ("59-min-left", "arrive"),  # due in 59 min: same due, by number then metric
        ("59-min-left", "resolve"),
        ("far-but-used", "resolve"),  # due in 10 h
    ]


# --------------------------------------------------------------------------- breaches


def test_breaches_list_open_tickets_most_overdue_first_then_recent_closed_ones() -> None:
    open_one = ticket(
        "O1",
        judged("respond", MET),
        judged("arrive", OVERDUE, due=local(10, 8, 10), minutes=30),
        judged("resolve", OVERDUE, due=local(10, 8, 9), minutes=300),
        judged("replacement", PENDING, due=local(10, 9, 9)),
        is_open=True,
    )
    open_two = ticket(
        "O2",
        judged("respond", BREACHED, due=local(10, 8, 9), done=local(10, 8, 9, 10), minutes=10),
        judged("arrive", OVERDUE, due=local(10, 8, 10), minutes=30),  # ties with O1: by number
        is_open=True,
    )
    closed = [
        ticket("C1", judged("arrive", BREACHED, due=local(10, 6, 10), minutes=5)),
        ticket("C2", judged("resolve", BREACHED, due=local(10, 7, 14), minutes=60)),
        ticket("C3", judged("respond", BREACHED, minutes=1)),  # no due time: last
        ticket("C4", judged("respond", MET), judged("arrive", NA)),
    ]
    # the open ticket is also one of the period's: listed once
    rows = breaches([*closed, open_one], [open_one, open_two])
    assert numbers_and_metrics(rows) == [
        ("O1", "resolve"),  # 300 min
        ("O1", "arrive"),  # 30 min
        ("O2", "arrive"),  # 30 min
        ("O2", "respond"),  # 10 min: done late, but the ticket is still open
        ("C2", "resolve"),  # due 10-07 14:00, the most recent
        ("C1", "arrive"),  # due 10-06 10:00
        ("C3", "respond"),
    ]
    assert [r.is_open for r in rows] == [True] * 4 + [False] * 3
    assert rows[0].status is OVERDUE and rows[0].breach_minutes == 300
    assert rows[3].status is BREACHED and rows[3].done_at == local(10, 8, 9, 10)


# --------------------------------------------------------------------------- daily


def test_daily_has_every_local_day_of_the_period_up_to_today() -> None:
    week = Period(date(2026, 10, 5), date(2026, 10, 11))
    tickets = [
        # 2026-10-05 16:30 UTC is 00:30 on the 6th in Shanghai
        ticket(
            "X", judged("respond", BREACHED), reported=datetime(2026, 10, 5, 16, 30, tzinfo=UTC)
        ),
        ticket("Y", judged("respond", MET), judged("arrive", MET), reported=local(10, 8, 9)),
        ticket("Z", judged("respond", BREACHED), judged("arrive", NA), reported=local(10, 8, 23)),
    ]
    days = daily(tickets, week, SHANGHAI, today=date(2026, 10, 8))
    assert [d.day.day for d in days] == [5, 6, 7, 8]  # empty days kept, none after today
    assert [d.tickets for d in days] == [0, 1, 0, 2]
    assert days[0].met_pct == {"respond": None, "arrive": None, "resolve": None}
    assert days[1].met_pct == {"respond": 0.0, "arrive": None, "resolve": None}
    # the 8th: respond Y met, Z breached → 50.0; arrive Y met, Z n/a → 100.0
    assert days[3].met_pct == {"respond": 50.0, "arrive": 100.0, "resolve": None}

    assert len(daily(tickets, week, SHANGHAI)) == 7  # no today: the whole period
    assert [d.day for d in daily(tickets, week, SHANGHAI, today=date(2026, 12, 1))][-1] == (
        date(2026, 10, 11)
    )
    # a period in the future shows its first day only
    assert [d.day for d in daily([], week, SHANGHAI, today=date(2026, 9, 1))] == [date(2026, 10, 5)]
    # an open period has the days that have tickets
    assert [d.day for d in daily(tickets, Period(), SHANGHAI, today=date(2026, 10, 8))] == [
        date(2026, 10, 6),
        date(2026, 10, 8),
    ]


# --------------------------------------------------------------------------- bars


def test_met_breached_counts_every_metric_most_missed_first() -> None:
    tickets = [
        ticket("1", judged("respond", MET), judged("arrive", BREACHED), engineer="王工"),
        ticket("2", judged("respond", OVERDUE), judged("replacement", OVERDUE), engineer="张工"),
        ticket("3", judged("respond", MET), judged("resolve", MET), engineer="李工"),
        ticket("4", judged("respond", MET), judged("arrive", PENDING), engineer="赵工"),
        ticket("5", judged("respond", MET), engineer="赵工", contract="seed-000"),
        ticket("6", judged("respond", PENDING), engineer=None, contract="seed-004"),
    ]
    by_engineer = [(r.key, r.met, r.missed) for r in met_breached(tickets, "engineer")]
    # 张工 2 missed; 王工 1 missed; then no misses: 赵工 2 met, 李工 2 met (by name), none
    assert by_engineer == [
        ("张工", 0, 2),
        ("王工", 1, 1),
        ("李工", 2, 0),
        ("赵工", 2, 0),
        ("", 0, 0),
    ]
    by_contract = [(r.key, r.met, r.missed) for r in met_breached(tickets, "contract_id")]
    assert by_contract == [("seed-002", 4, 3), ("seed-000", 1, 0), ("seed-004", 0, 0)]


# --------------------------------------------------------------------------- escalations


def test_age_buckets_hold_ages_below_their_bound() -> None:
    day, second = timedelta(days=1), timedelta(seconds=1)
    assert [age_bucket(age) for age in (timedelta(0), day - second)] == ["<1d", "<1d"]
    assert [age_bucket(age) for age in (day, 3 * day - second)] == ["1-3d", "1-3d"]
    assert [age_bucket(age) for age in (3 * day, 7 * day - second)] == ["3-7d", "3-7d"]
    assert [age_bucket(age) for age in (7 * day, 400 * day)] == [">7d", ">7d"]
    assert [name for name, _ in AGE_BUCKETS] == ["<1d", "1-3d", "3-7d", ">7d"]


def test_escalations_show_each_open_tickets_latest_level_with_its_age() -> None:
    day = timedelta(days=1)
    open_tickets = [
        ticket(n, judged("respond", OVERDUE), is_open=True) for n in ("B1", "B2", "B3", "B4")
    ]
    esc = SupervisionKind.ESCALATED
    facts = [  # in log order
        fact("B1", esc, NOW - 2 * day, "department_manager"),
        fact("B4", esc, NOW - 7 * day, "department_manager"),
        fact("B2", esc, NOW - 3 * day, "chief_engineer_office"),
        fact("B1", esc, NOW - day, "project_general_manager"),  # B1's latest
        fact("B2", SupervisionKind.INSPECTION_NOTICE, NOW, "7 days"),  # not an escalation
        fact("K", esc, NOW - day, "chief_engineer_office"),  # K is closed: not shown
    ]
    rows = escalations(open_tickets, facts, NOW)
    assert [(e.number, e.level, e.since, e.age_bucket) for e in rows] == [
        ("B4", "department_manager", NOW - 7 * day, ">7d"),  # oldest first
        ("B2", "chief_engineer_office", NOW - 3 * day, "3-7d"),
        ("B1", "project_general_manager", NOW - day, "1-3d"),
    ]
    matrix = escalation_matrix(rows)
    empty = {"<1d": 0, "1-3d": 0, "3-7d": 0, ">7d": 0}
    assert matrix == {
        "department_manager": {**empty, ">7d": 1},
        "chief_engineer_office": {**empty, "3-7d": 1},
        "project_general_manager": {**empty, "1-3d": 1},
    }
    assert all(list(buckets) == list(empty) for buckets in matrix.values())
    assert escalation_matrix([]) == {}


def test_notices_are_the_inspection_and_rectification_notices_newest_first() -> None:
    facts = [
        fact("N1", SupervisionKind.INSPECTION_NOTICE, NOW - timedelta(days=7), "7 days"),
        fact("N1", SupervisionKind.RECTIFICATION_NOTICE, NOW, "14 days"),
        fact("N2", SupervisionKind.ESCALATED, NOW, "department_manager"),
        fact("N3", SupervisionKind.REOPENED, NOW, "audit"),
        fact("N4", SupervisionKind.INSPECTION_NOTICE, NOW - timedelta(days=1), "7 days"),
    ]
    assert [(f.number, f.kind.value) for f in notices(facts)] == [
        ("N1", "rectification_notice"),
        ("N4", "inspection_notice"),
        ("N1", "inspection_notice"),
    ]


# --------------------------------------------------------------------------- drill-down


DRILLED = [
    ticket(
        "D1",
        judged("respond", MET),
        judged("arrive", BREACHED),
        judged("resolve", MET),
        reported=local(10, 8, 9),
    ),
    ticket(
        "D2",
        judged("respond", MET),
        judged("arrive", PENDING),
        judged("resolve", OVERDUE),
        engineer="张工",
        contract="seed-000",
        reported=datetime(2026, 10, 8, 16, 30, tzinfo=UTC),  # 00:30 on the 9th, local
        is_open=True,
    ),
    ticket(
        "D3",
        judged("respond", BREACHED),
        judged("replacement", MET),
        engineer=None,
        reported=local(10, 9, 15),
    ),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (DrillQuery(), {"D1": 3, "D2": 3, "D3": 2}),  # every ticket, every target
        (DrillQuery(metric="arrive"), {"D1": 1, "D2": 1}),  # D3 has no arrive target
        (DrillQuery(metric="respond", outcome="met"), {"D1": 1, "D2": 1}),
        (DrillQuery(outcome="missed"), {"D1": 1, "D2": 1, "D3": 1}),  # breached or overdue
        (DrillQuery(outcome="pending"), {"D2": 1}),
        (DrillQuery(metric="replacement", outcome="met"), {"D3": 1}),
        (DrillQuery(engineer="王工"), {"D1": 3}),
        (DrillQuery(engineer=""), {"D3": 2}),  # the bar of tickets without an engineer
        (DrillQuery(engineer="张工", outcome="missed"), {"D2": 1}),
        (DrillQuery(contract_id="seed-000"), {"D2": 3}),
        (DrillQuery(day=date(2026, 10, 9)), {"D2": 3, "D3": 2}),  # by the local day
        (DrillQuery(day=date(2026, 10, 8)), {"D1": 3}),
        (DrillQuery(day=date(2026, 10, 8), metric="resolve", outcome="missed"), {}),
    ],
)
def test_drill_lists_the_tickets_behind_a_tile_or_a_bar(
    query: DrillQuery, expected: dict[str, int]
) -> None:
    rows = drill(DRILLED, query, SHANGHAI)
    assert {r.ticket.number: len(r.targets) for r in rows} == expected
    assert [r.ticket.number for r in rows] == sorted(expected)  # report order kept
    for row in rows:
        for target in row.targets:
            assert query.metric is None or target.metric == query.metric
            if query.outcome == "missed":
                assert target.status in (BREACHED, OVERDUE)


def test_a_drill_query_refuses_unknown_metrics_and_outcomes() -> None:
    # Any metric a contract may declare is a metric name; a malformed one is refused.
    with pytest.raises(ValueError, match="unknown metric 'Speed!'"):
        DrillQuery(metric="Speed!")
    assert DrillQuery(metric="diagnose").metric == "diagnose"
    with pytest.raises(ValueError, match=r"unknown outcome 'late' \(met, missed or pending\)"):
        DrillQuery(outcome="late")
    assert DrillQuery(metric="replacement", outcome="pending").metric == "replacement"


# --------------------------------------------------------------------------- periods


def test_period_of_this_week_month_quarter_or_a_custom_range() -> None:
    thursday = date(2026, 10, 8)
    assert period_of("week", thursday, None, None) == Period(date(2026, 10, 5), date(2026, 10, 11))
    sunday = date(2026, 10, 11)  # still the week that began on Monday the 5th
    assert period_of("week", sunday, None, None) == Period(date(2026, 10, 5), date(2026, 10, 11))
    new_year = date(2026, 1, 1)  # a Thursday: the week began in 2025
    assert period_of("week", new_year, None, None) == Period(date(2025, 12, 29), date(2026, 1, 4))
    assert period_of("month", date(2028, 2, 10), None, None) == Period(
        date(2028, 2, 1),
        date(2028, 2, 29),  # a leap year
    )
    assert period_of("month", thursday, None, None) == Period(date(2026, 10, 1), date(2026, 10, 31))
    assert period_of("quarter", date(2026, 11, 30), None, None) == Period(
        date(2026, 10, 1), date(2026, 12, 31)
    )
    assert period_of("quarter", date(2026, 3, 31), None, None) == Period(
        date(2026, 1, 1), date(2026, 3, 31)
    )
    custom = period_of("custom", thursday, date(2026, 9, 1), date(2026, 9, 15))
    assert custom == Period(date(2026, 9, 1), date(2026, 9, 15))
    # the previous period of a custom one is as many days just before it
    assert custom.previous() == Period(date(2026, 8, 17), date(2026, 8, 31))

    with pytest.raises(ValueError, match="needs both a first and a last date"):
        period_of("custom", thursday, date(2026, 9, 1), None)
    with pytest.raises(ValueError, match="needs both"):
        period_of("custom", thursday, None, None)
    with pytest.raises(ValueError, match="at most three years"):
        period_of("custom", thursday, date(2020, 1, 1), date(2026, 1, 1))
    with pytest.raises(ValueError, match="is after"):
        period_of("custom", thursday, date(2026, 9, 15), date(2026, 9, 1))


# --------------------------------------------------------------------------- quality


def visit(number: str, customer: str, when: datetime, *scores: int) -> ScoredVisit:
    a, b, c, d = scores
    total = satisfaction_total(a, b, c, d)
    return ScoredVisit(
        number=number,
        conducted_at=when,
        customer=customer,
        contract_id="seed-000",
        ticket_number=None,
        engineer="王工",
        kind="satisfaction_survey",
        engineering_quality=a,
        progress=b,
        service=c,
        performance_capability=d,
        total=total,
        band=satisfaction_band(total),
    )


def test_last_quarters_roll_over_the_year() -> None:
    assert last_quarters(date(2026, 2, 10)) == ["2025Q2", "2025Q3", "2025Q4", "2026Q1"]
    assert last_quarters(date(2026, 12, 31), 2) == ["2026Q3", "2026Q4"]
    assert last_quarters(date(2026, 4, 1), 1) == ["2026Q2"]
    assert last_quarters(date(2027, 1, 1), 6) == [
        "2025Q4",
        "2026Q1",
        "2026Q2",
        "2026Q3",
        "2026Q4",
        "2027Q1",
    ]


def test_quality_view_averages_per_customer_and_quarter_over_the_last_four() -> None:
    visits = [
        # 2025-12-31 16:30 UTC is 00:30 on 2026-01-01 in Shanghai: the first quarter of 2026
        visit("V1", "Alpha", datetime(2025, 12, 31, 16, 30, tzinfo=UTC), 90, 80, 70, 60),  # 75
        visit("V2", "Alpha", datetime(2026, 2, 10, 2, tzinfo=UTC), 100, 100, 90, 90),  # 95
        visit("V6", "Alpha", datetime(2026, 1, 15, 2, tzinfo=UTC), 80, 80, 80, 80),  # 80
        visit("V3", "Beta", datetime(2025, 11, 15, 2, tzinfo=UTC), 40, 40, 40, 41),  # 40.25
        visit("V4", "Beta", datetime(2025, 2, 1, 2, tzinfo=UTC), 10, 10, 10, 10),  # 2025Q1
        visit("V5", "Gamma", datetime(2025, 6, 30, 2, tzinfo=UTC), 50, 50, 50, 52),  # 50.5
    ]
    actions = cast(ActionReport, object())  # passed through untouched
    complaints = cast(ComplaintReport, object())
    now = datetime(2026, 2, 20, 2, tzinfo=UTC)
    view = quality_view(visits, actions, complaints, now, SHANGHAI)

    assert view.quarters == ["2025Q2", "2025Q3", "2025Q4", "2026Q1"]
    assert view.customers == ["Alpha", "Beta", "Gamma"]
    assert set(view.satisfaction) == {("Alpha", "2026Q1"), ("Beta", "2025Q4"), ("Gamma", "2025Q2")}
    alpha = view.satisfaction[("Alpha", "2026Q1")]
    # totals 75, 95, 80 → 250 / 3 = 83.33; A (90+100+80)/3 = 90; B (80+100+80)/3 = 86.67;
    # C (70+90+80)/3 = 80; D (60+90+80)/3 = 76.67 — a mean rounded half up to two places
    assert alpha.count == 3
    assert alpha.averages == {
        "engineering_quality": Decimal("90.00"),
        "progress": Decimal("86.67"),
        "service": Decimal("80.00"),
        "performance_capability": Decimal("76.67"),
        "total": Decimal("83.33"),
    }
    assert alpha.band is SatisfactionBand.VERY_SATISFIED  # 83.33 → 83: 81–100
    assert view.satisfaction[("Beta", "2025Q4")].band is SatisfactionBand.VERY_DISSATISFIED
    assert view.satisfaction[("Gamma", "2025Q2")].total == Decimal("50.50")
    # bands over the quarters shown (V4 is older): 75 and 80 fairly, 95 very satisfied,
    # 40.25 → 40 very dissatisfied, 50.5 → 51 dissatisfied
    assert view.bands == {
        "very_dissatisfied": 1,
        "dissatisfied": 1,
        "fairly_satisfied": 2,
        "very_satisfied": 1,
    }
    assert [v.number for v in view.low] == ["V3", "V5"]  # newest first
    assert view.actions is actions and view.complaints is complaints

    only_last = satisfaction_grid(visits, ["2025Q1"], SHANGHAI)
    assert list(only_last) == [("Beta", "2025Q1")]
    assert only_last[("Beta", "2025Q1")].total == Decimal("10.00")


# --------------------------------------------------------------------------- charts


def small_overview(engineer: str = EVIL) -> Overview:
    week = Period(date(2026, 10, 5), date(2026, 10, 11))
    current = [
        ticket("A", judged("respond", MET), judged("arrive", BREACHED), reported=local(10, 6, 9)),
        ticket(
            "B",
            judged("respond", OVERDUE),
            engineer=engineer,
            reported=local(10, 8, 10),
            is_open=True,
        ),
        ticket("C", judged("respond", MET), engineer=None, reported=local(10, 8, 11)),
    ]
    escalated = [
        fact("B", SupervisionKind.ESCALATED, NOW - timedelta(hours=2), "department_manager")
    ]
    return overview(
        period=week,
        current=current,
        previous=None,
        open_tickets=[current[1]],
        risks=[],
        facts=escalated,
        period_facts=[],
        now=NOW,
        tz=SHANGHAI,
    )


def test_charts_are_plain_json_with_the_view_numbers() -> None:
    view = small_overview()
    drawn = {chart.id: chart for chart in charts.overview_charts(view, "zh")}
    assert list(drawn) == ["chart-daily", "chart-engineers", "chart-contracts", "chart-escalations"]
    for chart in drawn.values():
        assert json.loads(chart.options) == charts.chart_data(chart)  # valid JSON
        assert "JsCode" not in chart.options and "function" not in chart.options
        assert "<" not in chart.options  # nothing can close the <script> it is embedded in
        json.loads(chart.drill_json)

    daily_chart = charts.chart_data(drawn["chart-daily"])
    days = ["2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08"]  # up to today, the 8th
    assert daily_chart["xAxis"][0]["data"] == days
    volume, respond, arrive, resolve = daily_chart["series"]
    assert (volume["type"], volume["name"], volume["data"]) == ("bar", "报修量", [0, 1, 0, 2])
    assert respond["name"] == "响应达标率"
    # respond on the 6th: A met → 100.0; on the 8th: B overdue, C met → 50.0
    assert respond["data"] == [[days[0], None], [days[1], 100.0], [days[2], None], [days[3], 50.0]]
    assert [point[1] for point in arrive["data"]] == [None, 0.0, None, None]
    assert [point[1] for point in resolve["data"]] == [None] * 4
    assert drawn["chart-daily"].drill["series:响应达标率"] == "respond"

    engineers = charts.chart_data(drawn["chart-engineers"])
    # 王工 (A): 1 met, 1 missed; B's engineer: 1 missed; C, no engineer: 1 met, as "—"
    assert engineers["xAxis"][0]["data"] == ["王工", EVIL, "—"]
    assert [s["name"] for s in engineers["series"]] == ["达标", "超时"]
    assert [s["data"] for s in engineers["series"]] == [[1, 0, 1], [1, 1, 0]]
    assert drawn["chart-engineers"].drill == {
        "by": "engineer",
        "series": "outcome",
        "series:达标": "met",
        "series:超时": "missed",
    }
    assert EVIL.replace("<", "\\u003c") in drawn["chart-engineers"].options

    contracts = charts.chart_data(drawn["chart-contracts"])
    assert contracts["xAxis"][0]["data"] == ["seed-002"]
    assert [s["data"] for s in contracts["series"]] == [[2], [2]]

    escalation = charts.chart_data(drawn["chart-escalations"])
    assert escalation["xAxis"][0]["data"] == ["部门经理"]
    assert {s["name"]: s["data"] for s in escalation["series"]} == {
        "不足1天": [1],
        "1–3天": [0],
        "3–7天": [0],
        "超过7天": [0],
    }
    # a click on a bar names the level and the age bucket, not the labels shown
    drill = drawn["chart-escalations"].drill
    assert drill["values"] == ["department_manager"] and drill["series:不足1天"] == "<1d"
    english = {c.id: c for c in charts.overview_charts(view, "en")}
    assert charts.chart_data(english["chart-engineers"])["series"][0]["name"] == "met"


def test_no_name_can_open_or_close_markup_inside_the_embedded_options() -> None:
    for name in (EVIL, "<!--<script>", "a</SCRIPT >b", "<![CDATA["):
        for chart in charts.overview_charts(small_overview(engineer=name), "zh"):
            assert "<" not in chart.options, (name, chart.id)
        engineers = charts.engineer_chart(small_overview(engineer=name), "en")
        assert name in charts.chart_data(engineers)["xAxis"][0]["data"]


def test_no_escalation_chart_without_escalations_and_echarts_is_local() -> None:
    view = small_overview()
    quiet = replace(view, escalations=[], escalation_matrix={})
    assert [c.id for c in charts.overview_charts(quiet, "zh")] == [
        "chart-daily",
        "chart-engineers",
        "chart-contracts",
    ]
    assert charts.script_urls() == ["/static/vendor/echarts.min.js"]


# --------------------------------------------------------------------------- escalation drill


def test_at_risk_counts_the_hour_left_in_covered_time_when_it_is_known() -> None:
    now = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
    # a 2-business-hour target with 1 covered hour left, due at 10:00 tomorrow (local):
    # 17 wall-clock hours away, half its time used — yet only one working hour is left
    due = now + timedelta(hours=17)
    left = timedelta(minutes=59)
    overnight = Risk("T-1", "seed-001", "某县档案馆", "王工", "resolve", "2h", due, 0.5, left)
    # unknown covered time: the wall clock decides (17 h: not near)
    unknown = replace(overnight, number="T-2", used=None, left=None)
    assert overnight.near(now) and not unknown.near(now)
    assert [r.number for r in at_risk([overnight, unknown], now)] == ["T-1"]


def test_the_escalation_chart_lists_the_open_tickets_at_a_level_and_age() -> None:
    now = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    tickets = [_open_ticket(n) for n in ("T-1", "T-2", "T-3")]
    manager, office = "department_manager", "chief_engineer_office"
    escalated = [
        Escalation("T-1", "seed-002", "王工", manager, now - timedelta(hours=2), "<1d"),
        Escalation("T-2", "seed-002", "王工", manager, now - timedelta(days=5), "3-7d"),
        Escalation("T-3", "seed-002", "王工", office, now - timedelta(days=1), "1-3d"),
    ]
    level = DrillQuery(level="department_manager")
    # oldest escalation first: T-2 (5 days) before T-1 (2 hours)
    assert [r.ticket.number for r in drill_escalated(tickets, escalated, level)] == ["T-2", "T-1"]
    aged = DrillQuery(level="department_manager", age="<1d")
    assert [r.ticket.number for r in drill_escalated(tickets, escalated, aged)] == ["T-1"]
    # a ticket no longer open (not among open_tickets) is not listed
    assert drill_escalated(tickets[:1], escalated, DrillQuery(level="chief_engineer_office")) == []
    with pytest.raises(ValueError, match="unknown age"):
        DrillQuery(level="department_manager", age="2d")


def _open_ticket(number: str) -> TicketSla:
    return TicketSla(
        ticket_id=uuid.uuid4(),
        number=number,
        contract_id="seed-002",
        customer="禹州市公安局",
        severity="general",
        engineer="王工",
        reported_at=datetime(2026, 10, 1, tzinfo=UTC),
        is_open=True,
        judged=True,
        targets=(),
    )


def test_the_daily_compliance_lines_are_drawn_over_the_volume_bars() -> None:
    """On a one-day view the day's compliance is one point, at the middle of the day's
    bar: it must be drawn above the bar (a higher ``z`` on the same ``zlevel``), and big
    enough to see."""
    view = small_overview()
    one_day = replace(view, daily=view.daily[-1:])
    options = charts.chart_data(charts.daily_chart(one_day, "zh"))
    bars = [s for s in options["series"] if s["type"] == "bar"]
    lines = [s for s in options["series"] if s["type"] == "line"]
    assert len(bars) == 1 and len(lines) == 3
    for line in lines:
        assert line.get("zlevel", 0) == bars[0].get("zlevel", 0)
        assert line.get("z", 2) > bars[0].get("z", 2), line["name"]
        assert line["showSymbol"] is True and line["symbolSize"] >= 8


def test_out_of_contract_tickets_are_in_no_figure_and_counted_apart() -> None:
    """As in `report sla`: the contract's promises did not cover them."""
    week = Period(date(2026, 10, 5), date(2026, 10, 11))
    covered = ticket("A", judged("respond", MET), reported=local(10, 6, 9))
    outside = replace(
        ticket("X", judged("respond", OVERDUE), reported=local(10, 6, 10), is_open=True),
        out_of_contract=True,
    )
    view = overview(
        period=week,
        current=[covered, outside],
        previous=[outside],
        open_tickets=[outside],
        risks=[],
        facts=[],
        period_facts=[],
        now=NOW,
        tz=SHANGHAI,
    )
    assert (view.tickets, view.out_of_contract) == (1, 1)
    respond = next(tile for tile in view.tiles if tile.metric == "respond")
    # A met, X left out: 1 met of 1; the previous period holds only X, so no figure there
    assert (respond.met, respond.missed, respond.met_pct, respond.previous_pct) == (
        1,
        0,
        100.0,
        None,
    )
    assert view.breaches == []  # X is overdue but out of contract
    assert [(row.key, row.met, row.missed) for row in view.by_engineer] == [("王工", 1, 0)]
    assert sum(day.tickets for day in view.daily) == 1
