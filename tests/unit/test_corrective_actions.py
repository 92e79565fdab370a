"""The CorrectiveAction aggregate (纠正预防措施): every order rule, the verifier role rule,
due dates and overdue, and a property test over random command sequences.

Times are minutes after ``T0`` (tests/histories.py): 2026-10-08 09:00 in Shanghai.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid5
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ledger.domain.corrective_action import (
    NEXT_STEP,
    VERIFIERS,
    ActionClosed,
    ActionEvent,
    ActionImplemented,
    ActionPlanned,
    ActionStage,
    CauseAnalysed,
    CorrectiveAction,
    EffectivenessVerified,
    IssueSource,
    QualityIssueRaised,
    ResultRecorded,
    decide_analyse,
    decide_close,
    decide_implement,
    decide_plan,
    decide_raise,
    decide_record_result,
    decide_verify,
    due_by,
    mutate,
    project_action,
)
from ledger.domain.model import DomainEvent, Stamp
from ledger.domain.numbering import NAMESPACE, Series
from ledger.domain.values import Role
from tests.histories import (
    WORDS,
    Command,
    History,
    Run,
    at,
    command_strategy,
    rejected,
    stamp,
)

NUMBER = "CA-2026-0007"
ACTION_ID = Series.CORRECTIVE_ACTION.id_for(NUMBER)
VISIT = "V-2026-000012"
SHANGHAI = "Asia/Shanghai"


def raised(
    occurred: float = 0, recorded: float | None = None, **overrides: Any
) -> QualityIssueRaised:
    fields: dict[str, Any] = {
        "content": "回访发现成果图件坐标系标注错误",
        "source": IssueSource.RETURN_VISIT,
        "department": "测绘一部",
        "links": [VISIT],
    }
    fields.update(overrides)
    return decide_raise(NUMBER, stamp(occurred, recorded), **fields)


PLAN: dict[str, Any] = {
    "corrective": "重新出图并逐项核对坐标系",
    "preventive": "出图前增加坐标系检查项",
    "responsible": "王工",
    "due_on": date(2026, 10, 31),
    "time_zone": SHANGHAI,
}


class Action(History[CorrectiveAction]):
    def __init__(self, **overrides: Any) -> None:
        super().__init__(raised(**overrides), mutate)

    def stage(self) -> ActionStage:
        """A call, not a property: mypy would keep narrowing ``a.state.stage`` across ``do``."""
        return self.state.stage

    def analysed(self) -> Action:
        self.do(decide_analyse, 60, "作业员未按规范设置坐标系")
        return self

    def planned(self, minute: float = 120, **changes: Any) -> Action:
        if self.stage() is ActionStage.RAISED:
            self.analysed()
        self.do(decide_plan, minute, **{**PLAN, **changes})
        return self

    def implemented(self, minute: float = 180) -> Action:
        if self.stage() in (ActionStage.RAISED, ActionStage.ANALYSED, ActionStage.NOT_EFFECTIVE):
            self.planned(minute - 60)
        self.do(decide_implement, minute, "已重新出图并交付")
        return self

    def result_recorded(self, minute: float = 240) -> Action:
        if self.stage() is not ActionStage.IMPLEMENTED:
            self.implemented(minute - 60)
        self.do(decide_record_result, minute, "客户确认图件无误")
        return self

    def verified(self, effective: bool = True, minute: float = 300) -> Action:
        if self.stage() is not ActionStage.RESULT_RECORDED:
            self.result_recorded(minute - 60)
        self.do(
            decide_verify,
            minute,
            effective=effective,
            comment="措施有效" if effective else "同类问题再次出现",
            actor="总工办-刘",
            role=Role.CHIEF_ENGINEER_OFFICE,
        )
        return self

    def not_effective(self) -> Action:
        return self.verified(effective=False)

    def closed(self, minute: float = 360) -> Action:
        self.verified(minute=minute - 60)
        self.do(decide_close, minute)
        return self


# --------------------------------------------------------------------------- raise


def test_raise_records_every_field_and_starts_the_action() -> None:
    e = raised(occurred=-30, recorded=0, links=[VISIT, "T-2026-000123"])
    assert type(e) is QualityIssueRaised
    assert (e.originator_id, e.originator_version) == (ACTION_ID, 1)
    assert uuid5(NAMESPACE, "corrective-action:CA-2026-0007") == ACTION_ID
    assert (e.occurred_at, e.timestamp) == (at(-30), at(0))
    assert e.number == NUMBER
    assert e.source is IssueSource.RETURN_VISIT
    assert e.department == "测绘一部"
    assert [(link.series, link.number) for link in e.links] == [
        (Series.VISIT, VISIT),
        (Series.TICKET, "T-2026-000123"),
    ]
    assert e.links[0].id == Series.VISIT.id_for(VISIT)

    a = mutate(e, None)
    assert (a.id, a.version, a.number) == (ACTION_ID, 1, NUMBER)
    assert a.stage is ActionStage.RAISED
    assert a.raised_at == a.last_step_at == at(-30)
    assert a.created_on == a.modified_on == at(0)
    assert a.links == e.links and a.content == e.content
    assert a.plan is None and a.plans == 0 and a.verifications == ()
    assert a.is_open and not a.is_overdue(at(10**6))


@pytest.mark.parametrize(
    ("source", "links"),
    [
        (IssueSource.RETURN_VISIT, ["V-2026-000001"]),
        (IssueSource.COMPLAINT, ["C-2026-0001"]),
        (IssueSource.TICKET, ["T-2026-000001"]),
        (IssueSource.TICKET, ["C-2026-0003", "T-2026-000001"]),
        (IssueSource.INTERNAL_AUDIT, []),
        (IssueSource.INTERNAL_AUDIT, ["T-2026-000001"]),
    ],
)
def test_raise_accepts_a_link_to_its_source(source: IssueSource, links: list[str]) -> None:
    assert len(raised(source=source, links=links).links) == len(links)


@pytest.mark.parametrize(
    ("source", "links", "message"),
    [
        (IssueSource.RETURN_VISIT, [], "from a return visit must link to the return visit"),
        (IssueSource.COMPLAINT, ["T-2026-000001"], "must link to the complaint it came from"),
        (IssueSource.TICKET, ["V-2026-000001"], r"must link to the ticket .*T-2026-000001"),
    ],
)
def test_raise_needs_a_link_to_its_source(
    source: IssueSource, links: list[str], message: str
) -> None:
    with rejected(message):
        raised(source=source, links=links)


def test_raise_refuses_bad_links() -> None:
    with rejected("'V-2026-12' is not a record number"):
        raised(links=["V-2026-12"])
    with rejected("not to corrective action CA-2026-0001"):
        raised(links=[VISIT, "CA-2026-0001"])
    with rejected(f"return visit {VISIT} is linked twice"):
        raised(links=[VISIT, VISIT])


def test_raise_in_the_future_is_refused() -> None:
    with rejected("is in the future"):
        raised(occurred=6, recorded=0)
    assert raised(occurred=5, recorded=0).occurred_at == at(5)


def test_raise_refuses_a_malformed_number() -> None:
    with pytest.raises(ValueError, match="is not a corrective action number"):
        decide_raise(
            "CA-2026-7",
            stamp(0),
            content="x",
            source=IssueSource.INTERNAL_AUDIT,
            department="质量部",
        )


# --------------------------------------------------------------------------- the seven boxes


def test_the_seven_boxes_in_order() -> None:
    a = Action()

    analysed = a.do(decide_analyse, 60, "作业员未按规范设置坐标系", actor="测绘一部-陈")
    assert type(analysed) is CauseAnalysed and analysed.cause == "作业员未按规范设置坐标系"
    assert a.stage() is ActionStage.ANALYSED and a.state.cause == analysed.cause

    planned = a.do(decide_plan, 120, **PLAN)
    assert type(planned) is ActionPlanned
    assert (planned.due_on, planned.time_zone, planned.responsible) == (
        date(2026, 10, 31),
        SHANGHAI,
        "王工",
    )
    plan = a.state.plan
    assert plan is not None
    assert (plan.corrective, plan.preventive) == (PLAN["corrective"], PLAN["preventive"])
    assert plan.planned_at == at(120)
    assert plan.due_by == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    assert a.stage() is ActionStage.PLANNED and a.state.plans == 1

    implemented = a.do(decide_implement, 180, "已重新出图并交付")
    assert type(implemented) is ActionImplemented
    assert (a.state.implementation, a.state.implemented_at) == ("已重新出图并交付", at(180))
    assert a.stage() is ActionStage.IMPLEMENTED

    result = a.do(decide_record_result, 240, "客户确认图件无误")
    assert type(result) is ResultRecorded
    assert (a.state.result, a.state.result_recorded_at) == ("客户确认图件无误", at(240))
    assert a.stage() is ActionStage.RESULT_RECORDED

    verified = a.do(
        decide_verify, 300, effective=True, comment="有效", role=Role.QUALITY, actor="质量部-周"
    )
    assert type(verified) is EffectivenessVerified and verified.effective is True
    assert a.stage() is ActionStage.VERIFIED
    (v,) = a.state.verifications
    assert (v.effective, v.comment, v.verifier, v.role, v.verified_at) == (
        True,
        "有效",
        "质量部-周",
        Role.QUALITY,
        at(300),
    )

    closed = a.do(decide_close, 360, "归档")
    assert type(closed) is ActionClosed and closed.note == "归档"
    assert a.stage() is ActionStage.CLOSED and a.state.closed_at == at(360)
    assert not a.state.is_open
    assert a.state.version == 7
    assert a.replayed() == a.state == project_action(None, a.events)


def test_a_whole_card_is_stored_and_replayed() -> None:
    a = Action().not_effective().closed(700)
    assert a.state.plans == 2
    a.check_storage_and_dispatch(ActionEvent)


def test_not_effective_sends_the_action_back_to_planning() -> None:
    a = Action().not_effective()
    assert a.stage() is ActionStage.NOT_EFFECTIVE
    assert a.state.is_open
    a.refuse(
        r"is not effective: cannot record the implementation \(next: plan a new",
        decide_implement,
        310,
        "x",
    )
    a.refuse("is not effective: cannot close it", decide_close, 310)

    a.planned(400, due_on=date(2026, 11, 30), corrective="换人复核")
    assert a.stage() is ActionStage.PLANNED and a.state.plans == 2
    assert a.state.implementation is None and a.state.result is None
    assert a.state.plan is not None and a.state.plan.corrective == "换人复核"
    a.implemented(460).result_recorded(520)
    a.do(decide_verify, 580, effective=True, comment="有效", role=Role.QUALITY)
    a.do(decide_close, 600)
    assert [v.effective for v in a.state.verifications] == [False, True]
    assert a.stage() is ActionStage.CLOSED
    assert a.replayed() == a.state


def test_a_plan_after_a_failed_verification_may_not_precede_it() -> None:
    a = Action().not_effective()
    a.refuse(r"is before the verification \(2026-10-08T06:00:00\+00:00\)", decide_plan, 299, **PLAN)


# --------------------------------------------------------------------------- order


def _reach(stage: ActionStage) -> Action:
    a = Action()
    steps: dict[ActionStage, Callable[[], Any]] = {
        ActionStage.RAISED: lambda: None,
        ActionStage.ANALYSED: a.analysed,
        ActionStage.PLANNED: a.planned,
        ActionStage.IMPLEMENTED: a.implemented,
        ActionStage.RESULT_RECORDED: a.result_recorded,
        ActionStage.VERIFIED: a.verified,
        ActionStage.NOT_EFFECTIVE: a.not_effective,
        ActionStage.CLOSED: a.closed,
    }
    steps[stage]()
    assert a.stage() is stage
    return a


COMMANDS: dict[str, tuple[Callable[..., ActionEvent], dict[str, Any]]] = {
    "analyse": (decide_analyse, {"cause": "原因"}),
    "plan": (decide_plan, PLAN),
    "implement": (decide_implement, {"description": "已实施"}),
    "record_result": (decide_record_result, {"result": "结果"}),
    "verify": (decide_verify, {"effective": True, "comment": "有效"}),
    "close": (decide_close, {}),
}
ALLOWED = {
    ActionStage.RAISED: {"analyse"},
    ActionStage.ANALYSED: {"plan"},
    ActionStage.PLANNED: {"implement"},
    ActionStage.IMPLEMENTED: {"record_result"},
    ActionStage.RESULT_RECORDED: {"verify"},
    ActionStage.VERIFIED: {"close"},
    ActionStage.NOT_EFFECTIVE: {"plan"},
    ActionStage.CLOSED: set(),
}


@pytest.mark.parametrize("stage", list(ActionStage))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_box_only_follows_the_one_before(stage: ActionStage, command: str) -> None:
    a = _reach(stage)
    decide, kwargs = COMMANDS[command]
    if command in ALLOWED[stage]:
        e = a.do(decide, 1000, role=Role.CHIEF_ENGINEER_OFFICE, **kwargs)
        assert e.originator_version == len(a.events)
        return
    message = a.refuse(
        f"corrective action {NUMBER} is {stage.value.replace('_', ' ')}: cannot ",
        decide,
        1000,
        role=Role.CHIEF_ENGINEER_OFFICE,
        **kwargs,
    )
    if stage is ActionStage.CLOSED:
        assert "next" not in message
    else:
        assert message.endswith(f"(next: {NEXT_STEP[stage]})")


def test_the_rejection_names_what_is_missing() -> None:
    a = Action()
    a.refuse(
        r"^corrective action CA-2026-0007 is raised: cannot plan the action "
        r"\(next: analyse its cause\)$",
        decide_plan,
        10,
        **PLAN,
    )
    a.analysed()
    a.refuse(
        r"is analysed: cannot verify its effectiveness \(next: plan the action\)$",
        decide_verify,
        70,
        effective=True,
        comment="x",
    )


@pytest.mark.parametrize(
    ("stage", "command", "previous"),
    [
        (ActionStage.RAISED, "analyse", "the quality issue"),
        (ActionStage.ANALYSED, "plan", "the analysis"),
        (ActionStage.PLANNED, "implement", "the plan"),
        (ActionStage.IMPLEMENTED, "record_result", "the implementation"),
        (ActionStage.RESULT_RECORDED, "verify", "the result"),
        (ActionStage.VERIFIED, "close", "the verification"),
    ],
)
def test_no_box_is_dated_before_the_one_before(
    stage: ActionStage, command: str, previous: str
) -> None:
    a = _reach(stage)
    decide, kwargs = COMMANDS[command]
    a.refuse_before(decide, a.state.last_step_at, previous, role=Role.QUALITY, **kwargs)


@pytest.mark.parametrize("command", ["analyse", "close"])
def test_a_box_in_the_future_is_refused(command: str) -> None:
    a = _reach(ActionStage.RAISED if command == "analyse" else ActionStage.VERIFIED)
    decide, kwargs = COMMANDS[command]
    a.refuse("is in the future", decide, 1006, recorded=1000, **kwargs)
    a.do(decide, 1005, recorded=1000, **kwargs)


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize("role", [r for r in Role if r not in VERIFIERS])
def test_only_the_chief_engineer_office_or_quality_may_verify(role: Role) -> None:
    a = _reach(ActionStage.RESULT_RECORDED)
    message = a.refuse(
        "may not verify",
        decide_verify,
        500,
        effective=True,
        comment="有效",
        role=role,
    )
    assert message == (
        f"role {role.value} may not verify the effectiveness of corrective action {NUMBER}: "
        "only chief_engineer_office or quality may"
    )


@pytest.mark.parametrize("role", VERIFIERS)
@pytest.mark.parametrize("effective", [True, False])
def test_the_verifiers_may_verify(role: Role, effective: bool) -> None:
    a = _reach(ActionStage.RESULT_RECORDED)
    e = a.do(decide_verify, 500, effective=effective, comment="结论", role=role)
    assert (e.role, e.effective) == (role, effective)


def test_the_role_is_checked_before_the_order() -> None:
    a = Action()
    a.refuse(
        "role engineer may not verify",
        decide_verify,
        10,
        effective=True,
        comment="x",
        role=Role.ENGINEER,
    )


def test_other_boxes_take_any_role() -> None:
    a = Action()
    a.do(decide_analyse, 10, "原因", role=Role.ENGINEER)
    a.do(decide_plan, 20, role=Role.DEPARTMENT_MANAGER, **PLAN)
    a.do(decide_implement, 30, "实施", role=Role.ENGINEER)
    a.do(decide_record_result, 40, "结果", role=Role.ENGINEER)
    a.do(decide_verify, 50, effective=True, comment="有效", role=Role.CHIEF_ENGINEER_OFFICE)
    a.do(decide_close, 60, role=Role.ADMIN)
    assert a.stage() is ActionStage.CLOSED


# --------------------------------------------------------------------------- due dates


def test_due_by_is_the_end_of_the_local_day() -> None:
    assert due_by(date(2026, 10, 31), SHANGHAI) == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert due_by(date(2026, 10, 31), "UTC") == datetime(2026, 11, 1, tzinfo=UTC)
    # New York leaves daylight saving time on 1 November 2026
    assert due_by(date(2026, 10, 31), "America/New_York") == datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert due_by(date(2026, 11, 1), "America/New_York") == datetime(2026, 11, 2, 5, tzinfo=UTC)


def test_an_action_is_overdue_only_while_its_plan_is_not_implemented() -> None:
    a = Action().planned(due_on=date(2026, 10, 9))
    deadline = datetime(2026, 10, 9, 16, tzinfo=UTC)  # 2026-10-10 00:00 in Shanghai
    assert not a.state.is_overdue(deadline - timedelta(seconds=1))
    assert a.state.is_overdue(deadline)
    assert a.state.is_overdue(deadline.astimezone(ZoneInfo(SHANGHAI)))
    a.do(decide_implement, 10**5, "迟了")  # implemented late
    assert not a.state.is_overdue(deadline + timedelta(days=30))


@pytest.mark.parametrize("stage", [s for s in ActionStage if s is not ActionStage.PLANNED])
def test_an_action_not_waiting_for_its_implementation_is_never_overdue(
    stage: ActionStage,
) -> None:
    assert not _reach(stage).state.is_overdue(datetime(2100, 1, 1, tzinfo=UTC))


def test_the_due_date_may_not_be_before_the_day_of_the_plan() -> None:
    # T0 + 16 h = 2026-10-09 01:00 in Shanghai, still 2026-10-08 in UTC.
    a = Action().analysed()
    a.refuse(
        r"due date 2026-10-08 is before the plan \(2026-10-09 in Asia/Shanghai\)",
        decide_plan,
        16 * 60,
        **{**PLAN, "due_on": date(2026, 10, 8)},
    )
    e = a.do(decide_plan, 16 * 60, **{**PLAN, "due_on": date(2026, 10, 8), "time_zone": "UTC"})
    assert e.due_on == date(2026, 10, 8)


def test_the_due_date_may_be_the_day_of_the_plan() -> None:
    a = Action().planned(due_on=date(2026, 10, 8))
    assert a.state.plan is not None and a.state.plan.due_by == datetime(2026, 10, 8, 16, tzinfo=UTC)


def test_a_plan_needs_a_real_time_zone() -> None:
    a = Action().analysed()
    with pytest.raises(ValidationError, match="is not a time zone"):
        a.do(decide_plan, 120, **{**PLAN, "time_zone": "Mars/Olympus"})


# --------------------------------------------------------------------------- properties
#
# Random command sequences against one action (the harness is in tests/histories.py): every
# accepted sequence follows the card's grammar and folds to the stage its last event names;
# a rejected command records nothing and leaves the state as it was.

ZONES = ["Asia/Shanghai", "UTC", "America/New_York"]


def due_in(days: int, zone: str) -> Callable[[Stamp], date]:
    """A due date ``days`` after the plan's local day (decided when the stamp is known)."""
    return lambda when: when.occurred_at.astimezone(ZoneInfo(zone)).date() + timedelta(days)


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    zone = draw(st.sampled_from(ZONES))
    return {
        "corrective": draw(WORDS),
        "preventive": draw(WORDS),
        "responsible": draw(st.sampled_from(["王工", "李娜"])),
        "due_on": due_in(draw(st.sampled_from([0, 1, 7, 30, -1])), zone),
        "time_zone": zone,
    }


ARGUMENTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "analyse": st.fixed_dictionaries({"cause": WORDS}),
    "plan": plans(),
    "implement": st.fixed_dictionaries({"description": WORDS}),
    "record_result": st.fixed_dictionaries({"result": WORDS}),
    "verify": st.fixed_dictionaries({"effective": st.booleans(), "comment": WORDS}),
    "close": st.fixed_dictionaries({"note": st.sampled_from([None, "归档"])}),
}
DECIDERS = {name: decide for name, (decide, _) in COMMANDS.items()}
# A verification is mostly made by a verifier, sometimes by a role that may not verify.
ROLES = {"verify": [*VERIFIERS * 4, *Role]}
WAITS_FOR = {stage: next(iter(names), None) for stage, names in ALLOWED.items()}


@functools.cache
def commands(plausible: str | None) -> st.SearchStrategy[Command]:
    """Half the time the command the action waits for, otherwise any."""
    names = [*COMMANDS, *([plausible] * len(COMMANDS) if plausible else [])]
    return command_strategy(names, ARGUMENTS, ROLES)


def generate(data: st.DataObject) -> Run[CorrectiveAction]:
    r = Run(raised(), mutate, DECIDERS)
    for _ in range(data.draw(st.integers(0, 40), label="commands")):
        r.step(data.draw(commands(WAITS_FOR[r.state.stage])))
    return r


LETTERS = {
    QualityIssueRaised: "R",
    CauseAnalysed: "A",
    ActionPlanned: "P",
    ActionImplemented: "I",
    ResultRecorded: "X",
    ActionClosed: "C",
}
# The card's grammar: raise, analyse, then plan-implement-result-verification cycles, the
# failed ones (N) sending it back to a new plan, and after an effective one (Y) the close.
GRAMMAR = re.compile(r"R(A(PIXN)*(P(I(X(YC?)?)?)?)?)?")
STAGE_OF_LAST = {
    "R": ActionStage.RAISED,
    "A": ActionStage.ANALYSED,
    "P": ActionStage.PLANNED,
    "I": ActionStage.IMPLEMENTED,
    "X": ActionStage.RESULT_RECORDED,
    "Y": ActionStage.VERIFIED,
    "N": ActionStage.NOT_EFFECTIVE,
    "C": ActionStage.CLOSED,
}


def word(r: Run[CorrectiveAction]) -> str:
    def letter(e: DomainEvent) -> str:
        if isinstance(e, EffectivenessVerified):
            return "Y" if e.effective else "N"
        return LETTERS[type(e)]

    return "".join(letter(e) for e in r.events)


def check(r: Run[CorrectiveAction]) -> None:
    r.check_common()
    w, a = word(r), r.state
    assert GRAMMAR.fullmatch(w), w
    assert a.stage is STAGE_OF_LAST[w[-1]], (w, a.stage)
    # verifications by the allowed roles only; plans due no earlier than their day
    for e in r.events:
        if isinstance(e, EffectivenessVerified):
            assert e.role in VERIFIERS
        if isinstance(e, ActionPlanned):
            assert e.due_on >= e.occurred_at.astimezone(ZoneInfo(e.time_zone)).date()
    # the state, from the events alone
    assert a.plans == w.count("P")
    assert [v.effective for v in a.verifications] == [
        e.effective for e in r.events if isinstance(e, EffectivenessVerified)
    ]
    assert (a.implementation is not None) == (w.rfind("I") > w.rfind("P"))
    assert a.last_step_at == r.events[-1].occurred_at
    assert a.is_overdue(r.now + timedelta(days=400)) == (a.stage is ActionStage.PLANNED)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_command_sequence_keeps_the_card_in_order(data: st.DataObject) -> None:
    r = generate(data)
    check(r)
    event(f"stage {r.state.stage.value}")


def test_the_generator_reaches_the_interesting_histories() -> None:
    """Guard against a generator that never closes, never re-plans, or never meets a rule."""
    stages: set[ActionStage] = set()
    reasons: set[str] = set()
    replanned_and_closed = False

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(data=st.data())
    def explore(data: st.DataObject) -> None:
        nonlocal replanned_and_closed
        r = generate(data)
        w = word(r)
        stages.update(STAGE_OF_LAST[c] for c in w)
        reasons.update(key for why in r.rejected for key in REASONS if key in why)
        replanned_and_closed |= "N" in w and w.endswith("C")

    explore()
    assert stages == set(ActionStage)
    assert reasons == set(REASONS)
    assert replanned_and_closed


REASONS = ["may not verify", "is before", "in the future", ": cannot", "due date"]
