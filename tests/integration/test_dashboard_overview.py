"""The dashboard's overview (:func:`ledger.dashboard.queries.load_overview`) of one history
driven through the real services on SQLite and PostgreSQL, checked against the arithmetic
written beside it. The pure view models are in tests/unit/test_dashboard_views.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from ledger.commands.contracts import parse_contract, read_toml
from ledger.dashboard.overview import DrillQuery
from ledger.dashboard.queries import Filters, Scope, load_drill, load_overview, period_of
from ledger.domain.values import Role
from ledger.projections.supervision import SupervisionKind
from ledger.reports.common import Period
from tests.e2e.test_contracts_unchanged import FIXTURES as FIRST_ENCODING
from tests.support import Desk, open_desk
from tests.unit.test_dashboard_views import NOW, local


@dataclass
class Fixture:
    desk: Desk
    numbers: dict[str, str]

    def at(self, month: int, day: int, hour: int, minute: int = 0) -> None:
        self.desk.clock.set(local(month, day, hour, minute))

    def by(self, engineer: str, command: str, letter: str, **fields: Any) -> None:
        self.desk.do(
            command, ticket=self.numbers[letter], actor=engineer, role="engineer", **fields
        )

    def do(self, command: str, letter: str, **fields: Any) -> None:
        self.desk.do(command, ticket=self.numbers[letter], **fields)

    def report(self, letter: str, contract: str, severity: str) -> None:
        customer = "禹州市公安局" if contract == "seed-002" else None  # else the contract's
        ticket = self.desk.report(contract=contract, customer=customer, severity=severity)
        self.numbers[letter] = ticket.number

    def close(self, letter: str, engineer: str) -> None:
        self.by(engineer, "resolve", letter, summary="更换主板")
        self.by(engineer, "sign", letter, signer="张三")
        self.do("close", letter)


def fixture_history(db_url: str) -> Fixture:
    """Two tickets the week before 2026-10-05 and seven in that week, to Thursday 20:00.

    Targets: the seeds' first encoding (``tests/fixtures/before-metrics``: the built-in
    four only, seed 000's answer and arrival on office hours, whose at-risk arithmetic across
    the night this history checks): seed-002 general respond 5m, arrive 30m, resolve 4h,
    replacement 8h (emergency: arrive 20m), 24x7, suspensions pause; seed-003 general
    respond 5m, arrive 1h, resolve 3h, notices after 7 days; seed-000 critical respond 30m
    and arrive 2h in business hours (08:00–17:30 on working days), resolve 3 days; seed-004
    general respond 1h, arrive 2h, resolve 24h, replacement 58h. Times are Shanghai's. (The
    re-encoded seeds' tiles per declared metric: tests/unit/test_dashboard_views.py.)
    """
    desk = open_desk(db_url, at=local(10, 1, 10), create=True, seeds=False)
    for path in sorted(FIRST_ENCODING.glob("seed-*.toml")):
        desk.ledger.contracts.load(parse_contract(read_toml(path)), actor="admin", role=Role.ADMIN)
    h = Fixture(desk, {})
    # the week before: P1 arrives 10 min late; P2 stays open past its arrive and resolve
    h.report("P1", "seed-002", "general")  # Thu 10-01 10:00
    h.at(10, 1, 10, 3)
    h.do("respond", "P1")
    h.do("dispatch", "P1", engineer="王工")
    h.at(10, 1, 10, 40)
    h.by("王工", "arrive", "P1")  # due 10:30: breached by 10 min
    h.at(10, 1, 12)
    h.close("P1", "王工")  # due 14:00: met; replacement n/a (resolved before 18:00)
    h.report("P2", "seed-003", "general")  # Thu 10-01 12:00
    h.at(10, 1, 12, 2)
    h.do("respond", "P2")
    h.do("dispatch", "P2", engineer="李工")  # arrive due 13:00, resolve due 15:00: never done
    # this week
    h.at(10, 8, 9)
    h.report("A", "seed-002", "emergency")
    h.at(10, 8, 9, 3)
    h.do("respond", "A")
    h.do("dispatch", "A", engineer="王工")
    h.at(10, 8, 9, 25)
    h.by("王工", "arrive", "A")  # emergency arrive due 09:20: breached by 5 min
    h.at(10, 8, 10)
    h.report("B", "seed-002", "general")  # respond due 10:05: not answered
    h.at(10, 8, 10, 10)
    h.desk.ledger.sweep.run()  # overdue by 5 min → department manager
    h.at(10, 8, 10, 20)
    h.desk.ledger.sweep.run()  # overdue by 15 min → project general manager
    h.at(10, 8, 10, 30)
    h.close("A", "王工")  # resolve due 13:00: met
    h.do("respond", "B")  # breached by 25 min
    h.do("dispatch", "B", engineer="张工")  # never arrives
    h.at(10, 8, 12)
    h.desk.ledger.sweep.run()  # P2 unclosed 7 days → inspection notice
    h.at(10, 8, 15, 50)
    h.report("C", "seed-000", "critical")
    h.at(10, 8, 16, 10)
    h.do("respond", "C")  # due 16:20: met
    h.do("dispatch", "C", engineer="赵工")
    h.at(10, 8, 16, 30)
    h.report("E2", "seed-002", "general")
    h.at(10, 8, 16, 32)
    h.do("respond", "E2")
    h.do("dispatch", "E2", engineer="李工")
    h.at(10, 8, 16, 50)
    h.by("李工", "arrive", "E2")  # due 17:00: met
    h.at(10, 8, 17)
    h.do("suspend", "E2", reason="等备件")  # paused 17:00–18:30
    h.report("D", "seed-000", "critical")
    h.at(10, 8, 17, 20)
    h.do("respond", "D")  # 30 business minutes: due 17:30, met
    h.do("dispatch", "D", engineer="赵工")
    h.at(10, 8, 18)
    h.report("E", "seed-002", "general")
    h.at(10, 8, 18, 2)
    h.do("respond", "E")
    h.do("dispatch", "E", engineer="王工")
    h.at(10, 8, 18, 10)
    h.do("suspend", "E", reason="客户不在")  # still suspended: no due times
    h.at(10, 8, 18, 30)
    h.do("resume", "E2")
    h.at(10, 8, 19, 30)
    h.report("G", "seed-004", "general")  # nobody answers
    h.at(10, 8, 20)
    return h


def test_overview_of_a_fixture_history_matches_the_hand_counts(db_url: str) -> None:
    h = fixture_history(db_url)
    n = h.numbers
    ledger = h.desk.ledger
    week = Filters(period_of("week", date(2026, 10, 8), None, None), "week")
    try:
        view = load_overview(ledger, week, Scope())
        assert view.now == NOW
        assert view.period == Period(date(2026, 10, 5), date(2026, 10, 11))
        assert view.previous == Period(date(2026, 9, 28), date(2026, 10, 4))
        assert view.tickets == 7  # A B C E2 D E G

        # Verdicts at Thursday 20:00:
        #   A  respond met, arrive breached 5, resolve met, replacement n/a
        #   B  respond breached 25, arrive overdue (due 10:30), resolve overdue (due 14:00),
        #      replacement overdue (due 18:00)
        #   C  respond met, arrive pending (due Fri 08:20), resolve pending (Sun 15:50)
        #   E2 respond met, arrive met, resolve pending (16:30 + 4 h + 1.5 h pause = 22:00),
        #      replacement pending (Fri 02:00)
        #   D  respond met, arrive pending (30 min Thu + 90 min Fri: due Fri 09:30)
        #   E  respond met, the rest pending with no due time (an open suspension)
        #   G  all pending: respond due 20:30, arrive 21:30
        #   previous week: P1 respond met, arrive breached, resolve met;
        #                  P2 respond met, arrive overdue, resolve overdue
        tiles_found = [(t.metric, t.met, t.missed, t.met_pct, t.previous_pct) for t in view.tiles]
        assert tiles_found == [
            ("respond", 5, 1, 83.3, 100.0),  # 5/6; before 2/2
            ("arrive", 1, 2, 33.3, 0.0),  # E2 / (E2 + A + B); before 0/2
            ("resolve", 1, 1, 50.0, 50.0),  # A / (A + B); before P1 / (P1 + P2)
        ]
        assert [t.change for t in view.tiles] == [-16.7, 33.3, 0.0]

        # At risk: G respond has 30 min left (used 30/60 = 0.5); C arrive used 100 of its
        # 120 covered minutes (15:50–17:30) = 0.833 though only 250 of 990 wall-clock
        # minutes have passed. D arrive: 30/120; E2 resolve: (3.5 h − 1.5 h pause) / 4 h =
        # 0.5 with 2 h left (without the pause it would be due 20:30, 30 min away).
        assert [(r.number, r.metric, r.due_at, r.used) for r in view.at_risk] == [
            (n["G"], "respond", local(10, 8, 20, 30), 0.5),
            (n["C"], "arrive", local(10, 9, 8, 20), pytest.approx(100 / 120)),
        ]

        # Breaches: open tickets first (P2 from last week too), most overdue first:
        # P2 arrive 10-01 13:00 → 10-08 20:00 = 7 d 7 h = 10500 min; resolve from 15:00:
        # 10380; B arrive 570, resolve 360, replacement 120, respond (done late) 25;
        # then the period's closed breaches: A arrive 5.
        assert [(b.number, b.metric, b.breach_minutes, b.is_open) for b in view.breaches] == [
            (n["P2"], "arrive", 10500, True),
            (n["P2"], "resolve", 10380, True),
            (n["B"], "arrive", 570, True),
            (n["B"], "resolve", 360, True),
            (n["B"], "replacement", 120, True),
            (n["B"], "respond", 25, True),
            (n["A"], "arrive", 5, False),
        ]

        # Daily: Monday to today (Thursday), every ticket reported on the 8th
        assert [(d.day.day, d.tickets) for d in view.daily] == [(5, 0), (6, 0), (7, 0), (8, 7)]
        assert view.daily[-1].met_pct == {"respond": 83.3, "arrive": 33.3, "resolve": 50.0}
        assert view.daily[0].met_pct == {"respond": None, "arrive": None, "resolve": None}

        # Per engineer, every metric: 张工 (B) 0 met 4 missed; 王工 (A 2/1, E 1/0) 3/1;
        # 李工 (E2) 2/0; 赵工 (C 1, D 1) 2/0; G has no engineer: 0/0
        assert [(r.key, r.met, r.missed) for r in view.by_engineer] == [
            ("张工", 0, 4),
            ("王工", 3, 1),
            ("李工", 2, 0),
            ("赵工", 2, 0),
            ("", 0, 0),
        ]
        # Per contract: seed-002 A 2/1 + B 0/4 + E2 2/0 + E 1/0 = 5/5; seed-000 2/0; seed-004
        assert [(r.key, r.met, r.missed) for r in view.by_contract] == [
            ("seed-002", 5, 5),
            ("seed-000", 2, 0),
            ("seed-004", 0, 0),
        ]

        # B climbed to the project general manager at 10:20: 9 h 40 min ago
        assert [(e.number, e.level, e.since, e.age_bucket) for e in view.escalations] == [
            (n["B"], "project_general_manager", local(10, 8, 10, 20), "<1d")
        ]
        assert view.escalation_matrix == {
            "project_general_manager": {"<1d": 1, "1-3d": 0, "3-7d": 0, ">7d": 0}
        }
        # P2 (last week's) got its inspection notice this week, at 12:00 on the 8th
        assert [(f.number, f.kind, f.occurred_at, f.engineer, f.detail) for f in view.notices] == [
            (n["P2"], SupervisionKind.INSPECTION_NOTICE, local(10, 8, 12), "李工", "7 days")
        ]

        missed_arrivals = load_drill(ledger, week, Scope(), DrillQuery("arrive", "missed"))
        assert [r.ticket.number for r in missed_arrivals] == [n["A"], n["B"]]
        # a click on the escalation chart's bar: B, the one open ticket at that level
        escalated = DrillQuery(level="project_general_manager", age="<1d")
        assert [r.ticket.number for r in load_drill(ledger, week, Scope(), escalated)] == [n["B"]]
        older = DrillQuery(level="project_general_manager", age="1-3d")
        assert load_drill(ledger, week, Scope(), older) == []

        # Filters and scopes
        business = load_overview(ledger, Filters(week.period, "week", contract="seed-000"), Scope())
        assert business.tickets == 2  # C and D
        assert [(t.met, t.missed, t.met_pct, t.previous_pct) for t in business.tiles] == [
            (2, 0, 100.0, None),
            (0, 0, None, None),
            (0, 0, None, None),
        ]
        assert [r.number for r in business.at_risk] == [n["C"]]
        assert business.breaches == [] and business.escalations == []
        assert business.notices == []  # P2's notice is seed-003's

        office = load_overview(ledger, Filters(week.period, "week", customer="某市财政局"), Scope())
        assert office.tickets == 1 and [r.number for r in office.at_risk] == [n["G"]]

        wang = load_overview(ledger, week, Scope(engineer="王工"))
        # 王工's tickets: A and E this week, P1 the week before
        assert wang.tickets == 2
        assert [(t.met, t.missed, t.met_pct, t.previous_pct) for t in wang.tiles] == [
            (2, 0, 100.0, 100.0),
            (0, 1, 0.0, 0.0),
            (1, 0, 100.0, 100.0),
        ]
        assert wang.at_risk == [] and wang.escalations == [] and wang.notices == []
        assert [(b.number, b.metric) for b in wang.breaches] == [(n["A"], "arrive")]

        # Friday 07:00, before the office opens: no covered time has passed overnight, so
        # C arrive is still at 100/120; D arrive has used 14 of its 16.5 wall-clock hours
        # but only 30 of its 120 covered minutes, 2.5 h before it is due: not at risk.
        h.at(10, 9, 7)
        friday = load_overview(ledger, week, Scope())
        assert [(r.number, r.metric) for r in friday.at_risk] == [(n["C"], "arrive")]
        # meanwhile G respond (20:30), G arrive (21:30) and E2 resolve (22:00) fell due
        assert [(t.met, t.missed) for t in friday.tiles] == [(5, 2), (1, 3), (1, 2)]
        assert [t.met_pct for t in friday.tiles] == [71.4, 25.0, 33.3]
        assert [d.day.day for d in friday.daily] == [5, 6, 7, 8, 9]
        assert friday.escalations[0].age_bucket == "<1d"  # 20 h 40 min

        # P2 handed over from 李工 to 王工: its notice follows the ticket, as every panel
        # and the ticket page do (李工 can no longer open it; 王工 can)
        h.do("dispatch", "P2", engineer="王工")
        notices_of = {
            who: [f.number for f in load_overview(ledger, week, Scope(who)).notices]
            for who in ("李工", "王工")
        }
        assert notices_of == {"李工": [], "王工": [n["P2"]]}
        (moved,) = load_overview(ledger, week, Scope()).notices
        assert moved.engineer == "王工"
    finally:
        ledger.close()
