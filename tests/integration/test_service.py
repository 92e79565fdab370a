"""The application service on real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ledger.commands.application import ConcurrentChange, TicketNotFound
from ledger.commands.models import CommandError
from ledger.commands.registry import parse_command
from ledger.domain.errors import RuleViolation
from ledger.domain.numbering import TicketNumberIssued, sequence_id
from ledger.domain.roles import Forbidden
from ledger.domain.ticket import OutOfContractNoted
from ledger.domain.values import Role, TicketStatus
from ledger.projections.tickets import list_tickets
from tests.support import SHANGHAI, START, Desk, open_desk, run_in_processes


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    d = open_desk(db_url)
    yield d
    d.ledger.close()


def test_full_lifecycle_is_recorded_and_rebuilt(desk: Desk) -> None:
    t = desk.report()
    assert t.number == "T-2026-000001"
    assert t.reported_at == START
    desk.later(4)
    desk.do("respond", ticket=t.number)
    desk.do("dispatch", ticket=t.number, engineer="王工")
    desk.later(18)
    desk.do("arrive", ticket=t.number, actor="王工", role="engineer")
    desk.later(120)
    desk.do("resolve", ticket=t.number, summary="更换电源模块", actor="王工", role="engineer")
    desk.do("sign", ticket=t.number, signer="张三", actor="王工", role="engineer")
    closed = desk.do("close", ticket=t.number)

    assert closed.status is TicketStatus.CLOSED
    assert closed.version == 7
    assert closed.first_arrived_at == START + timedelta(minutes=22)
    assert closed.signature is not None and closed.signature.signer == "张三"
    history = desk.ledger.tickets.history(t.number)
    assert [type(e).__name__ for e in history] == [
        "Reported",
        "Responded",
        "Dispatched",
        "Arrived",
        "Resolved",
        "CustomerSigned",
        "Closed",
    ]
    assert [e.originator_version for e in history] == list(range(1, 8))
    assert history[3].actor == "王工" and history[3].role.value == "engineer"
    assert all(e.occurred_at.tzinfo is not None for e in history)
    # The state at an earlier version is what it was then.
    assert desk.ledger.tickets.get(t.number, version=4).status is TicketStatus.ON_SITE


def test_occurred_at_may_be_given_and_defaults_to_the_clock(desk: Desk) -> None:
    t = desk.report(at="2026-10-08T08:30")  # naive: Shanghai time
    assert t.reported_at.isoformat() == "2026-10-08T00:30:00+00:00"
    history = desk.ledger.tickets.history(t.number)
    assert history[0].recorded_at == START
    desk.later(10)
    responded = desk.do("respond", ticket=t.number)
    assert responded.responded_at == START + timedelta(minutes=10)


def test_ticket_numbers_are_sequential_per_year(desk: Desk) -> None:
    numbers = [desk.report().number for _ in range(3)]
    numbers.append(desk.report(at="2025-12-31T23:59").number)
    numbers.append(desk.report().number)
    assert numbers == [
        "T-2026-000001",
        "T-2026-000002",
        "T-2026-000003",
        "T-2025-000001",
        "T-2026-000004",
    ]
    issued = desk.ledger.app.events.get(sequence_id(2026))
    assert [e.originator_version for e in issued] == [1, 2, 3, 4]
    assert all(isinstance(e, TicketNumberIssued) for e in issued)


def test_a_ticket_is_found_by_number_or_id(desk: Desk) -> None:
    t = desk.report()
    assert desk.ledger.tickets.get(str(t.id)).number == t.number
    assert desk.ledger.tickets.get(t.number.lower()).id == t.id
    with pytest.raises(TicketNotFound, match="no ticket T-2026-000099"):
        desk.ledger.tickets.get("T-2026-000099")
    with pytest.raises(TicketNotFound, match="neither a ticket number"):
        desk.ledger.tickets.get("ticket-1")


def test_rejected_commands_append_nothing(desk: Desk) -> None:
    t = desk.report()
    before = desk.ledger.event_count()
    with pytest.raises(RuleViolation, match="has not been dispatched"):
        desk.do("arrive", ticket=t.number)
    with pytest.raises(RuleViolation, match="not resolved"):
        desk.do("close", ticket=t.number)
    with pytest.raises(RuleViolation, match="before the report"):
        desk.do("respond", ticket=t.number, at="2026-10-08T08:00")
    with pytest.raises(RuleViolation, match="in the future"):
        desk.do("respond", ticket=t.number, at="2026-10-09T08:00")
    with pytest.raises(CommandError, match="severity"):
        desk.report(severity="catastrophic")
    with pytest.raises(TicketNotFound):
        desk.do("respond", ticket="T-2026-000777")
    assert desk.ledger.event_count() == before
    assert desk.ledger.tickets.get(t.number).version == 1


def test_concurrent_writers_on_one_ticket_one_wins(db_url: str) -> None:
    a, b = open_desk(db_url), open_desk(db_url, create=False)
    try:
        t = a.report()
        a.later(3)
        b.later(3)
        plan_a = a.ledger.tickets.plan(
            parse_command(
                {"command": "respond", "ticket": t.number, "actor": "甲", "role": "dispatcher"},
                SHANGHAI,
            )
        )
        plan_b = b.ledger.tickets.plan(
            parse_command(
                {
                    "command": "dispatch",
                    "ticket": t.number,
                    "engineer": "王工",
                    "actor": "乙",
                    "role": "dispatcher",
                },
                SHANGHAI,
            )
        )
        a.ledger.tickets.commit(plan_a)
        before = a.ledger.event_count()
        with pytest.raises(ConcurrentChange, match=f"ticket {t.number} changed concurrently"):
            b.ledger.tickets.commit(plan_b)
        assert a.ledger.event_count() == before
        # Decided afresh, the dispatch is still valid: execute() retries it once.
        dispatched = b.do("dispatch", ticket=t.number, engineer="王工")
        assert dispatched.version == 3
    finally:
        a.ledger.close()
        b.ledger.close()


def test_execute_retries_once_when_the_command_is_still_valid(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = open_desk(db_url), open_desk(db_url, create=False)
    try:
        t = a.report()
        original_plan = a.ledger.tickets.plan
        calls = []

        def plan_then_someone_else_writes(command):  # type: ignore[no-untyped-def]
            events = original_plan(command)
            if not calls:
                b.do("respond", ticket=t.number)  # sneaks in between read and write
            calls.append(command)
            return events

        monkeypatch.setattr(a.ledger.tickets, "plan", plan_then_someone_else_writes)
        result = a.do("dispatch", ticket=t.number, engineer="王工")
        assert len(calls) == 2
        assert result.version == 3
        assert result.responded_at is not None and result.engineer == "王工"
    finally:
        a.ledger.close()
        b.ledger.close()


def _report_many(url: str, count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    desk = open_desk(url, create=False)
    try:
        queue.put([desk.report().number for _ in range(count)])
    finally:
        desk.ledger.close()


def test_ticket_numbers_stay_unique_under_concurrent_processes(db_url: str) -> None:
    open_desk(db_url).ledger.close()
    results = run_in_processes(_report_many, (db_url, 12), 3)
    numbers = sorted(n for batch in results for n in batch)
    assert numbers == [f"T-2026-{i:06d}" for i in range(1, 37)]


def test_ticket_list_projection_follows_and_rebuilds_identically(desk: Desk) -> None:
    first = desk.report(contract="seed-002")
    second = desk.report(contract="seed-004", severity="general")
    desk.do("dispatch", ticket=first.number, engineer="王工")
    desk.do("resolve", ticket=second.number, summary="电话指导", mode="remote")
    desk.do("sign", ticket=second.number, signer="李四")
    desk.do("close", ticket=second.number)
    runner = desk.ledger.projections

    assert runner.catch_up(["tickets"]) == 6
    assert runner.catch_up(["tickets"]) == 0  # nothing new: nothing applied twice

    def rows(**filters: object) -> list[dict[str, object]]:
        with desk.ledger.engine.connect() as conn:
            return list_tickets(conn, **filters)  # type: ignore[arg-type]

    assert [r["number"] for r in rows(state="open")] == [first.number]
    assert [r["number"] for r in rows(state="closed")] == [second.number]
    assert [r["number"] for r in rows(engineer="王工")] == [first.number]
    assert [r["number"] for r in rows(contract="seed-004", state="all")] == [second.number]
    assert rows(state="all", severity="emergency")[0]["status"] == "dispatched"
    live = rows(state="all")
    assert runner.rebuild(["tickets"]) == 6
    assert rows(state="all") == live


def test_a_batch_another_follower_applied_is_not_applied_again(db_url: str) -> None:
    a, b = open_desk(db_url), open_desk(db_url, create=False)
    try:
        a.report()
        a.report()
        assert b.ledger.projections.catch_up(["tickets"]) == 2
        # Follower A read position 0 before B moved it; its batch must be refused whole.
        runner = a.ledger.projections
        projection = runner.projections["tickets"]
        original_position = runner.position
        runner.position = lambda name: 0  # type: ignore[method-assign]
        assert runner._apply_next_batch(projection, 100) is None
        runner.position = original_position  # type: ignore[method-assign]
        assert runner.position("tickets") == b.ledger.app.recorder.max_notification_id()
        with a.ledger.engine.connect() as conn:
            assert len(list_tickets(conn, state="all")) == 2
    finally:
        a.ledger.close()
        b.ledger.close()


SEED_000 = {"contract": "seed-000", "customer": "某市自然资源和规划局"}
"""Seed 000: one year of free service from the acceptance, 2026-03-15 to 2027-03-14."""


def test_a_report_outside_the_warranty_needs_a_contact_sheet_before_dispatch(
    desk: Desk,
) -> None:
    """Issue 13: seed-000's warranty starts 2026-03-15; a fault reported on 2026-02-01 is
    out of contract (seed 003: 工作联系单 with the fee confirmed, then dispatch)."""
    early = desk.report(**SEED_000, at="2026-02-01T10:00")
    assert early.out_of_contract and early.version == 2
    noted = desk.ledger.tickets.history(early.number)[-1]
    assert isinstance(noted, OutOfContractNoted)
    assert (noted.reported_on, noted.warranty_start, noted.warranty_end) == (
        date(2026, 2, 1),
        date(2026, 3, 15),
        date(2027, 3, 14),
    )
    assert (noted.actor, noted.role, noted.occurred_at) == (
        "李娜",
        Role.DISPATCHER,
        early.reported_at,
    )
    with pytest.raises(RuleViolation, match="is out of contract: record its work contact sheet"):
        desk.do("dispatch", ticket=early.number, engineer="王工")
    sheet = {"sheet": "LXD-2026-001", "fee": "800", "confirmed_by": "张三"}
    with pytest.raises(Forbidden, match="contact_sheet needs role dispatcher, "):
        desk.do("contact_sheet", ticket=early.number, **sheet, actor="王工", role="engineer")
    signed = desk.do("contact_sheet", ticket=early.number, **sheet)
    assert signed.contact_sheet is not None
    assert (signed.contact_sheet.sheet, signed.contact_sheet.fee) == ("LXD-2026-001", Decimal(800))
    assert desk.do("dispatch", ticket=early.number, engineer="王工").engineer == "王工"

    # within the warranty: nothing noted, no sheet needed; after its last day: out again
    inside = desk.report(**SEED_000, at="2026-03-15T08:00")
    assert not inside.out_of_contract and inside.version == 1
    with pytest.raises(RuleViolation, match="within its contract's coverage"):
        desk.do("contact_sheet", ticket=inside.number, **sheet)
    desk.clock.set(datetime(2027, 3, 15, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai
    assert not desk.report(**SEED_000, at="2027-03-14T23:59").out_of_contract
    assert desk.report(**SEED_000).out_of_contract
