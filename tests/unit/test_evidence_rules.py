"""The evidence rules (ledger/domain/evidence.py, ticket_rules.decide_attach): what an
``EvidenceAttached`` records, and when attaching is refused, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from ledger.domain import corrective_action as ca
from ledger.domain import ticket as tk
from ledger.domain.errors import RuleViolation
from ledger.domain.evidence import EvidenceFacts, EvidenceKind, decide_attach
from ledger.domain.model import Stamp
from ledger.domain.ticket_rules import decide_attach as decide_ticket_attach
from ledger.domain.values import Category, Channel, Role, Severity

T0 = datetime(2026, 10, 8, 1, 0, tzinfo=UTC)
FACTS = EvidenceFacts(
    sha256="ab" * 32,
    size=1234,
    media_type="application/pdf",
    file_name="服务单.pdf",
    kind=EvidenceKind.SIGNED_FORM,
)


def stamp(minutes: float, role: Role = Role.DISPATCHER, actor: str = "李娜") -> Stamp:
    at = T0 + timedelta(minutes=minutes)
    return Stamp(actor=actor, role=role, occurred_at=at, recorded_at=at)


def ticket(engineer: str | None = "王工") -> tk.Ticket:
    reported = tk.Reported(
        **stamp(0).envelope(uuid4(), 1),
        number="T-2026-000001",
        contract_id="seed-002",
        customer="禹州市公安局",
        contact=tk.Contact(name="张三", phone="13800138001"),
        site="监控中心",
        device="门禁",
        category=Category.DEFECT,
        severity=Severity.GENERAL,
        description="无法开机",
        channel=Channel.PHONE,
    )
    state = tk.mutate(reported, None)
    if engineer is not None:
        dispatched = tk.Dispatched(**stamp(5).envelope(state.id, 2), engineer=engineer)
        state = tk.mutate(dispatched, state)
    return state


def test_an_attachment_is_listed_with_who_and_when() -> None:
    event = decide_ticket_attach(ticket(), stamp(30, Role.ENGINEER, "王工"), FACTS)
    assert type(event) is tk.EvidenceAttached and event.originator_version == 3
    after = tk.mutate(event, ticket())
    (listed,) = after.evidence
    assert (listed.sha256, listed.file_name, listed.kind) == (
        FACTS.sha256,
        "服务单.pdf",
        "signed-form",
    )
    assert (listed.attached_by, listed.role, listed.version) == ("王工", Role.ENGINEER, 3)
    assert event.data() == FACTS.model_dump(mode="json")


def test_refusals() -> None:
    dispatched = ticket()
    with pytest.raises(RuleViolation, match="dispatched to 王工: engineer 赵工 may not attach"):
        decide_ticket_attach(dispatched, stamp(30, Role.ENGINEER, "赵工"), FACTS)
    photo = FACTS.model_copy(update={"kind": EvidenceKind.PHOTO})
    with pytest.raises(RuleViolation, match="a customer attaches only fax, signature, signed-form"):
        decide_ticket_attach(dispatched, stamp(30, Role.CUSTOMER, "张三"), photo)
    decide_ticket_attach(dispatched, stamp(30, Role.CUSTOMER, "张三"), FACTS)  # their form: yes
    with pytest.raises(RuleViolation, match="before the report"):
        decide_ticket_attach(dispatched, stamp(-10), FACTS)
    once = tk.mutate(decide_ticket_attach(dispatched, stamp(30), FACTS), dispatched)
    with pytest.raises(RuleViolation, match=r"already has this file \(服务单.pdf, sha256 ababab"):
        decide_ticket_attach(once, stamp(40), FACTS.model_copy(update={"file_name": "copy.pdf"}))


def test_the_fields_are_checked() -> None:
    for bad in (
        {"sha256": "AB" * 32},  # upper case is not how a hash is recorded
        {"sha256": "ab" * 31},
        {"size": 0},
        {"file_name": "../../etc/passwd"},
        {"file_name": "C:\\scans\\form.pdf"},
        {"kind": "selfie"},
    ):
        with pytest.raises(ValidationError):
            EvidenceFacts.model_validate(FACTS.model_dump() | bad)


def test_a_corrective_action_lists_its_files() -> None:
    raised = ca.decide_raise(
        "CA-2026-0001",
        stamp(0, Role.QUALITY, "周质检"),
        content="签字单不清晰",
        source=ca.IssueSource.INTERNAL_AUDIT,
        department="质量部",
    )
    action = ca.mutate(raised, None)
    event = decide_attach(
        ca.EvidenceAttached,
        action,
        "corrective action CA-2026-0001",
        action.evidence,
        stamp(10, Role.QUALITY, "周质检"),
        FACTS,
        not_before=action.raised_at,
        since="the quality issue",
    )
    assert [e.file_name for e in ca.mutate(event, action).evidence] == ["服务单.pdf"]
