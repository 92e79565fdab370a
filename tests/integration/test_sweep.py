"""The escalation sweep (``ledger sweep``) on real SQLite files and a real PostgreSQL server:
seed 003's ladder and notices, seed 002's replacement flag, idempotency, concurrent sweeps,
dry runs and the command line."""

from __future__ import annotations

import multiprocessing
import threading
import tomllib
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.commands.contracts import parse_contract, read_toml
from ledger.commands.notify_rules import NotificationRules, parse_rules
from ledger.commands.sweep import SWEEP_ACTOR, SweepReport
from ledger.domain.errors import RuleViolation
from ledger.domain.ticket import (
    AtRiskWarned,
    Escalated,
    InspectionNoticeIssued,
    MetricOverdueNoted,
    RectificationNoticeIssued,
    ReplacementFlagged,
    Ticket,
    TicketEvent,
)
from ledger.domain.values import EscalationLevel, Role
from tests.e2e.test_cli import REPORT_ARGS, make_cli
from tests.support import SEED_CONTRACTS, START, Desk, open_desk, run_in_processes

DAY = 24 * 60
SEED_003 = {"contract": "seed-003", "customer": "某县档案馆", "severity": "general"}
SUPERVISION = (Escalated, InspectionNoticeIssued, RectificationNoticeIssued, ReplacementFlagged)


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    d = open_desk(db_url)
    yield d
    d.ledger.close()


def sweep_at(desk: Desk, minutes: float, **options: Any) -> SweepReport:
    """Move the clock to ``minutes`` after START and sweep as of then."""
    desk.clock.set(START + timedelta(minutes=minutes))
    report = desk.ledger.sweep.run(**options)
    assert report.problems == []
    return report


def supervision(desk: Desk, ticket: Ticket) -> list[TicketEvent]:
    return [e for e in desk.ledger.tickets.history(ticket.id) if isinstance(e, SUPERVISION)]


def levels(desk: Desk, ticket: Ticket) -> list[str]:
    return [
        e.to_level.value for e in desk.ledger.tickets.history(ticket.id) if isinstance(e, Escalated)
    ]


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


# --------------------------------------------------------------------------- the ladder


def test_seed_003_ladder_climbs_on_the_contract_clock(desk: Desk) -> None:
    """Seed 003: respond 5m; the department manager is told once the answer is overdue (1m
    after its due time) and has 5 minutes, then the project general manager (6m after it).
    Reported 09:00: the answer is due 09:05, the manager at 09:06, the general manager 09:11."""
    t = desk.report(**SEED_003)
    assert sweep_at(desk, 5).done == []  # the response is just due
    assert sweep_at(desk, 5.9).done == []
    report = sweep_at(desk, 6)
    assert [(d.number, d.action.kind.value) for d in report.done] == [(t.number, "escalated")]
    assert levels(desk, t) == ["department_manager"]
    assert sweep_at(desk, 10.9).done == []
    sweep_at(desk, 11)
    assert levels(desk, t) == ["department_manager", "project_general_manager"]

    first, second = supervision(desk, t)
    assert isinstance(first, Escalated) and isinstance(second, Escalated)
    assert (first.from_level, first.to_level) == (
        EscalationLevel.ENGINEER,
        EscalationLevel.DEPARTMENT_MANAGER,
    )
    assert first.reason.startswith("响应超时 1 分钟：自动升级至部门经理")
    assert second.from_level is EscalationLevel.DEPARTMENT_MANAGER
    assert "响应超时 6 分钟" in second.reason and "(response overdue by 6m)" in second.reason
    assert (first.occurred_at, second.occurred_at) == (at(6), at(11))
    assert {(e.actor, e.role) for e in (first, second)} == {(SWEEP_ACTOR, Role.SYSTEM)}
    assert sweep_at(desk, 60).done == []  # at the top of this contract's ladder


def test_a_late_first_sweep_climbs_every_level_passed_in_order(desk: Desk) -> None:
    t = desk.report(**SEED_003)
    report = sweep_at(desk, 30)
    assert [d.action.event.originator_version for d in report.done] == [2, 3]
    assert levels(desk, t) == ["department_manager", "project_general_manager"]


def test_a_responded_or_resolved_ticket_is_never_escalated(desk: Desk) -> None:
    on_time = desk.report(**SEED_003)
    late = desk.report(**SEED_003)
    fixed = desk.report(**SEED_003)
    desk.later(3)
    desk.do("respond", ticket=on_time.number)
    desk.do("resolve", ticket=fixed.number, summary="电话指导解决", mode="remote")
    desk.later(5)
    desk.do("respond", ticket=late.number)  # 8 minutes: breached, but answered
    sweep_at(desk, 60)
    assert levels(desk, on_time) == levels(desk, late) == levels(desk, fixed) == []


def test_a_manual_escalation_is_not_repeated(desk: Desk) -> None:
    t = desk.report(**SEED_003)
    desk.later(5.5)
    desk.do("escalate", ticket=t.number, to="department_manager", reason="客户来电催促")
    assert sweep_at(desk, 10).done == []  # the department manager's time (09:06) passed
    sweep_at(desk, 11)  # the general manager's: 6m after the 09:05 due time
    assert levels(desk, t) == ["department_manager", "project_general_manager"]


def test_a_suspension_stops_the_ladder_clock(desk: Desk) -> None:
    t = desk.report(**SEED_003)
    desk.later(2)
    desk.do("suspend", ticket=t.number, reason="客户要求暂停")
    assert sweep_at(desk, 60).done == []
    desk.do("resume", ticket=t.number)  # at 60: 3 minutes of the response left, due 63
    assert sweep_at(desk, 63.9).done == []
    sweep_at(desk, 64)  # 1 minute overdue: the department manager
    assert levels(desk, t) == ["department_manager"]


def test_contracts_without_a_ladder_never_escalate(desk: Desk) -> None:
    for contract in ("seed-000", "seed-001", "seed-004"):
        desk.report(contract=contract, customer="客户")
    report = sweep_at(desk, 3 * DAY)
    # Seed 001's defect owes a diagnosis report (3h) and a solution (24h): both noted
    # overdue. Seed 004's unit is owed from 8 h after a repair start that never came: no flag.
    assert sorted((d.number, d.action.kind.value) for d in report.done) == [
        ("T-2026-000002", "metric_overdue"),
        ("T-2026-000002", "metric_overdue"),
    ]
    assert [d.action.event.metric for d in report.done] == ["diagnose", "fault_solution"]


def _load_contract_with_chief_engineer(desk: Desk) -> None:
    data = read_toml(next(p for p in SEED_CONTRACTS if p.stem == "seed-002"))
    data["id"] = "lab-002"
    data["escalation"] = {**data["escalation"], "chief_engineer_office": "1h"}
    desk.ledger.contracts.load(parse_contract(data), actor="admin", role=Role.ADMIN)


def test_chief_engineer_office_takes_unresolved_defects_after_the_resolve_due_time(
    desk: Desk,
) -> None:
    _load_contract_with_chief_engineer(desk)
    defect = desk.report(contract="lab-002", severity="general")  # resolve 4h
    consultation = desk.report(contract="lab-002", severity="general", category="consultation")
    fixed = desk.report(contract="lab-002", severity="general")
    desk.later(2)
    for t in (defect, consultation, fixed):
        desk.do("respond", ticket=t.number)
    desk.later(60)
    desk.do("resolve", ticket=fixed.number, summary="远程重启", mode="remote")
    assert sweep_at(desk, 4 * 60 + 59).done == []
    report = sweep_at(desk, 5 * 60)
    assert [d.number for d in report.done] == [defect.number]
    (event,) = supervision(desk, defect)
    assert isinstance(event, Escalated)
    assert (event.from_level, event.to_level) == (
        EscalationLevel.ENGINEER,
        EscalationLevel.CHIEF_ENGINEER_OFFICE,
    )
    assert event.reason.startswith("修复超时 1 小时：技术问题未解决，自动升级至总工办")
    assert levels(desk, consultation) == levels(desk, fixed) == []
    # Reopened, the fixed defect is unresolved again, long after its resolve due time.
    desk.do("reopen", ticket=fixed.number, reason="故障复发")
    assert [d.number for d in sweep_at(desk, 5 * 60 + 1).done] == [fixed.number]
    assert levels(desk, fixed) == ["chief_engineer_office"]


# --------------------------------------------------------------------------- notices


def test_seed_003_notices_at_7_and_14_days(desk: Desk) -> None:
    t = desk.report(**SEED_003)
    desk.later(2)
    desk.do("respond", ticket=t.number)
    # First the temporary measure: reported Thursday 2026-10-08 09:00, the 2nd working day
    # after is Saturday 10-10 (a make-up day, 调休); its clock starts at 24:00 of it, the
    # measure is due 10-11 01:00 and noted overdue by the first sweep after.
    (temporary,) = sweep_at(desk, 3 * DAY).done
    assert temporary.action.kind.value == "metric_overdue"
    assert temporary.action.event.metric == "temporary"
    assert temporary.action.since == datetime(2026, 10, 10, 17, 0, tzinfo=START.tzinfo)
    assert sweep_at(desk, 7 * DAY - 1).done == []
    report = sweep_at(desk, 7 * DAY)
    assert [d.action.kind.value for d in report.done] == ["inspection_notice"]
    assert report.done[0].action.why == (
        "报修后 7 天未关闭：检查单 (unclosed 7 days after the report)"
    )
    assert sweep_at(desk, 14 * DAY - 1).done == []
    report = sweep_at(desk, 14 * DAY)
    assert [d.action.kind.value for d in report.done] == ["rectification_notice"]
    inspection, rectification = supervision(desk, t)
    assert isinstance(inspection, InspectionNoticeIssued) and inspection.threshold == "7 days"
    assert isinstance(rectification, RectificationNoticeIssued)
    assert rectification.threshold == "14 days"
    assert (inspection.occurred_at, rectification.occurred_at) == (at(7 * DAY), at(14 * DAY))
    assert sweep_at(desk, 30 * DAY).done == []


def test_both_notices_at_once_and_only_for_unclosed_tickets(desk: Desk) -> None:
    open_one = desk.report(**SEED_003)
    resolved = desk.report(**SEED_003)  # resolved but unsigned: still not closed
    closed = desk.report(**SEED_003)
    cancelled = desk.report(**SEED_003)
    desk.later(2)
    for t in (open_one, resolved, closed):
        desk.do("respond", ticket=t.number)
        desk.do("resolve", ticket=t.number, summary="远程修复", mode="remote")
    desk.do("reopen", ticket=open_one.number, reason="复发")
    desk.do("sign", ticket=closed.number, signer="张三")
    desk.do("close", ticket=closed.number)
    desk.do("cancel", ticket=cancelled.number, reason="重复报修")
    report = sweep_at(desk, 15 * DAY)
    kinds = Counter((d.number, d.action.kind.value) for d in report.done)
    for t in (open_one, resolved):
        assert kinds[(t.number, "inspection_notice")] == 1
        assert kinds[(t.number, "rectification_notice")] == 1
        first, second = supervision(desk, t)
        assert isinstance(first, InspectionNoticeIssued)
        assert isinstance(second, RectificationNoticeIssued)
        assert second.originator_version == first.originator_version + 1
    assert supervision(desk, closed) == supervision(desk, cancelled) == []


def test_no_notices_on_contracts_without_them(desk: Desk) -> None:
    tickets = [desk.report(contract=c, customer="客户") for c in ("seed-001", "seed-004")]
    desk.later(2)
    for t in tickets:
        desk.do("respond", ticket=t.number)
    sweep_at(desk, 30 * DAY)
    for t in tickets:
        assert not any(
            isinstance(e, InspectionNoticeIssued | RectificationNoticeIssued)
            for e in supervision(desk, t)
        )


# --------------------------------------------------------------------------- replacement


def test_seed_002_flags_a_replacement_unit_after_8_hours(desk: Desk) -> None:
    # Seed 002: not fixed 8 h after the report (09:00 → 17:00) a unit is owed, "at once" read
    # as the 30-minute on-site time: due 17:30, flagged by the first sweep after it.
    owed = desk.report(contract="seed-002", severity="major")  # resolve 4h, unit 8h + 30m
    given = desk.report(contract="seed-002", severity="major")
    fixed = desk.report(contract="seed-002", severity="major")
    desk.later(2)
    for t in (owed, given, fixed):
        desk.do("respond", ticket=t.number)
    desk.do("replace", ticket=given.number, unit="备用门禁控制器 B-101")
    desk.do("resolve", ticket=fixed.number, summary="更换电源", mode="remote")
    assert sweep_at(desk, 8 * 60 + 30).done == []  # just due: not overdue yet
    report = sweep_at(desk, 8 * 60 + 31)
    assert [(d.number, d.action.kind.value) for d in report.done] == [
        (owed.number, "replacement_flagged")
    ]
    (flag,) = supervision(desk, owed)
    assert isinstance(flag, ReplacementFlagged)
    due = at(8 * 60 + 30)
    assert (flag.target, flag.due_at, flag.occurred_at) == ("30m", due, at(8 * 60 + 31))
    assert report.done[0].action.since == due
    assert report.done[0].action.why.startswith("备用设备应于 30 分钟内提供，已超时")
    assert sweep_at(desk, 20 * 60).done == []
    assert supervision(desk, given) == supervision(desk, fixed) == []


# --------------------------------------------------------------------------- declared metrics

SEED_001 = {"contract": "seed-001", "customer": "某区政务服务中心", "severity": "general"}


def test_a_declared_metric_overdue_is_noted_once(desk: Desk) -> None:
    """Seed 001: a fault owes its diagnosis report within 3 h. Reported 09:00 and answered,
    not diagnosed: due 12:00, noted overdue by the first sweep after; a ticket diagnosed at
    11:00 owes nothing."""
    late = desk.report(**SEED_001)
    on_time = desk.report(**SEED_001)
    desk.later(10)
    for t in (late, on_time):
        desk.do("respond", ticket=t.number)
    desk.do("dispatch", ticket=on_time.number, engineer="王工")
    desk.clock.set(at(120))
    desk.do("diagnose", ticket=on_time.number, report="主板故障", actor="王工", role="engineer")
    assert sweep_at(desk, 180).done == []  # just due
    (noted,) = sweep_at(desk, 181).done
    assert (noted.number, noted.action.kind.value) == (late.number, "metric_overdue")
    event = noted.action.event
    assert isinstance(event, MetricOverdueNoted)
    assert (event.metric, event.target, event.due_at) == ("diagnose", "3h", at(180))
    assert (event.occurred_at, event.actor, event.role) == (at(181), SWEEP_ACTOR, Role.SYSTEM)
    assert noted.action.why == "诊断报告超时（时限 3 小时）(the diagnose target 3h is overdue)"
    assert sweep_at(desk, 240).done == []  # once per metric
    # Seed 001's fault solution (24 h, due 09:00 the next day) is its own metric: neither
    # ticket has proposed one, both are noted once it is overdue.
    solutions = sweep_at(desk, 24 * 60 + 1).done
    assert [(d.number, d.action.event.metric) for d in solutions] == [
        (late.number, "fault_solution"),
        (on_time.number, "fault_solution"),
    ]


def test_a_metric_declared_escalate_climbs_the_ladder(desk: Desk) -> None:
    """Seed 001 with ``escalate = true`` on its diagnosis and a ladder of 30 min: a fault
    answered in time but not diagnosed by 12:00 (09:00 + 3 h) climbs to the department
    manager at 12:30; a consultation (no diagnosis owed; its solution does not escalate)
    does not."""
    data = read_toml(next(p for p in SEED_CONTRACTS if p.stem == "seed-001"))
    data["id"] = "lab-001"
    data["metrics"]["diagnose"]["escalate"] = True
    data["escalation"] = {"department_manager": "30m"}
    desk.ledger.contracts.load(parse_contract(data), actor="admin", role=Role.ADMIN)
    fault = desk.report(**{**SEED_001, "contract": "lab-001"})
    question = desk.report(**{**SEED_001, "contract": "lab-001", "category": "consultation"})
    desk.later(10)
    for t in (fault, question):
        desk.do("respond", ticket=t.number)
    # 12:01: the fault's diagnosis and the consultation's 3-hour solution are noted overdue.
    noted = sweep_at(desk, 181).done
    assert [(d.number, d.action.event.metric) for d in noted] == [
        (fault.number, "diagnose"),
        (question.number, "consult_solution"),
    ]
    assert sweep_at(desk, 209).done == []
    assert levels(desk, fault) == [] and levels(desk, question) == []
    report = sweep_at(desk, 210)
    assert [(d.number, d.action.kind.value) for d in report.done] == [(fault.number, "escalated")]
    assert levels(desk, fault) == ["department_manager"]
    (escalated,) = [e for e in supervision(desk, fault) if isinstance(e, Escalated)]
    assert escalated.reason == "诊断报告超时 30 分钟：自动升级至部门经理 (diagnose overdue by 30m)"
    assert levels(desk, question) == []


def test_an_at_risk_warning_for_a_declared_metric(desk: Desk) -> None:
    """With notification rules asking for 50 %: seed 001's 3-hour diagnosis reported 09:00
    has used half its time at 10:30; a sweep at 10:31 warns (91 of 180 min: 50 %, 89 min
    left, due 12:00). The response (1 h) is already past due: the ladder's, not a warning."""
    rules = (
        '[channels.ops]\nkind = "wecom"\nurl = "https://qyapi.weixin.qq.com/x"\n'
        '[people."张经理"]\n[[rules]]\nname = "临近超时"\n'
        'events = ["ledger.ticket.at_risk_warned.*"]\nat_risk = 50\nchannels = ["ops"]\n'
        'notify = ["张经理"]\n'
    )
    NotificationRules(desk.ledger.app, desk.ledger.clock).load(
        parse_rules(tomllib.loads(rules)), actor="系统管理员", role=Role.ADMIN
    )
    t = desk.report(**SEED_001)
    assert sweep_at(desk, 89).done == []
    (warned,) = sweep_at(desk, 91).done
    event = warned.action.event
    assert isinstance(event, AtRiskWarned)
    assert (event.metric, event.target, event.at_percent, event.used_percent) == (
        "diagnose",
        "3h",
        50,
        50,
    )
    assert (event.left_minutes, event.due_at) == (89, at(180))
    assert warned.number == t.number
    assert sweep_at(desk, 120).done == []  # once per metric and threshold


# --------------------------------------------------------------------------- safety


def test_a_second_sweep_at_the_same_time_appends_nothing(desk: Desk) -> None:
    desk.report(**SEED_003)
    desk.report(contract="seed-002")
    first = sweep_at(desk, 15 * DAY)
    # Seed 003: 2 escalations, 2 notices, the temporary measure overdue; seed 002: 2
    # escalations and the replacement unit.
    assert len(first.done) == 8
    count = desk.ledger.event_count()
    again = sweep_at(desk, 15 * DAY)
    assert again.done == [] and again.checked == 2
    assert desk.ledger.event_count() == count


def test_a_dry_run_decides_but_records_nothing(desk: Desk) -> None:
    t = desk.report(**SEED_003)
    count = desk.ledger.event_count()
    dry = sweep_at(desk, 15, dry_run=True)
    assert dry.dry_run and len(dry.done) == 2
    assert desk.ledger.event_count() == count
    wet = sweep_at(desk, 15)
    assert [d.action.event for d in wet.done] == [d.action.event for d in dry.done]
    assert levels(desk, t) == ["department_manager", "project_general_manager"]


def test_a_sweep_in_the_future_is_refused_and_records_nothing(desk: Desk) -> None:
    desk.report(**SEED_003)
    count = desk.ledger.event_count()
    with pytest.raises(RuleViolation, match="is in the future"):
        desk.ledger.sweep.run(START + timedelta(minutes=30))
    assert desk.ledger.event_count() == count
    # A sweep in the past is allowed (e.g. catching up after downtime).
    desk.clock.set(at(60))
    report = desk.ledger.sweep.run(at(10))
    assert [d.action.event.occurred_at for d in report.done] == [at(10)]


def test_a_sweep_that_loses_a_race_re_reads_and_duplicates_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = open_desk(db_url, at=START)
    b = open_desk(db_url, create=False, at=START)
    try:
        t = a.report(**SEED_003)
        a.clock.set(at(15))
        b.clock.set(at(15))
        commit = a.ledger.tickets.commit
        raced: list[bool] = []

        def someone_else_sweeps_first(events: Any) -> None:
            if not raced:
                raced.append(True)
                assert len(b.ledger.sweep.run().done) == 2
            commit(events)

        monkeypatch.setattr(a.ledger.tickets, "commit", someone_else_sweeps_first)
        report = a.ledger.sweep.run()
        assert report.retries == 1 and report.problems == []
        assert report.done == []  # the other sweep did it
        assert levels(a, t) == ["department_manager", "project_general_manager"]
    finally:
        a.ledger.close()
        b.ledger.close()


def _check_no_duplicates(desk: Desk, tickets: list[Ticket]) -> None:
    for t in tickets:
        kinds = Counter(
            (type(e).__name__, getattr(e, "to_level", None)) for e in supervision(desk, t)
        )
        assert kinds and max(kinds.values()) == 1, (t.number, kinds)


def test_concurrent_sweeps_in_threads_record_each_fact_once(db_url: str) -> None:
    desk = open_desk(db_url)
    tickets = [desk.report(**SEED_003) for _ in range(8)]
    desk.ledger.close()
    sweepers = [open_desk(db_url, create=False, at=at(15 * DAY)) for _ in range(3)]
    barrier = threading.Barrier(len(sweepers))
    reports: list[SweepReport] = []

    def run(d: Desk) -> None:
        barrier.wait()
        reports.append(d.ledger.sweep.run())

    threads = [threading.Thread(target=run, args=(d,)) for d in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert len(reports) == 3 and all(r.problems == [] for r in reports)
        assert sum(len(r.done) for r in reports) == 8 * 5  # 2 levels, 2 notices, temporary
        _check_no_duplicates(sweepers[0], tickets)
        assert sweepers[0].ledger.sweep.run().done == []
    finally:
        for d in sweepers:
            d.ledger.close()


def _sweep_in_process(url: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    desk = open_desk(url, create=False, at=at(15 * DAY))
    try:
        report = desk.ledger.sweep.run()
        queue.put((len(report.done), len(report.problems)))
    finally:
        desk.ledger.close()


def test_concurrent_sweeps_in_processes_record_each_fact_once(db_url: str) -> None:
    desk = open_desk(db_url)
    tickets = [desk.report(**SEED_003) for _ in range(6)]
    results = run_in_processes(_sweep_in_process, (db_url,), 2)
    try:
        assert sum(done for done, _ in results) == 6 * 5
        assert all(problems == 0 for _, problems in results)
        _check_no_duplicates(desk, tickets)
    finally:
        desk.ledger.close()


# --------------------------------------------------------------------------- command line


def test_sweep_through_the_cli(db_url: str) -> None:
    cli = make_cli(db_url)  # the clock says 2026-10-08T12:00+08:00
    number = cli.json(*REPORT_ARGS)["number"]  # seed 002, reported 09:00

    count = cli.event_count()
    dry = cli.json("sweep", "--dry-run")
    assert dry["dry_run"] is True
    assert [a["action"] for a in dry["actions"]] == ["escalated", "escalated"]
    assert cli.event_count() == count

    out = cli.run("sweep").stdout.splitlines()
    assert out[0] == (
        f"{number}  escalated engineer → department_manager: "
        "响应超时 1 分钟：自动升级至部门经理 (response overdue by 1m)"
    )
    assert out[1].startswith(f"{number}  escalated department_manager → project_general_manager")
    assert out[2] == (
        "sweep as of 2026-10-08T12:00:00+08:00: 1 open ticket checked, recorded 2 actions "
        "(2 escalations, 0 replacement flags, 0 inspection notices, 0 rectification notices)"
    )
    assert cli.event_count() == count + 2

    again = cli.json("sweep")
    assert again["actions"] == [] and again["checked"] == 1
    assert cli.event_count() == count + 2

    # The unit: owed from 17:00 (8 h), due 17:30 (seed 002's "立即" read as 30 minutes).
    assert cli.json("sweep", LEDGER_NOW="2026-10-08T17:30+08:00")["actions"] == []  # just due
    later = cli.json("sweep", LEDGER_NOW="2026-10-08T17:31+08:00")
    (flag,) = later["actions"]
    assert flag["action"] == "replacement_flagged"
    assert flag["since"] == "2026-10-08T17:30:00+08:00"
    assert flag["event"]["type"] == "ReplacementFlagged"
    assert flag["event"]["actor"] == SWEEP_ACTOR and flag["event"]["role"] == "system"
    assert flag["event"]["data"] == {"target": "30m", "due_at": "2026-10-08T09:30:00Z"}
    assert later["counts"]["replacement_flagged"] == 1

    past = cli.json("sweep", "--now", "2026-10-08T10:00", LEDGER_NOW="2026-10-08T18:00+08:00")
    assert past["now"] == "2026-10-08T10:00:00+08:00" and past["actions"] == []

    future = cli.run("sweep", "--now", "2026-10-08T13:00", ok=False)
    assert future.returncode == 2
    assert "is in the future" in future.stderr
    bad = cli.run("sweep", "--now", "tomorrow", ok=False)
    assert bad.returncode == 2 and "--now" in bad.stderr
    assert cli.event_count() == count + 3


def test_a_declared_metric_overdue_through_the_cli(db_url: str) -> None:
    """Seed 001's fault reported 09:00: its diagnosis report (3 h) is due at 12:00 (the
    clock's now: nothing yet); a sweep at 12:01 notes it, in the lines, the summary and the
    JSON; a second sweep notes nothing more."""
    cli = make_cli(db_url)
    swap = {"seed-002": "seed-001", "禹州市公安局": "某区政务服务中心", "emergency": "general"}
    number = cli.json(*(swap.get(a, a) for a in REPORT_ARGS))["number"]
    cli.run("ticket", "respond", number, "--at", "2026-10-08T09:10")
    assert cli.json("sweep")["actions"] == []  # 12:00: just due
    out = cli.run("sweep", LEDGER_NOW="2026-10-08T12:01+08:00").stdout.splitlines()
    assert out == [
        f"{number}  overdue noted (逾期): 诊断报告超时（时限 3 小时）(the diagnose target 3h "
        "is overdue)",
        "sweep as of 2026-10-08T12:01:00+08:00: 1 open ticket checked, recorded 1 action "
        "(0 escalations, 0 replacement flags, 0 inspection notices, 0 rectification notices, "
        "1 overdue note)",
    ]
    again = cli.json("sweep", LEDGER_NOW="2026-10-08T12:30+08:00")
    assert again["actions"] == [] and "metric_overdue" not in again["counts"]
    (noted,) = [
        e for e in cli.json("ticket", "history", number) if e["type"] == "MetricOverdueNoted"
    ]
    assert (noted["actor"], noted["role"]) == (SWEEP_ACTOR, "system")
    assert noted["data"] == {"metric": "diagnose", "target": "3h", "due_at": "2026-10-08T04:00:00Z"}
