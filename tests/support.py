"""Helpers shared by the integration tests: a ledger on a real database with a fixed clock."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.bootstrap import Ledger
from ledger.clock import FixedClock
from ledger.commands.contracts import parse_contract, read_toml
from ledger.commands.registry import parse_command
from ledger.domain.ticket import Ticket
from ledger.domain.values import Role
from ledger.timeutil import zone

SHANGHAI = zone("Asia/Shanghai")
USER_ADMIN: dict[str, Any] = {"actor": "系统管理员", "actor_role": Role.ADMIN}
"""Who grants, re-issues and revokes API users in the tests: ``Users.add(..., **USER_ADMIN)``."""
SEED_CONTRACTS = sorted((Path(__file__).parents[1] / "examples" / "contracts").glob("seed-*.toml"))
START = datetime(2026, 10, 8, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai

REPORT = {
    "command": "report",
    "actor": "李娜",
    "role": "dispatcher",
    "contract": "seed-002",
    "customer": "禹州市公安局",
    "contact_name": "张三",
    "contact_phone": "13800138001",
    "site": "禹州市看守所监控中心",
    "device": "门禁控制器",
    "severity": "emergency",
    "description": "门禁控制器无法开机",
}


class Desk:
    """A service desk on an open ledger: commands as dicts, time moved by hand."""

    def __init__(self, ledger: Ledger, clock: FixedClock) -> None:
        self.ledger = ledger
        self.clock = clock

    def do(self, command: str, **fields: Any) -> Ticket:
        data = {"actor": "李娜", "role": "dispatcher", "command": command, **fields}
        return self.ledger.tickets.execute(parse_command(data, SHANGHAI), retries=1)

    def report(self, **fields: Any) -> Ticket:
        fields = {k: v for k, v in {**REPORT, **fields}.items() if k != "command"}
        return self.do("report", **fields)

    def later(self, minutes: float) -> None:
        self.clock.advance(timedelta(minutes=minutes))


def load_seed_contracts(ledger: Ledger) -> None:
    """Register the five seed contracts (examples/contracts), as `ledger contract load` does."""
    for path in SEED_CONTRACTS:
        if ledger.contracts.find(path.stem) is None:
            ledger.contracts.load(parse_contract(read_toml(path)), actor="admin", role=Role.ADMIN)


def open_desk(url: str, *, create: bool = True, at: datetime = START, seeds: bool = True) -> Desk:
    """A desk on a ledger at ``url``; a new ledger gets the seed contracts (unless
    ``seeds=False``: the test loads its own)."""
    clock = FixedClock(at)
    ledger = Ledger.open(url, clock=clock, tz=SHANGHAI, create=create)
    if create and seeds:
        load_seed_contracts(ledger)
    return Desk(ledger, clock)


def run_in_processes(target: Callable[..., None], args: tuple[Any, ...], count: int) -> list[Any]:
    """Run ``target(*args, queue)`` in ``count`` spawned processes at once; each puts one
    result on the queue. Returns the results (in no particular order) once all have exited
    cleanly."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=target, args=(*args, queue)) for _ in range(count)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    return results
