"""The ``sla`` projection on real SQLite and PostgreSQL databases: it follows the log,
equals a full rebuild, and its verdicts are those of ``judge_ticket`` (docs/sla.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ledger.commands.contracts import parse_contract, read_toml
from ledger.domain.compliance import Judgement
from ledger.domain.contract import METRICS, decide_register
from ledger.domain.holidays import HolidayTable
from ledger.domain.model import Stamp
from ledger.domain.sla import SlaStatus
from ledger.domain.values import Role
from ledger.projections.sla import (
    SlaProjection,
    by_contract_id,
    judge,
    load_contracts,
    load_holidays,
    load_tickets,
    sla_targets,
    sla_tickets,
    work_calendar,
)
from ledger.projections.sla_queries import open_standings, ticket_slas
from ledger.reports.sla import ReportQuery, report_json, sla_report
from tests.support import SEED_CONTRACTS, SHANGHAI, Desk, open_desk


def local(text: str) -> datetime:
    """``"2026-10-08 09:00"`` in Shanghai, as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    d = open_desk(db_url)
    yield d
    d.ledger.close()


def report(desk: Desk, as_of: datetime | None = None, **query: Any) -> dict[str, Any]:
    return report_json(sla_report(desk.ledger, ReportQuery(**query), as_of=as_of))


def verdicts(desk: Desk, number: str, now: datetime | None = None) -> dict[str, Judgement]:
    """The ticket's targets from the caught-up projection, judged at ``now`` (the clock)."""
    desk.ledger.projections.catch_up([SlaProjection.name])
    with desk.ledger.engine.connect() as conn:
        tickets = ticket_slas(conn, now or desk.clock.now(), include_cancelled=True)
    ticket = next(t for t in tickets if t.number == number)
    return {v.metric: v for v in ticket.targets}


def stored(desk: Desk, number: str) -> dict[str, str]:
    """The statuses stored in the table (judged at the report instant)."""
    found = desk.ledger.tickets.get(number)
    desk.ledger.projections.catch_up([SlaProjection.name])
    with desk.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(sla_targets.c.metric, sla_targets.c.status).where(
                sla_targets.c.ticket_id == found.id
            )
        )
        return {row.metric: row.status for row in rows}


def dump(desk: Desk) -> dict[str, list[tuple[Any, ...]]]:
    with desk.ledger.engine.connect() as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for table in SlaProjection.tables
        }


def busy_morning(desk: Desk) -> None:
    """Met, breached, overdue, paused, cancelled, reclassified and remote-fix tickets, with
    the projection caught up in small batches now and then."""
    runner = desk.ledger.projections
    a = desk.report()  # seed-002 emergency, 09:00
    desk.later(3)
    desk.do("respond", ticket=a.number)
    desk.do("dispatch", ticket=a.number, engineer="王工")
    b = desk.report(contract="seed-000", customer="某市自然资源和规划局", severity="general")
    runner.catch_up([SlaProjection.name], batch_size=2)
    desk.later(25)
    desk.do("arrive", ticket=a.number, actor="王工", role="engineer")  # 09:28: 8 min late
    c = desk.report(contract="seed-004", customer="某市财政局", severity="general")
    desk.do("suspend", ticket=c.number, reason="等待客户开通机房权限")
    d = desk.report(severity="general")
    desk.do("cancel", ticket=d.number, reason="重复报修")
    runner.catch_up([SlaProjection.name], batch_size=3)
    desk.later(60)
    desk.do("resume", ticket=c.number)
    desk.do("resolve", ticket=a.number, summary="更换电源模块", actor="王工", role="engineer")
    e = desk.report(severity="general")
    desk.do("respond", ticket=e.number)
    desk.do("resolve", ticket=e.number, summary="电话指导重启", mode="remote")
    desk.do("reclassify", ticket=b.number, severity="major", reason="影响出图")
    desk.later(600)


def test_live_projection_equals_a_full_rebuild(desk: Desk) -> None:
    busy_morning(desk)
    live = report(desk)
    live_rows = dump(desk)
    assert live["total"]["tickets"] == 4  # the cancelled one is left out
    assert {b["status"] for b in live["breaches"]} == {"breached", "overdue"}
    assert live["total"]["met"] > 0 and live["total"]["not_applicable"] > 0

    runner = desk.ledger.projections
    assert runner.rebuild([SlaProjection.name]) > 0
    assert runner.catch_up([SlaProjection.name]) == 0
    assert dump(desk) == live_rows
    assert report(desk) == live


def test_the_projection_is_rebuilt_alone_and_survives_a_rebuild_of_the_others(desk: Desk) -> None:
    busy_morning(desk)
    live = report(desk)
    desk.ledger.projections.rebuild(["tickets"])
    assert report(desk) == live
    assert desk.ledger.projections.rebuild() > 0
    assert report(desk) == live


def test_a_revised_policy_changes_no_earlier_verdict(desk: Desk) -> None:
    early = desk.report(severity="general")  # 09:00, respond 5m
    desk.later(10)
    desk.do("respond", ticket=early.number)  # 10 minutes: breached
    before = report(desk)
    assert before["total"]["breached"] == 1

    path = next(p for p in SEED_CONTRACTS if p.stem == "seed-002")
    data = read_toml(path)
    data["targets"]["default"]["respond"] = "15m"
    takes_effect = desk.clock.now() + timedelta(hours=1)
    desk.ledger.contracts.load(
        parse_contract(data), actor="admin", role=Role.ADMIN, effective_from=takes_effect
    )
    assert report(desk) == before  # same instant, same answer: the revision is not in force
    assert verdicts(desk, early.number)["respond"].status is SlaStatus.BREACHED

    desk.later(61)
    late = desk.report(severity="general")
    desk.later(10)
    desk.do("respond", ticket=late.number)
    assert verdicts(desk, early.number)["respond"].status is SlaStatus.BREACHED
    respond = verdicts(desk, late.number)["respond"]
    assert (respond.target, respond.status) == ("15m", SlaStatus.MET)
    assert report(desk, as_of=takes_effect - timedelta(minutes=60)) == before


def test_a_paused_24x7_ticket_is_due_two_hours_later(desk: Desk) -> None:
    desk.later(60)
    t = desk.report(severity="general")  # 10:00, seed-002: respond 5m, resolve 4h, unit 8h
    desk.later(3)
    desk.do("respond", ticket=t.number)
    desk.later(27)
    desk.do("suspend", ticket=t.number, reason="等待客户开通机房权限")  # 10:30
    desk.later(120)
    desk.do("resume", ticket=t.number)  # 12:30
    desk.later(150)
    desk.do("resolve", ticket=t.number, summary="远程修复", mode="remote")  # 15:00

    v = verdicts(desk, t.number)
    assert v["respond"].due_at == local("2026-10-08 10:05")
    assert v["resolve"].due_at == local("2026-10-08 16:00")  # 14:00 + 2 h
    assert v["resolve"].status is SlaStatus.MET
    assert v["resolve"].elapsed == timedelta(hours=3)  # 5 h of wall clock, 2 h paused
    # Seed 002's unit is owed from 8 h after the report (10:00 + 8 h + the 2 h pause = 20:00)
    # and due 30 min later; fixed at 15:00, none was owed.
    assert v["replacement"].due_at == local("2026-10-08 20:30")
    assert v["replacement"].status is SlaStatus.NOT_APPLICABLE


def test_reclassification_rejudges_from_the_report_time(desk: Desk) -> None:
    t = desk.report(severity="general")  # 09:00, seed-002 general: arrive 30m
    desk.do("dispatch", ticket=t.number, engineer="王工")
    desk.later(28)
    desk.do("arrive", ticket=t.number, actor="王工", role="engineer")
    assert verdicts(desk, t.number)["arrive"].status is SlaStatus.MET
    desk.later(102)  # 11:10
    desk.do("reclassify", ticket=t.number, severity="emergency", reason="监控全部中断")
    arrive = verdicts(desk, t.number)["arrive"]
    assert (arrive.target, arrive.due_at) == ("20m", local("2026-10-08 09:20"))
    assert (arrive.status, arrive.breach_minutes) == (SlaStatus.BREACHED, 8)


def test_an_overdue_ticket_breaches_more_as_time_passes(desk: Desk) -> None:
    desk.later(60)
    t = desk.report(severity="general")  # 10:00, respond 5m
    assert stored(desk, t.number)["respond"] == "pending"  # judged at the report instant
    assert verdicts(desk, t.number)["respond"].status is SlaStatus.PENDING
    desk.later(17)
    respond = verdicts(desk, t.number)["respond"]
    assert (respond.status, respond.breach_minutes) == (SlaStatus.OVERDUE, 12)
    desk.later(48)  # 11:05
    assert report(desk)["breaches"][0]["breach_minutes"] == 60
    assert stored(desk, t.number)["respond"] == "pending"  # the table does not depend on now
    desk.later(-5)
    desk.do("respond", ticket=t.number)  # 11:00
    desk.later(600)
    respond = verdicts(desk, t.number)["respond"]
    assert (respond.status, respond.breach_minutes) == (SlaStatus.BREACHED, 55)


def test_as_of_answers_as_the_ledger_stood_then(desk: Desk) -> None:
    t = desk.report(severity="general")
    desk.later(20)
    then = desk.clock.now()
    earlier = report(desk)
    assert earlier["breaches"][0]["status"] == "overdue"
    desk.later(1)
    desk.do("respond", ticket=t.number, at=then.isoformat())
    desk.later(30)
    desk.report(severity="general")
    assert report(desk)["total"]["tickets"] == 2
    assert report(desk, as_of=then) == earlier
    # Nothing of the throwaway copy leaks into the live read model.
    assert report(desk, as_of=then) != report(desk)


def test_a_holiday_table_loaded_later_rejudges_the_tickets_that_need_it(db_url: str) -> None:
    # Seed 000, reported Thursday 2026-12-31 17:40, after the hotline's close (17:30): the
    # answer runs around the clock (due 18:10); the fix is due at the close of the next
    # hotline day, which lies in 2027, a year without a table yet: unknown.
    desk = open_desk(db_url, at=local("2026-12-31 17:40"))
    try:
        t = desk.report(contract="seed-000", customer="某市自然资源和规划局", severity="general")
        v = verdicts(desk, t.number)
        assert v["respond"].due_at == local("2026-12-31 18:10")
        assert v["resolve"].status is SlaStatus.UNKNOWN
        assert "2027" in (v["resolve"].note or "")

        # 2027's table (1 January off): Friday the 1st is a holiday, the 2nd and 3rd the
        # weekend, so the next hotline day is Monday 2027-01-04 and the fix is due 17:30.
        desk.clock.set(local("2027-01-04 08:00"))
        table = HolidayTable(year=2027, holidays=(date(2027, 1, 1),))
        desk.ledger.contracts.load_holidays(table, actor="admin", role=Role.ADMIN)
        assert stored(desk, t.number)["resolve"] == "pending"
        v = verdicts(desk, t.number)
        assert v["resolve"].due_at == local("2027-01-04 17:30")
        assert v["resolve"].status is SlaStatus.PENDING
        live = report(desk)
        desk.ledger.projections.rebuild([SlaProjection.name])
        assert report(desk) == live
    finally:
        desk.ledger.close()


def test_a_ticket_of_an_unknown_contract_is_unjudged_until_the_contract_arrives(
    desk: Desk,
) -> None:
    """Ledgers recorded before contracts were required hold such tickets: the projection
    keeps them without targets, and judges them when the contract is registered."""
    number = desk.report(severity="general").number  # seed-002, 09:00; never caught up
    reported = desk.ledger.tickets.history(number)[0].model_copy(update={"contract_id": "legacy"})
    moment = reported.occurred_at
    stamp = Stamp(actor="admin", role=Role.ADMIN, occurred_at=moment, recorded_at=moment)
    path = next(p for p in SEED_CONTRACTS if p.stem == "seed-002")
    policy = parse_contract(read_toml(path)).policy
    registered = decide_register("legacy", policy, stamp)
    projection = SlaProjection()
    engine = desk.ledger.engine

    with engine.begin() as conn:
        projection.apply(conn, [(1, reported)])
    with engine.connect() as conn:
        (ticket,) = ticket_slas(conn, moment)
    assert (ticket.number, ticket.judged, ticket.targets) == (number, False, ())

    with engine.begin() as conn:
        projection.apply(conn, [(2, registered)])
    with engine.connect() as conn:
        (ticket,) = ticket_slas(conn, moment + timedelta(minutes=10))
    assert ticket.judged
    assert [(j.metric, j.status) for j in ticket.targets][:2] == [
        ("respond", SlaStatus.OVERDUE),
        ("arrive", SlaStatus.PENDING),
    ]


def test_the_stored_verdicts_read_as_of_now_are_the_judgement(desk: Desk) -> None:
    """The workbench's queues read the open tickets' verdicts without judging them
    (``open_standings`` in SQL, ``late_minutes=False``): at any later now every status,
    due and done time is the judgement's; only the minutes late are not counted."""
    busy_morning(desk)
    held = desk.report(severity="general")
    desk.do("suspend", ticket=held.number, reason="等待备件")  # an open pause: no due time
    desk.ledger.projections.catch_up([SlaProjection.name])
    start = desk.clock.now()
    for now in (start, start + timedelta(minutes=1), start + timedelta(days=3)):
        with desk.ledger.engine.connect() as conn:
            judged = {t.number: t for t in ticket_slas(conn, now, include_cancelled=True)}
            read = ticket_slas(conn, now, include_cancelled=True, late_minutes=False)
            standings = {s.number: s for s in open_standings(conn, now)}
        for ticket in read:
            assert [(j.metric, j.status, j.due_at, j.done_at) for j in ticket.targets] == [
                (j.metric, j.status, j.due_at, j.done_at) for j in judged[ticket.number].targets
            ]
        assert set(standings) == {n for n, t in judged.items() if t.is_open}
        for number, standing in standings.items():
            targets = judged[number].targets
            assert standing.missed == any(
                j.status in (SlaStatus.OVERDUE, SlaStatus.BREACHED) for j in targets
            )
            assert standing.running == any(
                j.status is SlaStatus.PENDING and j.due_at for j in targets
            )
            assert standing.kept == any(j.status is SlaStatus.MET for j in targets)
            not_done = (SlaStatus.PENDING, SlaStatus.OVERDUE)
            assert standing.soonest_due == min(
                (j.due_at for j in targets if j.status in not_done and j.due_at), default=None
            )
    assert {s.missed for s in standings.values()} == {True, False}  # both kinds were seen


def test_judging_only_what_runs_equals_judging_every_ticket_at_now(desk: Desk) -> None:
    """``ticket_slas`` judges at ``now`` only the targets still running, from their stored
    verdicts (``judged_again``), and reads a ticket's suspensions (``load_suspensions``)
    only for the pauses of a target now late: at every ``now`` (an unknown year's included)
    each ticket's verdicts, in their order, are those of judging the whole ticket again at
    ``now``."""
    busy_morning(desk)
    paused = desk.report(severity="general")  # seed-002 pauses its clocks
    desk.later(30)  # past the due time to respond: the pause shortens the minutes late
    desk.do("suspend", ticket=paused.number, reason="等待备件")
    desk.later(30)
    desk.do("resume", ticket=paused.number)
    held = desk.report(severity="general")
    desk.do("suspend", ticket=held.number, reason="等待备件")  # an open pause: no due time
    desk.report(contract="seed-001", customer="某区政务服务中心", severity="general")
    desk.report(contract="seed-000", customer="某市自然资源和规划局", severity="general")
    desk.ledger.projections.catch_up([SlaProjection.name])
    start = desk.clock.now()
    nows = [start, start + timedelta(minutes=1), start + timedelta(days=3)]
    statuses = set()
    with desk.ledger.engine.connect() as conn:
        tickets = load_tickets(conn, desk_ticket_ids(conn))
        contracts = by_contract_id(load_contracts(conn))
        calendar = work_calendar(load_holidays(conn))
        for now in [*nows, start + timedelta(days=3 * 365)]:
            fresh = {t.number: t for t in ticket_slas(conn, now, include_cancelled=True)}
            for ticket in tickets.values():
                whole = judge(ticket, contracts, calendar, now) or []
                order = {m: i for i, m in enumerate(METRICS)}
                expected = sorted(whole, key=lambda j: order.get(j.metric, len(order)))
                assert list(fresh[ticket.number].targets) == expected, (ticket.number, now)
                statuses |= {j.status for j in expected}
    assert {SlaStatus.PENDING, SlaStatus.OVERDUE, SlaStatus.MET} <= statuses


def desk_ticket_ids(conn: Any) -> list[Any]:
    return list(conn.scalars(select(sla_tickets.c.ticket_id)))
