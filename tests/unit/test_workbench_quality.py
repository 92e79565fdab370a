"""The quality pages' view models (ledger/workbench/quality.py), against hand-computed
numbers and the domain they are taken from."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.commands.registry import COMMANDS
from ledger.domain.corrective_action import ActionStage
from ledger.domain.return_visit import ReturnVisit, Review, VisitForm, VisitStatus
from ledger.domain.satisfaction import SatisfactionBand, satisfaction_band, satisfaction_total
from ledger.workbench.quality import (
    ACTION_BOXES,
    ACTION_STEP,
    FORMS,
    Rejected,
    card_forms,
    command_fields,
    form_view,
    live_total,
    satisfaction_scale,
    visit_steps,
)

SCALE = satisfaction_scale()
AT = datetime(2026, 10, 8, 1, 0, tzinfo=UTC)


def test_the_scale_is_the_seed_forms_bands_as_sums_of_four_scores() -> None:
    # By hand: a total is sum/4, rounded half up; 0–40, 41–60, 61–80, 81–100.
    # Sum 161 = 40.25 → 40 (很不满意); 162 = 40.5 → 41 (不太满意); 241 = 60.25; 242 = 60.5;
    # 321 = 80.25; 322 = 80.5 → 81 (很满意).
    assert SCALE.count == 4 and SCALE.score_max == 100
    assert [(b.band, b.lowest_sum, b.highest_sum) for b in SCALE.bands] == [
        (SatisfactionBand.VERY_DISSATISFIED, 0, 161),
        (SatisfactionBand.DISSATISFIED, 162, 241),
        (SatisfactionBand.FAIRLY_SATISFIED, 242, 321),
        (SatisfactionBand.VERY_SATISFIED, 322, 400),
    ]


def test_the_live_total_of_hand_computed_cards() -> None:
    # docs/quality.md's example: 90, 80, 85, 70 → 325 / 4 = 81.25 → 很满意.
    assert live_total(SCALE, [90, 80, 85, 70]) == (
        Decimal("81.25"),
        SatisfactionBand.VERY_SATISFIED,
    )
    # 40, 41, 40, 40 → 161 / 4 = 40.25 → 40 → 很不满意; one more point: 40.5 → 41 → 不太满意.
    assert live_total(SCALE, [40, 41, 40, 40]) == (
        Decimal("40.25"),
        SatisfactionBand.VERY_DISSATISFIED,
    )
    assert live_total(SCALE, [40, 41, 41, 40]) == (Decimal("40.5"), SatisfactionBand.DISSATISFIED)
    assert live_total(SCALE, [60, 60, 61, 61]) == (
        Decimal("60.5"),
        SatisfactionBand.FAIRLY_SATISFIED,
    )


@given(st.lists(st.integers(0, 100), min_size=4, max_size=4))
def test_the_live_total_always_agrees_with_the_domain(scores: list[int]) -> None:
    total = satisfaction_total(*scores)
    assert live_total(SCALE, scores) == (total, satisfaction_band(total))


def test_the_page_data_names_each_band_in_the_pages_language() -> None:
    zh = SCALE.as_data("zh")
    assert [b["label"] for b in zh] == ["很不满意", "不太满意", "较满意", "很满意"]
    assert zh[1] == {"band": "dissatisfied", "label": "不太满意", "low": 162, "high": 241}
    assert SCALE.as_data("en")[3]["label"] == "very satisfied"


def test_every_form_names_fields_of_its_registry_command() -> None:
    for command, specs in FORMS.items():
        model = COMMANDS[command].model
        for spec in specs:
            assert spec.name in model.model_fields, (command, spec.name)
            if spec.required:
                assert model.model_fields[spec.name].is_required() or command == "visit_audit", (
                    command,
                    spec.name,
                )


def test_typed_values_become_the_commands_fields() -> None:
    assert command_fields(
        "visit_score",
        {
            "engineering_quality": "90",
            "progress": " 80 ",
            "service": "八十",
            "correction_reason": "",
        },
    ) == {"engineering_quality": 90, "progress": 80, "service": "八十"}
    assert command_fields("action_verify", {"effective": "false", "comment": "复查仍有问题"}) == {
        "effective": False,
        "comment": "复查仍有问题",
    }
    assert command_fields(
        "action_raise", {"links": "V-2026-000001，C-2026-0001 T-2026-000003", "source": "complaint"}
    ) == {"source": "complaint", "links": ["V-2026-000001", "C-2026-0001", "T-2026-000003"]}


def _visit(**changes: object) -> ReturnVisit:
    base = ReturnVisit(
        id=__import__("uuid").uuid4(),
        version=1,
        created_on=AT,
        modified_on=AT,
        number="V-2026-000001",
        customer="禹州市公安局",
        contract_id="seed-002",
        ticket_id=None,
        ticket_number=None,
        form=VisitForm.PHONE,
        purpose=None,
        planned_at=AT,
        visitor="周质检",
        status=VisitStatus.SCHEDULED,
        scheduled_at=AT,
    )
    return base.model_copy(update=changes)


def test_a_visit_offers_the_boxes_its_state_allows() -> None:
    assert visit_steps(_visit()) == ["visit_conduct", "visit_cancel"]
    conducted = _visit(status=VisitStatus.CONDUCTED, conducted_at=AT)
    assert visit_steps(conducted) == ["visit_score", "visit_sign", "visit_review"]
    reviewed = conducted.model_copy(
        update={
            "manager_review": Review(opinion="好", reviewer="经理", reviewed_at=AT),
            "signer": "张三",
        }
    )
    assert visit_steps(reviewed) == ["visit_score", "visit_chief_review"]
    audit = conducted.model_copy(
        update={"ticket_id": conducted.id, "ticket_number": "T-2026-000001"}
    )
    assert visit_steps(audit)[-1] == "visit_audit"
    assert visit_steps(_visit(status=VisitStatus.CANCELLED)) == []


def test_an_action_offers_its_next_box_only() -> None:
    assert [ACTION_STEP.get(stage) for stage in ActionStage] == [
        "action_analyse",
        "action_plan",
        "action_implement",
        "action_result",
        "action_verify",
        "action_close",
        "action_plan",
        None,
    ]
    assert ACTION_BOXES[0] == "action_raise" and ACTION_BOXES[-1] == "action_close"


def test_a_refused_form_keeps_what_was_typed_its_key_and_its_errors_by_field() -> None:
    keys = iter(["k1", "k2"])
    fresh = form_view("visit_sign", "/x", lambda: next(keys))
    assert fresh.idempotency_key == "k1" and fresh.field("signer").value == ""
    rejected = Rejected(
        "visit_sign", {"signer": ""}, {"signer": "必填", "at": "时间有误"}, ("已签字",), "k1"
    )
    again = form_view("visit_sign", "/x", lambda: next(keys), rejected=rejected)
    assert again.idempotency_key == "k1"
    assert again.field("signer").error == "必填"
    assert again.errors == ("已签字", "时间有误")
    other = form_view("visit_review", "/y", lambda: next(keys), rejected=rejected)
    assert other.idempotency_key == "k2" and other.errors == ()


def test_forms_the_role_may_not_submit_are_left_out() -> None:
    forms, hidden = card_forms(
        ["visit_score", "visit_chief_review"],
        lambda command: command != "visit_chief_review",
        lambda command: f"/v/{command}",
        lambda: "k",
    )
    assert [f.command for f in forms] == ["visit_score"]
    assert forms[0].action == "/v/visit_score"
    assert hidden == ("visit_chief_review",)


@pytest.mark.parametrize("command", sorted(FORMS))
def test_blank_forms_leave_required_fields_to_the_model(command: str) -> None:
    assert command_fields(command, {}) == {}
