"""Supervision facts on a ticket: inspection and rectification notices (seed 003), the
replacement-unit flag (seed 002/004) and a reopening caused by a failed audit."""

from __future__ import annotations

from ledger.domain.numbering import ticket_id_for
from ledger.domain.ticket import (
    Contact,
    InspectionNoticeIssued,
    Ticket,
    TicketEvent,
    mutate,
)
from ledger.domain.ticket_rules import (
    decide_cancel,
    decide_close,
    decide_flag_replacement,
    decide_inspection_notice,
    decide_rectification_notice,
    decide_reopen,
    decide_replace,
    decide_report,
    decide_resolve,
    decide_respond,
    decide_sign,
)
from ledger.domain.values import Category, Channel, ResolutionMode, Role
from tests.histories import History, at, stamp

DAY = 24 * 60


def ticket() -> History[Ticket]:
    number = "T-2026-000777"
    report = decide_report(
        ticket_id_for(number),
        number,
        stamp(0, role=Role.DISPATCHER),
        contract_id="seed-003",
        customer="某县档案馆",
        contact=Contact(name="张三", phone="13800138001"),
        site="档案馆",
        device="扫描仪",
        category=Category.DEFECT,
        severity="general",
        description="无法开机",
        channel=Channel.PHONE,
    )
    return History(report, mutate)


def test_notices_come_in_order_once_each_from_supervisors_only() -> None:
    history = ticket()
    history.refuse(
        "no inspection notice yet",
        decide_rectification_notice,
        14 * DAY,
        "14 days",
        role=Role.SYSTEM,
    )
    history.refuse(
        "role engineer may not issue an inspection notice: only system or quality or "
        "chief_engineer_office may",
        decide_inspection_notice,
        7 * DAY,
        "7 days",
        role=Role.ENGINEER,
    )
    issued = history.do(decide_inspection_notice, 7 * DAY, "7 days", role=Role.SYSTEM)
    assert isinstance(issued, InspectionNoticeIssued) and issued.threshold == "7 days"
    assert history.state.inspection_notice_at == at(7 * DAY)
    history.refuse("already has an inspection notice", decide_inspection_notice, 8 * DAY, "7 days")
    history.refuse_before(
        decide_rectification_notice, at(7 * DAY), "the inspection notice", threshold="14 days"
    )
    assert history.state.rectification_notice_at == at(7 * DAY)
    history.refuse(
        "already has a rectification notice", decide_rectification_notice, 15 * DAY, "14 days"
    )
    history.check_storage_and_dispatch(TicketEvent)


def test_a_closed_or_cancelled_ticket_gets_no_notice() -> None:
    closed = ticket()
    closed.do(decide_respond, 1, role=Role.DISPATCHER)
    closed.do(decide_resolve, 60, "远程修复", ResolutionMode.REMOTE, role=Role.ENGINEER)
    closed.do(decide_sign, 70, "张三", role=Role.ENGINEER)
    closed.do(decide_close, 80, role=Role.DISPATCHER)
    closed.refuse(
        "is closed: cannot issue an inspection notice", decide_inspection_notice, 7 * DAY, "7 days"
    )
    cancelled = ticket()
    cancelled.do(decide_cancel, 5, "误报", role=Role.DISPATCHER)
    cancelled.refuse("is cancelled", decide_inspection_notice, 7 * DAY, "7 days")


def test_a_replacement_flag_is_raised_once_while_no_unit_and_no_fix() -> None:
    history = ticket()
    history.refuse_before(
        decide_flag_replacement,
        at(480),
        "the replacement's due time",
        target="8h",
        due_at=at(480),
        role=Role.SYSTEM,
    )
    assert history.state.replacement_flagged_at == at(480)
    history.refuse("already flagged", decide_flag_replacement, 500, "8h", at(480), role=Role.SYSTEM)

    provided = ticket()
    provided.do(decide_replace, 300, "备用机", role=Role.ENGINEER)
    provided.refuse("already has a replacement unit", decide_flag_replacement, 480, "8h", at(480))
    fixed = ticket()
    fixed.do(decide_resolve, 300, "远程修复", ResolutionMode.REMOTE, role=Role.ENGINEER)
    fixed.refuse(
        "is resolved: no replacement unit is owed", decide_flag_replacement, 480, "8h", at(480)
    )


def test_a_reopening_names_its_cause() -> None:
    history = ticket()
    history.do(decide_resolve, 60, "远程修复", ResolutionMode.REMOTE, role=Role.ENGINEER)
    reopened = history.do(decide_reopen, 2 * DAY, "回访审核未通过", "V-2026-000003")
    assert reopened.cause == "V-2026-000003"
    assert history.replayed() == history.state
