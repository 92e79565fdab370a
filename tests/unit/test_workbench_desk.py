"""The desk's view models, pure: SLA state and countdown per row, the queues (their order,
their pages) and the engineers' workload, a contract's promise as the hotline reads it,
what earlier tickets remember — each against numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

from ledger.commands.contracts import ContractFile, parse_contract, read_toml
from ledger.domain.compliance import Judgement
from ledger.domain.sla import SlaStatus
from ledger.domain.values import Severity
from ledger.presenters.contracts import promise_text
from ledger.projections.sla_queries import Standing, TicketSla
from ledger.workbench.desk import (
    PAGE_SIZE,
    place,
    queue_row,
    select_queue,
    sla_state,
)
from ledger.workbench.intake import in_warranty
from tests.support import SEED_CONTRACTS

NOW = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
WORDS = {"respond": "响应", "arrive": "到场", "resolve": "修复", "replacement": "备机"}


def _ticket(number: str, engineer: str | None, *targets: Judgement) -> TicketSla:
    return TicketSla(
        ticket_id=uuid4(),
        number=number,
        contract_id="seed-002",
        customer="禹州市公安局",
        severity="general",
        engineer=engineer,
        reported_at=NOW - timedelta(hours=1),
        is_open=True,
        judged=True,
        targets=targets,
    )


def _due(metric: str, minutes: int, status: SlaStatus = SlaStatus.PENDING) -> Judgement:
    return Judgement(metric, "30m", status, due_at=NOW + timedelta(minutes=minutes))


def test_the_sla_state_is_the_worst_promise() -> None:
    assert sla_state(_ticket("A", None, _due("arrive", 61)), at_risk=False) == "ok"
    assert sla_state(_ticket("A", None, _due("arrive", 61)), at_risk=True) == "at_risk"
    overdue = _due("respond", -5, SlaStatus.OVERDUE)
    assert sla_state(_ticket("A", None, _due("arrive", 120), overdue), at_risk=True) == "breached"
    met = Judgement("respond", "5m", SlaStatus.MET, due_at=NOW, done_at=NOW)
    assert sla_state(_ticket("A", None, met), at_risk=False) == "met"
    assert sla_state(_ticket("A", None), at_risk=False) == "none"
    # a clock not started yet (no due time) runs nothing
    assert sla_state(_ticket("A", None, Judgement("arrive", "30m", SlaStatus.PENDING)), False) == (
        "none"
    )


def test_a_row_counts_down_to_the_soonest_open_promise() -> None:
    row = queue_row(_ticket("A", "王工", _due("resolve", 150), _due("arrive", 25)), NOW, True)
    assert (row.next_metric, row.minutes_left, row.sla) == ("arrive", 25, "at_risk")
    assert row.due_at == datetime(2026, 10, 8, 2, 25, tzinfo=UTC)
    late = queue_row(_ticket("B", None, _due("respond", -90, SlaStatus.OVERDUE)), NOW, False)
    assert (late.minutes_left, late.sla) == (-90, "breached")
    # 30 s short of a whole minute left: 0 minutes (rounded down, never optimistic)
    tight = Judgement("arrive", "30m", SlaStatus.PENDING, due_at=NOW + timedelta(seconds=30))
    assert queue_row(_ticket("C", None, tight), NOW, False).minutes_left == 0


def _standing(
    number: str,
    engineer: str | None,
    due_in: int | None,
    *,
    missed: bool = False,
    kept: bool = False,
) -> Standing:
    due = None if due_in is None else NOW + timedelta(minutes=due_in)
    running = due is not None and not missed
    return Standing(uuid4(), number, engineer, missed, running, kept, due)


def test_the_queues_and_the_workload() -> None:
    standings = [
        _standing("T-1", None, 3),  # unassigned, at risk
        _standing("T-2", "王工", 200),  # ok
        _standing("T-3", "王工", -10, missed=True),  # breached
        _standing("T-4", "张工", 45),  # at risk
        _standing("T-5", None, 90),  # unassigned, ok
        _standing("T-6", "张工", None, kept=True),  # met
        _standing("T-7", "张工", None),  # nothing promised
    ]
    risky = {s.ticket_id for s in standings if s.number in ("T-1", "T-4")}
    placed = place(standings, risky)
    assert [(p.standing.number, p.sla) for p in placed] == [
        ("T-3", "breached"),
        ("T-1", "at_risk"),  # soonest due first
        ("T-4", "at_risk"),
        ("T-5", "ok"),
        ("T-2", "ok"),
        ("T-6", "met"),
        ("T-7", "none"),
    ]

    def tab(name: str, **options: Any) -> list[str]:
        return [p.standing.number for p in select_queue(placed, name, "王工", **options)[0]]

    assert tab("unassigned") == ["T-1", "T-5"]  # at risk first
    assert tab("at_risk") == ["T-1", "T-4"]
    assert tab("breached") == ["T-3"]
    assert tab("mine") == ["T-3", "T-2"]  # breached before ok
    assert tab("engineers") == ["T-4", "T-6", "T-7"]  # the busiest engineer's
    assert tab("engineers", engineer="王工") == ["T-3", "T-2"]
    assert tab("engineers", engineer="nobody") == ["T-4", "T-6", "T-7"]
    _, total, page, counts, load, chosen = select_queue(placed, "unassigned", "王工")
    assert (total, page, chosen) == (2, 1, "张工")
    assert counts == {"unassigned": 2, "at_risk": 2, "breached": 1, "mine": 2}
    assert load == [("张工", 3), ("王工", 2)]


def test_a_tab_longer_than_a_page_is_paged_most_urgent_first() -> None:
    """PAGE_SIZE + 2 unassigned tickets, due one minute apart (the number order reversed,
    so the order is the due time's): the first page holds the PAGE_SIZE soonest, the
    second the two latest, a page past the last is the last, and every one is counted."""
    count = PAGE_SIZE + 2
    standings = [_standing(f"T-{count - i:03d}", None, 10 + i) for i in range(count)]
    placed = place(standings, set())
    first, total, page, counts, _, _ = select_queue(placed, "unassigned", "王工")
    assert (total, page, counts["unassigned"], len(first)) == (count, 1, count, PAGE_SIZE)
    assert [p.standing.number for p in first][:2] == [f"T-{count:03d}", f"T-{count - 1:03d}"]
    second, _, page, _, _, _ = select_queue(placed, "unassigned", "王工", page=2)
    assert page == 2 and [p.standing.number for p in second] == ["T-002", "T-001"]
    beyond, _, page, _, _, _ = select_queue(placed, "unassigned", "王工", page=9)
    assert page == 2 and beyond == second
    empty, total, page, _, _, _ = select_queue(placed, "breached", "王工", page=3)
    assert (empty, total, page) == ([], 0, 1)


def test_the_state_of_a_ticket_is_one_rule_for_rows_and_queues() -> None:
    """A standing (the stored verdicts, read in SQL) and a judged ticket with the same
    promises get the same state."""
    cases = [
        (_standing("A", None, 30), _ticket("A", None, _due("arrive", 30))),
        (
            _standing("B", None, -5, missed=True),
            _ticket("B", None, _due("respond", -5, SlaStatus.OVERDUE)),
        ),
        (
            _standing("C", None, None, kept=True),
            _ticket("C", None, Judgement("respond", "5m", SlaStatus.MET, NOW, NOW)),
        ),
        (_standing("D", None, None), _ticket("D", None)),
    ]
    for at_risk in (False, True):
        for standing, judged in cases:
            risky = {standing.ticket_id} if at_risk else set()
            assert place([standing], risky)[0].sla == sla_state(judged, at_risk)


def _seed(contract_id: str) -> ContractFile:
    path = next(p for p in SEED_CONTRACTS if p.stem == contract_id)
    return parse_contract(read_toml(path))


def test_the_promise_as_the_hotline_reads_it() -> None:
    policy = _seed("seed-002").policy
    # seed-002 (re-encoded, issue 21): respond 5m, arrive 30m, resolve 4h; the unit is owed
    # once the fix has failed 8h after the report, within 30m of that (a clock starting 8h
    # later); emergency arrives in 20m; major (较大, not named by the seed) is fixed in 4h.
    assert promise_text(policy, Severity.GENERAL, WORDS, "zh") == (
        "响应 5 分钟 · 到场 30 分钟 · 修复 4 小时 · 备机 8 小时后再 30 分钟"
    )
    assert promise_text(policy, Severity.EMERGENCY, WORDS, "zh") == (
        "响应 5 分钟 · 到场 20 分钟 · 修复 4 小时 · 备机 8 小时后再 30 分钟"
    )
    assert promise_text(policy, Severity.MAJOR, WORDS, "en") == (
        "响应 5m · 到场 30m · 修复 4h · 备机 30m after 8h"
    )
    # warranty = { start = 2024-06-01, years = 3 }: the last covered day is 2027-05-31
    assert in_warranty(policy, date(2027, 5, 31))
    assert not in_warranty(policy, date(2027, 6, 1))
    assert not in_warranty(policy, date(2024, 5, 31))
