"""The services on an in-memory :class:`~ledger.commands.store.Store`: no database.

cosmicpython's fake unit of work: the real ``TicketService``, ``QualityService`` and
``ContractService`` plan, decide and commit against a dict of event lists, which refuses
a taken version as the event store does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger.clock import FixedClock
from ledger.commands.application import ConcurrentChange
from ledger.commands.contracts import ContractService, parse_contract, read_toml
from ledger.commands.quality import QualityService
from ledger.commands.registry import parse_command, parse_quality_command
from ledger.commands.store import Store
from ledger.commands.tickets import TicketService
from ledger.domain.model import DomainEvent, Projector
from ledger.domain.roles import Forbidden
from ledger.domain.ticket import Reopened, Ticket
from ledger.domain.values import Role, TicketStatus
from tests.support import REPORT, SEED_CONTRACTS, SHANGHAI, START


class InMemoryStore:
    """Events by aggregate, in memory; ``save`` is all or nothing."""

    def __init__(self) -> None:
        self.log: list[DomainEvent] = []
        self.by_id: defaultdict[UUID, list[DomainEvent]] = defaultdict(list)

    def get(self, aggregate_id: UUID, projector: Projector, *, version: int | None = None) -> Any:
        events = self.by_id.get(aggregate_id, [])
        state = projector(None, events if version is None else events[:version])
        if state is None:
            raise AggregateNotFoundError(aggregate_id)
        return state

    def read(self, aggregate_id: UUID, *, limit: int | None = None) -> Sequence[DomainEvent]:
        return self.by_id.get(aggregate_id, [])[:limit]

    def last_version(self, aggregate_id: UUID) -> int | None:
        events = self.by_id.get(aggregate_id)
        return events[-1].originator_version if events else None

    def select(self, event_type: type[DomainEvent]) -> Sequence[DomainEvent]:
        return [event for event in self.log if isinstance(event, event_type)]

    def save(self, *events: DomainEvent) -> None:
        versions = {i: self.last_version(i) or 0 for i in {e.originator_id for e in events}}
        for event in events:
            if event.originator_version != versions[event.originator_id] + 1:
                raise IntegrityError(f"version {event.originator_version} is taken")
            versions[event.originator_id] += 1
        for event in events:
            self.by_id[event.originator_id].append(event)
        self.log.extend(events)


class Services:
    def __init__(self) -> None:
        self.store = InMemoryStore()
        store: Store = self.store
        self.clock = FixedClock(START)
        self.contracts = ContractService(store, self.clock)
        self.tickets = TicketService(store, self.clock, SHANGHAI, self.contracts.policy_at)
        self.quality = QualityService(store, self.clock, SHANGHAI, self.contracts, self.tickets)
        for path in SEED_CONTRACTS:
            self.contracts.load(parse_contract(read_toml(path)), actor="admin", role=Role.ADMIN)

    def ticket(self, command: str, **fields: Any) -> Ticket:
        data = {"actor": "李娜", "role": "dispatcher", "command": command, **fields}
        return self.tickets.execute(parse_command(data, SHANGHAI), retries=1)

    def quality_do(self, command: str, **fields: Any) -> str:
        data = {"actor": "周质检", "role": "quality", "command": command, **fields}
        outcome = self.quality.execute(parse_quality_command(data, SHANGHAI))
        return outcome.record.number

    def later(self, minutes: float) -> None:
        self.clock.advance(timedelta(minutes=minutes))


@pytest.fixture
def services() -> Services:
    return Services()


def _served(s: Services) -> Ticket:
    report = {k: v for k, v in REPORT.items() if k != "command"}
    t = s.ticket("report", **report)
    s.later(4)
    s.ticket("respond", ticket=t.number)
    s.ticket("dispatch", ticket=t.number, engineer="王工")
    s.later(18)
    engineer = {"actor": "王工", "role": "engineer"}
    s.ticket("arrive", ticket=t.number, **engineer)
    s.later(120)
    s.ticket("resolve", ticket=t.number, summary="更换电源模块", **engineer)
    s.ticket("sign", ticket=t.number, signer="张三", **engineer)
    return s.ticket("close", ticket=t.number)


def test_a_ticket_lifecycle_through_the_real_service(services: Services) -> None:
    closed = _served(services)
    assert closed.number == "T-2026-000001"
    assert closed.status is TicketStatus.CLOSED
    assert closed.version == 7
    history = services.tickets.history(closed.number)
    assert [type(e).__name__ for e in history] == [
        "Reported",
        "Responded",
        "Dispatched",
        "Arrived",
        "Resolved",
        "CustomerSigned",
        "Closed",
    ]
    assert services.tickets.get(closed.number, version=4).status is TicketStatus.ON_SITE
    assert _served(services).number == "T-2026-000002"  # the sequence's next number


def test_a_refused_command_saves_nothing(services: Services) -> None:
    t = services.ticket("report", **{k: v for k, v in REPORT.items() if k != "command"})
    before = len(services.store.log)
    with pytest.raises(Forbidden):
        services.ticket("dispatch", ticket=t.number, engineer="王工", role="auditor")
    assert len(services.store.log) == before


def test_a_concurrent_change_is_refused_by_the_store(services: Services) -> None:
    t = services.ticket("report", **{k: v for k, v in REPORT.items() if k != "command"})
    data = {"actor": "李娜", "role": "dispatcher", "command": "dispatch", "ticket": t.number}
    first = services.tickets.plan(parse_command({**data, "engineer": "王工"}, SHANGHAI))
    second = services.tickets.plan(parse_command({**data, "engineer": "刘工"}, SHANGHAI))
    services.tickets.commit(first)
    with pytest.raises(ConcurrentChange, match=t.number):
        services.tickets.commit(second)
    assert services.tickets.get(t.number).engineer == "王工"


def test_a_quality_record_and_its_failed_audit_reopen_the_ticket(services: Services) -> None:
    ticket = _served(services)
    visit = services.quality_do("visit_schedule", ticket=ticket.number, visitor="周质检")
    assert visit == "V-2026-000001"
    services.later(10)
    services.quality_do("visit_conduct", visit=visit, content="电话回访")
    services.quality_do("visit_audit", visit=visit, verdict="fail", reason="服务单无客户签字")
    reopened = services.tickets.get(ticket.number)
    assert reopened.status is TicketStatus.REOPENED
    last = services.tickets.history(ticket.number)[-1]
    assert isinstance(last, Reopened) and last.cause == visit
    audit = services.quality.visit(visit).audit
    assert audit is not None and not audit.passed
