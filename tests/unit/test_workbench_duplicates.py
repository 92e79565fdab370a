"""The intake's duplicates, pure (ledger/workbench/desk.py: duplicates): the open tickets of
the same customer or the same device, the same device first, then the newest."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.domain.model import Stamp
from ledger.domain.numbering import ticket_id_for
from ledger.domain.ticket import Contact, Ticket, mutate
from ledger.domain.ticket_rules import decide_report
from ledger.domain.values import Category, Channel, Role, Severity, TicketStatus
from ledger.workbench.intake import duplicates

NOW = datetime(2026, 10, 8, 1, 0, tzinfo=UTC)


def _reported(number: str, customer: str, device: str, *, is_open: bool = True) -> Ticket:
    stamp = Stamp(actor="李娜", role=Role.DISPATCHER, occurred_at=NOW, recorded_at=NOW)
    reported = decide_report(
        ticket_id_for(number),
        number,
        stamp,
        contract_id="seed-002",
        customer=customer,
        contact=Contact(name="张三", phone="13800138001"),
        site="看守所",
        device=device,
        category=Category.DEFECT,
        severity=Severity.GENERAL,
        description="无法开机",
        channel=Channel.PHONE,
        external_ref=None,
    )
    ticket = mutate(reported, None)
    return ticket if is_open else ticket.model_copy(update={"status": TicketStatus.CLOSED})


def test_duplicates_are_the_open_tickets_of_the_customer_or_device_same_device_first() -> None:
    tickets = [
        _reported("T-2026-000001", "禹州市公安局", "门禁控制器"),
        _reported("T-2026-000002", "看守所", " 门禁控制器 "),
        _reported("T-2026-000003", "禹州市公安局", "摄像机"),
        _reported("T-2026-000004", "禹州市公安局", "门禁控制器", is_open=False),
        _reported("T-2026-000005", "看守所", "摄像机"),
    ]
    found = duplicates(tickets, "禹州市公安局", "门禁控制器")
    assert [(d.number, d.same_device) for d in found] == [
        ("T-2026-000002", True),
        ("T-2026-000001", True),
        ("T-2026-000003", False),
    ]
    assert [d.number for d in duplicates(tickets, " 看守所", "")] == [
        "T-2026-000005",
        "T-2026-000002",
    ]
    assert duplicates(tickets, "其他单位", "交换机") == []
