"""The ReturnVisit aggregate (回访): order rules, role rules, the satisfaction arithmetic and
bands, and a property test over random command sequences.

Times are minutes after ``T0`` (tests/histories.py): 2026-10-08 09:00 in Shanghai.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import uuid5

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ledger.domain.evidence import EvidenceFacts
from ledger.domain.model import DomainEvent
from ledger.domain.numbering import NAMESPACE, Series, ticket_id_for
from ledger.domain.return_visit import (
    AUDITORS,
    CHIEF_ENGINEER,
    VISIT_EVENT_TYPES,
    AuditFailed,
    AuditPassed,
    ChiefEngineerReviewed,
    CorrectiveActionLinked,
    EvidenceAttached,
    ManagerReviewed,
    ReturnVisit,
    SatisfactionScored,
    VisitCancelled,
    VisitConducted,
    VisitCustomerSigned,
    VisitEvent,
    VisitForm,
    VisitPurpose,
    VisitScheduled,
    VisitStatus,
    decide_attach,
    decide_audit_fail,
    decide_audit_pass,
    decide_cancel,
    decide_chief_engineer_review,
    decide_conduct,
    decide_link_action,
    decide_manager_review,
    decide_schedule,
    decide_score,
    decide_sign,
    mutate,
    project_visit,
)
from ledger.domain.satisfaction import (
    SatisfactionBand,
    SatisfactionScores,
    satisfaction_band,
    satisfaction_total,
)
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

NUMBER = "V-2026-000012"
VISIT_ID = Series.VISIT.id_for(NUMBER)
TICKET = "T-2026-000123"
SCORES: dict[str, Any] = {
    "engineering_quality": 90,
    "progress": 85,
    "service": 95,
    "performance_capability": 80,
}


def scheduled(
    occurred: float = 0, recorded: float | None = None, **overrides: Any
) -> VisitScheduled:
    fields: dict[str, Any] = {
        "customer": "郑州市自然资源局",
        "contract_id": "seed-000",
        "form": VisitForm.ON_SITE,
        "planned_at": at(24 * 60),
        "visitor": "质量部-周",
    }
    fields.update(overrides)
    return decide_schedule(NUMBER, stamp(occurred, recorded), **fields)


class Visit(History[ReturnVisit]):
    def __init__(self, **overrides: Any) -> None:
        super().__init__(scheduled(**overrides), mutate)

    def status(self) -> VisitStatus:
        """A call, not a property: mypy would keep narrowing ``status`` across ``do``."""
        return self.state.status

    def conducted(self, minute: float = 60) -> Visit:
        self.do(decide_conduct, minute, "检查成果使用情况", "图件质量良好")
        return self

    def scored(self, minute: float = 70, **scores: int) -> Visit:
        self.do(decide_score, minute, **{**SCORES, **scores})
        return self

    def manager_reviewed(self, minute: float = 120) -> Visit:
        self.do(decide_manager_review, minute, "同意", role=Role.DEPARTMENT_MANAGER)
        return self

    def cancelled(self, minute: float = 30) -> Visit:
        self.do(decide_cancel, minute, "客户改期")
        return self


def audit_visit() -> Visit:
    return Visit(ticket_number=TICKET, form=VisitForm.PHONE)


# --------------------------------------------------------------------------- schedule


def test_schedule_records_every_field_and_starts_the_visit() -> None:
    e = scheduled(occurred=-10, recorded=0, purpose=VisitPurpose.SATISFACTION_SURVEY)
    assert type(e) is VisitScheduled
    assert (e.originator_id, e.originator_version) == (VISIT_ID, 1)
    assert uuid5(NAMESPACE, "visit:V-2026-000012") == VISIT_ID
    assert (e.occurred_at, e.timestamp) == (at(-10), at(0))
    assert (e.number, e.customer, e.contract_id) == (NUMBER, "郑州市自然资源局", "seed-000")
    assert (e.form, e.planned_at, e.visitor) == (VisitForm.ON_SITE, at(24 * 60), "质量部-周")
    assert e.purpose is VisitPurpose.SATISFACTION_SURVEY
    assert e.ticket_id is None and e.ticket_number is None

    v = mutate(e, None)
    assert (v.id, v.version, v.number) == (VISIT_ID, 1, NUMBER)
    assert v.status is VisitStatus.SCHEDULED
    assert v.scheduled_at == at(-10) and v.planned_at == at(24 * 60)
    assert v.created_on == v.modified_on == at(0)
    assert v.conducted_at is None and v.scores is None and v.audit is None
    assert not v.is_audit and v.corrective_actions == ()


def test_a_visit_for_a_ticket_is_its_audit() -> None:
    e = scheduled(ticket_number=TICKET)
    assert (e.ticket_number, e.ticket_id) == (TICKET, ticket_id_for(TICKET))
    assert e.purpose is VisitPurpose.TICKET_AUDIT
    assert mutate(e, None).is_audit
    assert scheduled(ticket_number=TICKET, purpose=VisitPurpose.TICKET_AUDIT).ticket_id


def test_schedule_refuses_an_audit_without_a_ticket_and_a_ticket_visit_of_another_purpose() -> None:
    with rejected("a ticket audit visit needs the ticket it audits"):
        scheduled(purpose=VisitPurpose.TICKET_AUDIT)
    with rejected(f"a visit for ticket {TICKET} is the audit of its service form, not a "):
        scheduled(ticket_number=TICKET, purpose=VisitPurpose.WEEKLY_CONTACT)


def test_schedule_refuses_a_malformed_ticket_number() -> None:
    with rejected("'T-2026-12' is not a ticket number"):
        scheduled(ticket_number="T-2026-12")


def test_schedule_in_the_future_is_refused_but_a_visit_may_be_planned_for_any_time() -> None:
    with rejected("is in the future"):
        scheduled(occurred=6, recorded=0)
    assert scheduled(planned_at=at(-60 * 24)).planned_at == at(-60 * 24)


def test_schedule_refuses_a_bad_form() -> None:
    with pytest.raises(ValidationError, match="form"):
        scheduled(form="letter")


# --------------------------------------------------------------------------- conduct


def test_conduct_records_the_visit() -> None:
    v = Visit()
    e = v.do(decide_conduct, 60, "检查成果使用情况", "图件质量良好", actor="质量部-周")
    assert type(e) is VisitConducted
    assert (e.content, e.customer_opinion) == ("检查成果使用情况", "图件质量良好")
    assert v.status() is VisitStatus.CONDUCTED
    assert (v.state.conducted_at, v.state.content, v.state.customer_opinion) == (
        at(60),
        "检查成果使用情况",
        "图件质量良好",
    )
    assert v.do(decide_score, 61, **SCORES).originator_version == 3


def test_conduct_once_only_and_not_before_the_scheduling() -> None:
    v = Visit()
    v.refuse(r"is before the scheduling \(2026-10-08T01:00:00\+00:00\)", decide_conduct, -1, "x")
    v.conducted()
    v.refuse(
        r"return visit V-2026-000012 was already conducted at 2026-10-08T02:00:00\+00:00",
        decide_conduct,
        90,
        "again",
    )


def test_a_visit_may_be_conducted_before_or_after_its_planned_time() -> None:
    assert Visit(planned_at=at(600)).conducted(60).status() is VisitStatus.CONDUCTED
    assert Visit(planned_at=at(0)).conducted(6000).status() is VisitStatus.CONDUCTED


# --------------------------------------------------------------------------- cancel


def test_cancel_a_scheduled_visit() -> None:
    v = Visit()
    e = v.do(decide_cancel, 30, "客户改期")
    assert type(e) is VisitCancelled and e.reason == "客户改期"
    assert v.status() is VisitStatus.CANCELLED
    assert (v.state.cancelled_at, v.state.cancel_reason) == (at(30), "客户改期")
    v.refuse("return visit V-2026-000012 is already cancelled", decide_cancel, 40, "again")


def test_a_conducted_visit_cannot_be_cancelled() -> None:
    v = Visit().conducted()
    v.refuse("a visit that took place cannot be cancelled", decide_cancel, 90, "x")


def test_cancel_not_before_the_scheduling() -> None:
    Visit().refuse("is before the scheduling", decide_cancel, -5, "x")


AFTER_THE_VISIT: dict[str, tuple[Callable[..., VisitEvent], dict[str, Any], Role]] = {
    "score": (decide_score, SCORES, Role.QUALITY),
    "sign": (decide_sign, {"signer": "客户-赵"}, Role.CUSTOMER),
    "manager_review": (decide_manager_review, {"opinion": "同意"}, Role.DEPARTMENT_MANAGER),
    "chief_review": (
        decide_chief_engineer_review,
        {"opinion": "同意"},
        Role.CHIEF_ENGINEER_OFFICE,
    ),
    "audit_pass": (decide_audit_pass, {"note": "表单完整"}, Role.QUALITY),
    "audit_fail": (decide_audit_fail, {"reason": "缺客户签字"}, Role.QUALITY),
    "link_action": (decide_link_action, {"action_number": "CA-2026-0001"}, Role.QUALITY),
}


@pytest.mark.parametrize("command", [*AFTER_THE_VISIT, "conduct"])
def test_nothing_happens_to_a_cancelled_visit(command: str) -> None:
    v = audit_visit().cancelled()
    if command == "conduct":
        v.refuse("is cancelled: cannot conduct it", decide_conduct, 60, "x")
        return
    decide, kwargs, role = AFTER_THE_VISIT[command]
    v.refuse(f"return visit {NUMBER} is cancelled: cannot ", decide, 60, role=role, **kwargs)


@pytest.mark.parametrize("command", [c for c in AFTER_THE_VISIT if c != "chief_review"])
def test_the_card_is_filled_in_only_after_the_visit(command: str) -> None:
    v = audit_visit()
    decide, kwargs, role = AFTER_THE_VISIT[command]
    v.refuse(
        f"return visit {NUMBER} has not been conducted: cannot .* yet",
        decide,
        30,
        role=role,
        **kwargs,
    )
    v.conducted(60)
    v.refuse_before(decide, at(60), "the visit", role=role, **kwargs)


# --------------------------------------------------------------------------- scores


def test_score_records_the_four_scores_only() -> None:
    v = Visit().conducted()
    e = v.do(decide_score, 70, **SCORES)
    assert type(e) is SatisfactionScored
    assert e.data() == {
        "scores": SCORES,
        "correction_reason": None,
    }
    assert v.state.scores == SatisfactionScores(**SCORES)
    assert (v.state.scored_at, v.state.score_corrections) == (at(70), 0)
    assert v.state.scores.total == Decimal("87.5")
    assert v.state.scores.band is SatisfactionBand.VERY_SATISFIED


def test_a_second_score_is_a_correction_with_a_reason() -> None:
    v = Visit().conducted().scored()
    v.refuse(
        "return visit V-2026-000012 is already scored: a correction needs a reason",
        decide_score,
        80,
        **{**SCORES, "service": 60},
    )
    v.refuse(
        "already has these scores: nothing to correct",
        decide_score,
        80,
        correction_reason="录入错误",
        **SCORES,
    )
    v.refuse(
        r"is before the previous scores \(2026-10-08T02:10:00\+00:00\)",
        decide_score,
        69,
        correction_reason="录入错误",
        **{**SCORES, "service": 60},
    )
    e = v.do(decide_score, 80, correction_reason="录入错误", **{**SCORES, "service": 60})
    assert e.correction_reason == "录入错误"
    assert v.state.scores is not None and v.state.scores.service == 60
    assert (v.state.scored_at, v.state.score_corrections) == (at(80), 1)
    assert v.state.scores.total == Decimal("78.75")
    assert v.state.scores.band is SatisfactionBand.FAIRLY_SATISFIED


def test_a_first_score_is_not_a_correction() -> None:
    v = Visit().conducted()
    v.refuse(
        "has no scores yet: there is nothing to correct",
        decide_score,
        70,
        correction_reason="x",
        **SCORES,
    )


@pytest.mark.parametrize("bad", [-1, 101, 50.5, "80", True, None])
def test_a_score_is_a_whole_number_from_0_to_100(bad: Any) -> None:
    v = Visit().conducted()
    with pytest.raises(ValidationError, match="progress"):
        v.do(decide_score, 70, **{**SCORES, "progress": bad})
    assert v.state.scores is None


# --------------------------------------------------------------------------- satisfaction


@pytest.mark.parametrize(
    ("total", "band", "zh"),
    [
        (0, SatisfactionBand.VERY_DISSATISFIED, "很不满意"),
        (40, SatisfactionBand.VERY_DISSATISFIED, "很不满意"),
        (41, SatisfactionBand.DISSATISFIED, "不太满意"),
        (60, SatisfactionBand.DISSATISFIED, "不太满意"),
        (61, SatisfactionBand.FAIRLY_SATISFIED, "较满意"),
        (80, SatisfactionBand.FAIRLY_SATISFIED, "较满意"),
        (81, SatisfactionBand.VERY_SATISFIED, "很满意"),
        (100, SatisfactionBand.VERY_SATISFIED, "很满意"),
    ],
)
def test_band_edges(total: int, band: SatisfactionBand, zh: str) -> None:
    assert satisfaction_band(total) is band
    assert satisfaction_band(Decimal(total)) is band
    assert band.zh == zh
    assert band.lowest <= total <= band.highest


@pytest.mark.parametrize(
    ("total", "band"),
    [
        ("40.25", SatisfactionBand.VERY_DISSATISFIED),
        ("40.5", SatisfactionBand.DISSATISFIED),  # rounded half up to 41
        ("40.75", SatisfactionBand.DISSATISFIED),
        ("60.25", SatisfactionBand.DISSATISFIED),
        ("60.5", SatisfactionBand.FAIRLY_SATISFIED),
        ("80.25", SatisfactionBand.FAIRLY_SATISFIED),
        ("80.5", SatisfactionBand.VERY_SATISFIED),
        ("99.75", SatisfactionBand.VERY_SATISFIED),
        ("0.25", SatisfactionBand.VERY_DISSATISFIED),
    ],
)
def test_a_fractional_total_is_rounded_half_up(total: str, band: SatisfactionBand) -> None:
    assert satisfaction_band(Decimal(total)) is band


def test_the_bands_cover_0_to_100_without_gaps() -> None:
    bands = list(SatisfactionBand)
    assert bands[0].lowest == 0 and bands[-1].highest == 100
    for low, high in itertools.pairwise(bands):
        assert high.lowest == low.highest + 1
    assert [b.en for b in bands] == [
        "very dissatisfied",
        "dissatisfied",
        "fairly satisfied",
        "very satisfied",
    ]


def test_the_total_is_the_exact_mean() -> None:
    assert satisfaction_total(40, 41, 40, 41) == Decimal("40.5")
    assert satisfaction_total(40, 40, 40, 41) == Decimal("40.25")
    assert satisfaction_total(100, 100, 100, 100) == 100
    assert satisfaction_total(0, 0, 0, 1) == Decimal("0.25")
    assert isinstance(satisfaction_total(1, 2, 3, 4), Decimal)
    scores = SatisfactionScores(
        engineering_quality=40, progress=41, service=40, performance_capability=41
    )
    assert (scores.total, scores.band) == (Decimal("40.5"), SatisfactionBand.DISSATISFIED)


@pytest.mark.parametrize("bad", [-1, 101, 50.5, True])
def test_the_total_needs_scores_from_0_to_100(bad: Any) -> None:
    with pytest.raises(ValueError, match="a satisfaction score is a whole number from 0 to 100"):
        satisfaction_total(50, 50, 50, bad)


@pytest.mark.parametrize("bad", [Decimal("-0.75"), Decimal("100.5"), 101, -1])
def test_a_band_needs_a_total_from_0_to_100(bad: Decimal | int) -> None:
    with pytest.raises(ValueError, match="a satisfaction total lies between 0 and 100"):
        satisfaction_band(bad)


@given(scores=st.lists(st.integers(0, 100), min_size=4, max_size=4))
def test_every_four_scores_have_a_total_and_a_band(scores: list[int]) -> None:
    a, b, c, d = scores
    total = satisfaction_total(a, b, c, d)
    assert total * 4 == sum(scores) and 0 <= total <= 100
    band = satisfaction_band(total)
    assert band.lowest - Decimal("0.5") <= total < band.highest + Decimal("0.5")


# --------------------------------------------------------------------------- signature


def test_the_customer_signs_the_card_once() -> None:
    v = Visit().conducted()
    e = v.do(decide_sign, 65, "客户-赵", role=Role.CUSTOMER)
    assert type(e) is VisitCustomerSigned and e.signer == "客户-赵"
    assert (v.state.signer, v.state.signed_at) == ("客户-赵", at(65))
    v.refuse(r"already has the customer's signature \(客户-赵\)", decide_sign, 66, "客户-钱")


# --------------------------------------------------------------------------- reviews


def test_the_project_manager_then_the_chief_engineer_office_review() -> None:
    v = Visit().conducted()
    e = v.do(decide_manager_review, 120, "同意", actor="项目经理-孙", role=Role.DEPARTMENT_MANAGER)
    assert type(e) is ManagerReviewed and e.opinion == "同意"
    assert v.state.manager_review is not None
    assert (v.state.manager_review.reviewer, v.state.manager_review.reviewed_at) == (
        "项目经理-孙",
        at(120),
    )
    v.refuse("already has the project manager's opinion", decide_manager_review, 121, "再议")

    chief = v.do(
        decide_chief_engineer_review,
        180,
        "持续关注",
        actor="总工办-刘",
        role=Role.CHIEF_ENGINEER_OFFICE,
    )
    assert type(chief) is ChiefEngineerReviewed and chief.opinion == "持续关注"
    assert v.state.chief_engineer_review is not None
    assert v.state.chief_engineer_review.reviewer == "总工办-刘"
    v.refuse(
        "already has 总工办's opinion",
        decide_chief_engineer_review,
        181,
        "x",
        role=Role.CHIEF_ENGINEER_OFFICE,
    )
    assert v.replayed() == v.state == project_visit(None, v.events)


def test_the_chief_engineer_office_reviews_after_the_project_manager() -> None:
    v = Visit().conducted()
    v.refuse(
        "has no project manager's opinion yet: 总工办 reviews after the project manager",
        decide_chief_engineer_review,
        90,
        "x",
        role=Role.CHIEF_ENGINEER_OFFICE,
    )
    v.manager_reviewed(120)
    v.refuse(
        r"is before the project manager's review \(2026-10-08T03:00:00\+00:00\)",
        decide_chief_engineer_review,
        119,
        "x",
        role=Role.CHIEF_ENGINEER_OFFICE,
    )


@pytest.mark.parametrize("role", [r for r in Role if r not in CHIEF_ENGINEER])
def test_only_the_chief_engineer_office_gives_its_opinion(role: Role) -> None:
    v = Visit().conducted().manager_reviewed()
    message = v.refuse("may not", decide_chief_engineer_review, 180, "x", role=role)
    assert message == (
        f"role {role.value} may not give 总工办's opinion on return visit {NUMBER}: "
        "only chief_engineer_office may"
    )


def test_the_manager_review_and_signature_may_come_in_any_order() -> None:
    v = Visit().conducted().manager_reviewed(70)
    v.do(decide_sign, 80, "客户-赵")
    v.do(decide_score, 90, **SCORES)
    assert v.state.version == 5


# --------------------------------------------------------------------------- audit


def test_the_quality_department_passes_an_audit() -> None:
    v = audit_visit().conducted()
    e = v.do(decide_audit_pass, 90, "表单完整", actor="质量部-周")
    assert type(e) is AuditPassed and e.note == "表单完整"
    assert v.state.audit is not None
    assert (v.state.audit.passed, v.state.audit.comment, v.state.audit.auditor) == (
        True,
        "表单完整",
        "质量部-周",
    )
    v.refuse("already passed its audit", decide_audit_pass, 91)
    v.refuse("already passed its audit", decide_audit_fail, 91, "x")


def test_the_quality_department_fails_an_audit() -> None:
    v = audit_visit().conducted()
    e = v.do(decide_audit_fail, 90, "服务单无客户签字")
    assert type(e) is AuditFailed and e.reason == "服务单无客户签字"
    assert v.state.audit is not None
    assert (v.state.audit.passed, v.state.audit.comment, v.state.audit.audited_at) == (
        False,
        "服务单无客户签字",
        at(90),
    )
    v.refuse("already failed its audit", decide_audit_pass, 91)
    v.refuse("already failed its audit", decide_audit_fail, 91, "x")


def test_only_a_visit_for_a_ticket_is_audited() -> None:
    v = Visit().conducted()
    v.refuse(
        "is not attached to a ticket: there is no service form to audit", decide_audit_pass, 90
    )
    v.refuse("is not attached to a ticket", decide_audit_fail, 90, "x")


@pytest.mark.parametrize("role", [r for r in Role if r not in AUDITORS])
@pytest.mark.parametrize("decide", [decide_audit_pass, decide_audit_fail])
def test_only_the_quality_department_audits(role: Role, decide: Callable[..., VisitEvent]) -> None:
    v = audit_visit().conducted()
    args = () if decide is decide_audit_pass else ("x",)
    message = v.refuse("may not", decide, 90, *args, role=role)
    assert message == f"role {role.value} may not audit return visit {NUMBER}: only quality may"


# --------------------------------------------------------------------------- corrective actions


def test_a_quality_problem_found_on_the_visit_links_a_corrective_action() -> None:
    v = Visit().conducted()
    e = v.do(decide_link_action, 90, "CA-2026-0001")
    assert type(e) is CorrectiveActionLinked
    assert (e.action_number, e.action_id) == (
        "CA-2026-0001",
        Series.CORRECTIVE_ACTION.id_for("CA-2026-0001"),
    )
    v.do(decide_link_action, 91, "CA-2026-0002")
    assert [a.number for a in v.state.corrective_actions] == ["CA-2026-0001", "CA-2026-0002"]
    v.refuse(
        "return visit V-2026-000012 is already linked to corrective action CA-2026-0001",
        decide_link_action,
        92,
        "CA-2026-0001",
    )
    v.refuse(
        "'C-2026-0001' is not a corrective action number", decide_link_action, 92, "C-2026-0001"
    )
    assert v.replayed() == v.state


def test_a_whole_card_is_stored_and_replayed() -> None:
    v = audit_visit().conducted().scored().manager_reviewed()
    v.do(decide_score, 130, correction_reason="录入错误", **{**SCORES, "progress": 40})
    v.do(decide_sign, 140, "客户-赵")
    v.do(decide_chief_engineer_review, 150, "同意", role=Role.CHIEF_ENGINEER_OFFICE)
    v.do(decide_audit_fail, 160, "服务单无客户签字")
    v.do(decide_link_action, 170, "CA-2026-0001")
    v.check_storage_and_dispatch(VisitEvent)


# --------------------------------------------------------------------------- properties
#
# Random command sequences against one visit (the harness is in tests/histories.py).

DECIDERS: dict[str, Callable[..., VisitEvent]] = {
    "conduct": decide_conduct,
    "score": decide_score,
    "sign": decide_sign,
    "manager_review": decide_manager_review,
    "chief_review": decide_chief_engineer_review,
    "audit_pass": decide_audit_pass,
    "audit_fail": decide_audit_fail,
    "cancel": decide_cancel,
    "link_action": decide_link_action,
    "attach": lambda visit, stamp, sha256: decide_attach(
        visit,
        stamp,
        EvidenceFacts(
            sha256=sha256, size=10, media_type="image/png", file_name="卡.png", kind="signed-form"
        ),
    ),
}
score = st.sampled_from([0, 40, 41, 60, 61, 80, 81, 100])
ARGUMENTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "conduct": st.fixed_dictionaries(
        {"content": WORDS, "customer_opinion": st.sampled_from([None, "满意"])}
    ),
    "score": st.fixed_dictionaries(
        {
            "engineering_quality": score,
            "progress": score,
            "service": score,
            "performance_capability": score,
            "correction_reason": st.sampled_from([None, None, "录入错误"]),
        }
    ),
    "sign": st.fixed_dictionaries({"signer": st.sampled_from(["客户-赵", "客户-钱"])}),
    "manager_review": st.fixed_dictionaries({"opinion": WORDS}),
    "chief_review": st.fixed_dictionaries({"opinion": WORDS}),
    "audit_pass": st.fixed_dictionaries({"note": st.sampled_from([None, "完整"])}),
    "audit_fail": st.fixed_dictionaries({"reason": WORDS}),
    "cancel": st.fixed_dictionaries({"reason": WORDS}),
    "link_action": st.fixed_dictionaries(
        {"action_number": st.sampled_from(["CA-2026-0001", "CA-2026-0002"])}
    ),
    "attach": st.fixed_dictionaries({"sha256": st.sampled_from(["a" * 64, "b" * 64])}),
}
ROLES = {
    "chief_review": [*CHIEF_ENGINEER * 6, *Role],
    "audit_pass": [*AUDITORS * 6, *Role],
    "audit_fail": [*AUDITORS * 6, *Role],
}
# cancel ends a visit, so it is drawn rarely; until the visit took place, conduct (and
# cancel) more often
NAMES = [n for n in DECIDERS if n != "cancel"] * 3 + ["cancel"]
AFTER_CONDUCT = tuple(
    t
    for t in VISIT_EVENT_TYPES
    if t not in (VisitScheduled, VisitConducted, VisitCancelled, EvidenceAttached)
)


@functools.cache
def commands(conducted: bool) -> st.SearchStrategy[Command]:
    return command_strategy(
        NAMES if conducted else [*NAMES, *["conduct"] * 10, *["cancel"] * 3], ARGUMENTS, ROLES
    )


def generate(data: st.DataObject) -> Run[ReturnVisit]:
    first = scheduled(ticket_number=data.draw(st.sampled_from([None, TICKET])))
    r = Run(first, mutate, DECIDERS)
    for _ in range(data.draw(st.integers(0, 30), label="commands")):
        r.step(data.draw(commands(r.state.conducted_at is not None)))
    return r


def check(r: Run[ReturnVisit]) -> None:
    r.check_common(in_order=False)  # the card's boxes after the visit come in any order
    kinds = [type(e) for e in r.events]
    v = r.state
    if VisitCancelled in kinds:
        assert kinds[-1] is VisitCancelled and VisitConducted not in kinds
        assert v.status is VisitStatus.CANCELLED
    else:
        conducted = VisitConducted in kinds
        assert v.status is (VisitStatus.CONDUCTED if conducted else VisitStatus.SCHEDULED)
    assert kinds.count(VisitConducted) <= 1
    last: dict[type[DomainEvent], DomainEvent] = {}
    for e in r.events:
        if isinstance(e, AFTER_CONDUCT):
            assert e.occurred_at >= last[VisitConducted].occurred_at
        if isinstance(e, ChiefEngineerReviewed):
            assert e.occurred_at >= last[ManagerReviewed].occurred_at
        if isinstance(e, SatisfactionScored) and SatisfactionScored in last:
            assert e.occurred_at >= last[SatisfactionScored].occurred_at
        if isinstance(e, VisitConducted | VisitCancelled):
            assert e.occurred_at >= r.events[0].occurred_at
        last[type(e)] = e
    for once in (VisitCustomerSigned, ManagerReviewed, ChiefEngineerReviewed):
        assert kinds.count(once) <= 1
    audits = [e for e in r.events if isinstance(e, AuditPassed | AuditFailed)]
    assert len(audits) <= 1 and (not audits or v.is_audit)
    assert all(e.role is Role.QUALITY for e in audits)
    assert all(
        e.role is Role.CHIEF_ENGINEER_OFFICE
        for e in r.events
        if isinstance(e, ChiefEngineerReviewed)
    )
    scored = [e for e in r.events if isinstance(e, SatisfactionScored)]
    if scored:
        assert scored[0].correction_reason is None
        assert all(e.correction_reason is not None for e in scored[1:])
        assert v.scores == scored[-1].scores and v.score_corrections == len(scored) - 1
    files = [e.sha256 for e in r.events if isinstance(e, EvidenceAttached)]
    assert len(files) == len(set(files)) == len(v.evidence)  # each file once
    links = [e.action_number for e in r.events if isinstance(e, CorrectiveActionLinked)]
    assert len(links) == len(set(links)) == len(v.corrective_actions)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_command_sequence_keeps_the_card_in_order(data: st.DataObject) -> None:
    r = generate(data)
    check(r)
    for e in r.events[1:]:
        event(f"accepted {type(e).__name__}")


def test_the_generator_reaches_every_event() -> None:
    seen: set[str] = set()

    @settings(max_examples=150, deadline=None, database=None, derandomize=True)
    @given(data=st.data())
    def explore(data: st.DataObject) -> None:
        seen.update(type(e).__name__ for e in generate(data).events)

    explore()
    assert seen == {cls.__name__ for cls in VISIT_EVENT_TYPES}
