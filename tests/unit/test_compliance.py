"""Judging tickets against contracts (``judge_ticket``): the worked examples of docs/sla.md.

Pure: tickets are built with the domain's own ``decide_*`` rules and ``mutate``; contracts
are the seed files of examples/contracts or small inline policies. Times are Shanghai time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.adapters.chinese_calendar import china_official_calendar
from ledger.commands.contracts import parse_contract, read_toml
from ledger.domain.calendar import WorkCalendar
from ledger.domain.compliance import Judgement, judge_ticket, judged_again, ticket_pauses
from ledger.domain.contract import Policy, decide_register, decide_revise, policy_for_ticket
from ledger.domain.contract import mutate as mutate_contract
from ledger.domain.model import Stamp
from ledger.domain.numbering import ticket_id_for
from ledger.domain.sla import SlaStatus
from ledger.domain.ticket import (
    Contact,
    TicketEvent,
    mutate,
)
from ledger.domain.ticket_rules import (
    decide_arrive,
    decide_cancel,
    decide_dispatch,
    decide_reclassify,
    decide_replace,
    decide_report,
    decide_resolve,
    decide_respond,
    decide_resume,
    decide_suspend,
)
from ledger.domain.values import Category, Channel, ResolutionMode, Role, Severity
from tests.support import SEED_CONTRACTS, SHANGHAI

OFFICIAL = china_official_calendar()


def local(text: str) -> datetime:
    """``"2026-10-08 09:00"`` in Shanghai, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def seed(contract_id: str) -> Policy:
    path = next(p for p in SEED_CONTRACTS if p.stem == contract_id)
    return parse_contract(read_toml(path)).policy


def policy(**overrides: Any) -> Policy:
    data: dict[str, Any] = {
        "name": "test contract",
        "customer": "某县档案馆",
        "warranty": {"start": "2023-01-01", "years": 5},
        "calendar": "24x7",
        "targets": {"default": {"resolve": "4h"}},
    }
    data.update(overrides)
    return Policy.model_validate(data)


class Story:
    """One ticket, told command by command at Shanghai times."""

    def __init__(self, reported: str, severity: Severity = Severity.GENERAL) -> None:
        number = "T-2026-000042"
        self.ticket = mutate(
            decide_report(
                ticket_id_for(number),
                number,
                self._stamp(reported),
                contract_id="seed",
                customer="某县档案馆",
                contact=Contact(name="张三", phone="13800138001"),
                site="机房",
                device="扫描仪",
                category=Category.DEFECT,
                severity=severity,
                description="无法开机",
                channel=Channel.PHONE,
            ),
            None,
        )

    @staticmethod
    def _stamp(when: str) -> Stamp:
        moment = local(when)
        return Stamp(actor="王工", role=Role.ENGINEER, occurred_at=moment, recorded_at=moment)

    def do(self, decide: Callable[..., TicketEvent], when: str, *args: Any) -> Story:
        self.ticket = mutate(decide(self.ticket, self._stamp(when), *args), self.ticket)
        return self

    def judge(
        self, policy: Policy, now: str, calendar: WorkCalendar = OFFICIAL
    ) -> dict[str, Judgement]:
        return {j.metric: j for j in judge_ticket(self.ticket, policy, calendar, local(now))}


def on_site_fix(story: Story, respond: str, dispatch: str, arrive: str, resolve: str) -> Story:
    return (
        story.do(decide_respond, respond)
        .do(decide_dispatch, dispatch, "王工")
        .do(decide_arrive, arrive)
        .do(decide_resolve, resolve, "更换主板", ResolutionMode.ON_SITE)
    )


def test_a_24x7_emergency_judged_metric_by_metric() -> None:
    # Seed 002: respond 5 min, arrive 20 min (emergency), fix 4 h, replacement unit by 8 h.
    story = on_site_fix(
        Story("2026-10-08 09:00", Severity.EMERGENCY),
        respond="2026-10-08 09:03",
        dispatch="2026-10-08 09:05",
        arrive="2026-10-08 09:25",
        resolve="2026-10-08 12:40",
    )
    verdicts = story.judge(seed("seed-002"), now="2026-10-09 09:00")
    assert verdicts["respond"].status is SlaStatus.MET
    assert verdicts["respond"].due_at == local("2026-10-08 09:05")
    assert verdicts["arrive"].status is SlaStatus.BREACHED
    assert verdicts["arrive"].due_at == local("2026-10-08 09:20")
    assert verdicts["arrive"].breach_minutes == 5
    assert verdicts["resolve"].status is SlaStatus.MET
    assert verdicts["resolve"].elapsed is not None
    assert verdicts["resolve"].elapsed.total_seconds() == 3 * 3600 + 40 * 60
    assert verdicts["replacement"].status is SlaStatus.NOT_APPLICABLE
    assert verdicts["replacement"].note == "resolved before a replacement unit was due"


def test_a_two_hour_pause_pushes_every_24x7_due_time_by_two_hours() -> None:
    story = (
        Story("2026-10-08 10:00")
        .do(decide_respond, "2026-10-08 10:03")
        .do(decide_suspend, "2026-10-08 10:30", "等待客户提供机房进入许可")
        .do(decide_resume, "2026-10-08 12:30", "客户已提供许可")
        .do(decide_resolve, "2026-10-08 15:00", "远程修复", ResolutionMode.REMOTE)
    )
    verdicts = story.judge(seed("seed-002"), now="2026-10-09 09:00")
    assert verdicts["resolve"].due_at == local("2026-10-08 16:00")  # 14:00 + the 2 h pause
    assert verdicts["resolve"].status is SlaStatus.MET
    assert verdicts["resolve"].elapsed is not None
    assert verdicts["resolve"].elapsed.total_seconds() == 3 * 3600  # 5 h wall, 2 h paused
    # Seed 002's unit is owed once the fix has failed 8 h after the report (start_after =
    # "8h": 10:00 + 8 h = 18:00, + the 2 h pause = 20:00) and is due 30 min later: 20:30.
    # Fixed at 15:00, long before: n/a, with that due time.
    replacement = verdicts["replacement"]
    assert replacement.due_at == local("2026-10-08 20:30")
    assert replacement.status is SlaStatus.NOT_APPLICABLE


def test_a_contract_that_does_not_allow_pausing_keeps_the_clock_running() -> None:
    story = (
        Story("2026-10-08 10:00")
        .do(decide_suspend, "2026-10-08 10:30", "等待客户")
        .do(decide_resume, "2026-10-08 12:30")
        .do(decide_resolve, "2026-10-08 15:00", "远程修复", ResolutionMode.REMOTE)
    )
    verdicts = story.judge(policy(pausing=False), now="2026-10-09 09:00")
    assert verdicts["resolve"].due_at == local("2026-10-08 14:00")
    assert verdicts["resolve"].status is SlaStatus.BREACHED
    assert verdicts["resolve"].breach_minutes == 60


def test_the_spring_festival_example_due_monday_19_february_at_close() -> None:
    # Friday 2024-02-09 16:40, business hours 08:00–17:30 on China's working days,
    # resolve = "2 workdays": Feb 10–17 are off, Sunday Feb 18 is a make-up working day,
    # so the 1st working day after the report is Feb 18 and the 2nd is Monday Feb 19.
    business = policy(
        calendar="business",
        business_hours={"open": "08:00", "close": "17:30"},
        targets={"default": {"respond": "30m", "resolve": "2 workdays"}},
    )
    story = Story("2024-02-09 16:40").do(decide_respond, "2024-02-09 17:05")
    verdicts = story.judge(business, now="2024-02-19 09:00")
    assert verdicts["respond"].due_at == local("2024-02-09 17:10")
    assert verdicts["respond"].status is SlaStatus.MET
    assert verdicts["resolve"].due_at == local("2024-02-19 17:30")
    assert verdicts["resolve"].status is SlaStatus.PENDING
    # A calendar with the days off but without the make-up Sunday says Tuesday Feb 20.
    no_make_up_days = WorkCalendar(holidays=OFFICIAL.holidays, years=frozenset({2024}))
    without = story.judge(business, "2024-02-19 09:00", no_make_up_days)["resolve"]
    assert without.due_at == local("2024-02-20 17:30")


def test_the_business_clock_runs_on_make_up_days_and_stops_on_holidays() -> None:
    business = policy(
        calendar="business",
        business_hours={"open": "08:00", "close": "17:30"},
        targets={"default": {"respond": "30m"}},
    )
    # Saturday 2026-10-10 is a make-up working day (National Day 调休): the clock runs.
    saturday = Story("2026-10-10 09:00")
    assert saturday.judge(business, "2026-10-10 09:10")["respond"].due_at == local(
        "2026-10-10 09:30"
    )
    # Reported on the National Day holiday: the clock starts at the next opening.
    holiday = Story("2026-10-03 11:00").do(decide_respond, "2026-10-08 08:45")
    respond = holiday.judge(business, "2026-10-08 12:00")["respond"]
    assert respond.due_at == local("2026-10-08 08:30")
    assert respond.status is SlaStatus.BREACHED
    assert respond.breach_minutes == 15


def test_overdue_breach_grows_with_now_until_the_work_is_done() -> None:
    story = Story("2026-10-08 10:00")
    early = story.judge(seed("seed-002"), now="2026-10-08 10:04")
    assert early["respond"].status is SlaStatus.PENDING
    assert story.judge(seed("seed-002"), "2026-10-08 10:17")["respond"].breach_minutes == 12
    later = story.judge(seed("seed-002"), now="2026-10-08 11:05")["respond"]
    assert (later.status, later.breach_minutes) == (SlaStatus.OVERDUE, 60)
    story.do(decide_respond, "2026-10-08 11:00")
    done = story.judge(seed("seed-002"), now="2026-10-09 00:00")["respond"]
    assert (done.status, done.breach_minutes) == (SlaStatus.BREACHED, 55)


def test_final_verdicts_given_are_taken_and_the_rest_judged_at_now() -> None:
    """The SLA read model's queries hand over the stored final verdicts (judged at the
    report) and have only the running ones judged at ``now``: the same list, in the same
    order, as judging every metric at ``now``."""
    story = Story("2026-10-08 09:00", Severity.EMERGENCY).do(decide_respond, "2026-10-08 09:03")
    contract = seed("seed-002")
    at_report = judge_ticket(story.ticket, contract, OFFICIAL, local("2026-10-08 09:04"))
    final = {j.metric: j for j in at_report if j.status.is_final}
    assert list(final) == ["respond"]  # met; arrive, resolve and the spare unit still run
    now = local("2026-10-08 14:00")
    given = judge_ticket(story.ticket, contract, OFFICIAL, now, final)
    assert given == judge_ticket(story.ticket, contract, OFFICIAL, now)
    assert given[0] is final["respond"]  # taken, not judged again
    assert [j.status for j in given[1:3]] == [SlaStatus.OVERDUE, SlaStatus.OVERDUE]


@pytest.mark.parametrize("calendar", ["24x7", "business"])
def test_judged_again_from_the_verdicts_at_the_report_is_the_judgement_at_now(
    calendar: str,
) -> None:
    """The SLA read model's running verdicts (judged at the report, read back in its rows'
    order) judged again at ``now`` by ``judged_again``: the same list, in the same order,
    as judging the whole ticket at ``now``; late minutes without the pause after the due
    time, and a lower bound past the years the calendar knows."""
    contract = policy(
        calendar=calendar,
        business_hours={"open": "08:00", "close": "17:30"} if calendar == "business" else None,
        metrics={"zeta": {"stop": "Arrived"}, "alpha": {"stop": "Resolved", "pausing": False}},
        targets={"default": {"respond": "30m", "zeta": "2h", "alpha": "1h"}},
    )
    story = (
        Story("2026-10-08 09:00")
        .do(decide_suspend, "2026-10-08 09:45", "等待客户")  # after respond's due time
        .do(decide_resume, "2026-10-08 10:15")
    )
    at_report = judge_ticket(story.ticket, contract, OFFICIAL, story.ticket.reported_at)
    assert {j.status for j in at_report} == {SlaStatus.PENDING}
    earlier = {j.metric: j for j in sorted(at_report, key=lambda j: j.metric)}
    pauses = ticket_pauses(story.ticket, contract)
    for when in ("2026-10-08 09:20", "2026-10-08 10:50", "2026-10-12 12:00", "2041-03-01 12:00"):
        now = local(when)
        again = judged_again(earlier, contract, OFFICIAL, story.ticket.severity, now, pauses)
        assert again == judge_ticket(story.ticket, contract, OFFICIAL, now), when
    unknown_year = calendar == "business"  # 24x7 clocks need no working-day table
    assert (again[0].note or "").startswith("at least") is unknown_year


def test_reclassification_applies_the_new_targets_from_the_report_time() -> None:
    story = on_site_fix(
        Story("2026-10-08 09:00", Severity.GENERAL),
        respond="2026-10-08 09:02",
        dispatch="2026-10-08 09:04",
        arrive="2026-10-08 09:28",
        resolve="2026-10-08 11:00",
    )
    assert story.judge(seed("seed-002"), "2026-10-09 09:00")["arrive"].status is SlaStatus.MET
    story.do(decide_reclassify, "2026-10-08 11:10", "实为紧急故障", Severity.EMERGENCY, None)
    arrive = story.judge(seed("seed-002"), "2026-10-09 09:00")["arrive"]
    assert arrive.due_at == local("2026-10-08 09:20")  # 20 min from the report, not from 11:10
    assert (arrive.status, arrive.breach_minutes) == (SlaStatus.BREACHED, 8)


def test_a_remote_fix_needs_no_arrival() -> None:
    story = (
        Story("2026-10-08 09:00")
        .do(decide_respond, "2026-10-08 09:03")
        .do(decide_resolve, "2026-10-08 10:30", "电话指导", ResolutionMode.REMOTE)
    )
    arrive = story.judge(seed("seed-002"), "2026-10-09 09:00")["arrive"]
    assert arrive.status is SlaStatus.NOT_APPLICABLE
    assert arrive.note == "resolved before anyone arrived"


def test_replacement_unit_due_when_not_fixed_in_time() -> None:
    # Seed 002: "如 8 小时内不能修复的，我方将提供相同型号的产品": reported 09:00, the unit is
    # owed from 17:00 (8 h) and due "at once", read as the 30-minute on-site time: 17:30.
    # A unit brought at 16:30, before it was owed, keeps the promise.
    provided = (
        Story("2026-10-08 09:00")
        .do(decide_respond, "2026-10-08 09:03")
        .do(decide_replace, "2026-10-08 16:30", "同型号备用门禁控制器")
    )
    verdict = provided.judge(seed("seed-002"), "2026-10-08 18:00")["replacement"]
    assert (verdict.status, verdict.done_at) == (SlaStatus.MET, local("2026-10-08 16:30"))

    late_fix = (
        Story("2026-10-08 09:00")
        .do(decide_respond, "2026-10-08 09:03")
        .do(decide_resolve, "2026-10-08 19:00", "更换电源", ResolutionMode.REMOTE)
    )
    verdict = late_fix.judge(seed("seed-002"), "2026-10-09 09:00")["replacement"]
    assert verdict.status is SlaStatus.BREACHED
    assert verdict.due_at == local("2026-10-08 17:30")
    assert verdict.breach_minutes == 90  # due 17:30, the customer waited until 19:00
    assert verdict.note == "resolved late without a replacement unit"


def test_a_cancelled_ticket_owes_nothing_more() -> None:
    story = (
        Story("2026-10-08 09:00")
        .do(decide_respond, "2026-10-08 09:03")
        .do(decide_cancel, "2026-10-08 09:10", "误报")
    )
    verdicts = story.judge(seed("seed-002"), "2026-10-10 09:00")
    assert verdicts["respond"].status is SlaStatus.MET
    assert {verdicts[m].status for m in ("arrive", "resolve", "replacement")} == {
        SlaStatus.NOT_APPLICABLE
    }


def test_a_metric_without_a_target_is_not_judged() -> None:
    only_major_resolve = policy(targets={"major": {"resolve": "8h"}, "general": {"respond": "5m"}})
    major = Story("2026-10-08 09:00", Severity.MAJOR)
    assert list(major.judge(only_major_resolve, "2026-10-08 10:00")) == ["resolve"]
    general = Story("2026-10-08 09:00", Severity.GENERAL)
    assert list(general.judge(only_major_resolve, "2026-10-08 10:00")) == ["respond"]


def test_a_year_without_a_working_day_table_is_unknown_not_guessed() -> None:
    business = policy(
        calendar="business",
        business_hours={"open": "08:00", "close": "17:30"},
        targets={"default": {"respond": "30m"}},
    )
    story = Story("2027-03-02 09:00")
    respond = story.judge(business, "2027-03-02 10:00")["respond"]
    assert respond.status is SlaStatus.UNKNOWN
    assert respond.note is not None and "no official working-day table for 2027" in respond.note
    assert "ledger calendar load" in respond.note


def test_a_contracts_own_holiday_stops_the_business_clock() -> None:
    business = policy(
        calendar="business",
        business_hours={"open": "08:00", "close": "17:30"},
        workdays={"extra_holidays": ["2026-10-09"]},  # the customer's own day off
        targets={"default": {"respond": "30m"}},
    )
    respond = Story("2026-10-08 17:20").judge(business, "2026-10-08 17:25")["respond"]
    # 10 min on Thursday, Friday the 9th is off, Saturday the 10th is a make-up workday.
    assert respond.due_at == local("2026-10-10 08:20")


@pytest.mark.parametrize("contract", [p.stem for p in SEED_CONTRACTS])
def test_every_seed_contract_judges_a_fresh_ticket_pending(contract: str) -> None:
    terms = seed(contract)
    verdicts = Story("2026-10-08 09:00").judge(terms, now="2026-10-08 09:01")
    assert verdicts and all(v.status is SlaStatus.PENDING for v in verdicts.values())
    # A clock that runs from the report has a due time ahead; one that starts at a later
    # event (seed 004's repair start and signature, seed 000's contact change) has none yet.
    definitions = terms.metric_definitions
    from_report = {m for m in verdicts if definitions[m].start == "Reported"}
    assert from_report >= {"respond"}
    for metric, verdict in verdicts.items():
        if metric in from_report:
            assert verdict.due_at is not None and verdict.due_at > local("2026-10-08 09:01")
        else:
            assert verdict.due_at is None, metric
    assert all(v.due_at is None or v.due_at.tzinfo is UTC for v in verdicts.values())


def test_a_ticket_is_judged_by_the_revision_in_force_at_its_report() -> None:
    """``policy_for_ticket``: the revision in force when the ticket was reported, however
    later the contract was revised; no contract, no policy."""
    registered_at = datetime(2026, 10, 1, tzinfo=UTC)
    revised_from = datetime(2026, 10, 10, tzinfo=UTC)
    stamp = Stamp(
        actor="合同管理员", role=Role.ADMIN, occurred_at=registered_at, recorded_at=registered_at
    )
    first, second = policy(), policy(targets={"default": {"resolve": "2h"}})
    contract = mutate_contract(decide_register("test", first, stamp), None)
    contract = mutate_contract(decide_revise(contract, second, stamp, revised_from), contract)
    assert policy_for_ticket(contract, revised_from - timedelta(seconds=1)) == first
    assert policy_for_ticket(contract, revised_from) == second
    assert policy_for_ticket(None, revised_from) is None
