"""HTTP writes: commands/s and latency through ``ledger serve`` (a real uvicorn in a
subprocess, keep-alive clients in threads), with 1 and with 8 clients, against the same
commands applied in process (``parse_command`` + ``TicketService.execute``, as ``ledger
ticket ...``) in the same run: ``vs_in_process`` is the HTTP rate over that rate.

Each client works its own tickets: a report, a response, then suspensions and
resumptions (commands that are always legal one after the other at any time, so the
real clock can be used; the ledger's other benches moved its fixed clock on). Every
write carries an ``Idempotency-Key``, as a careful client sends it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import Any

import httpx

from ledger.bootstrap import Ledger
from ledger.commands.registry import parse_command
from ledger.commands.users import Users
from ledger.domain.values import Role

CLIENTS = (1, 8)
COMMANDS = {"tiny": 24, "small": 120, "medium": 240, "large": 480}
"""Commands per measurement (split among the clients)."""
PER_TICKET = 8
"""Commands per ticket: report, respond, then suspend / resume."""
REPORT = {
    "contract": "seed-002",
    "customer": "禹州市公安局",
    "contact_name": "张三",
    "contact_phone": "13800138001",
    "site": "看守所监控中心",
    "device": "门禁控制器",
    "description": "门禁控制器无法开机",
}
WHO = "bench-http"


def steps(count: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """``count`` commands: (verb, body), ``verb`` ``report`` for a new ticket."""
    for i in range(count):
        k = i % PER_TICKET
        if k == 0:
            yield "report", dict(REPORT)
        elif k == 1:
            yield "respond", {}
        elif k % 2 == 0:
            yield "suspend", {"reason": "等客户"}
        else:
            yield "resume", {}


def in_process(url: str, count: int) -> float:
    """Commands/s of the same commands through the services, in this process."""
    with Ledger.open(url) as ledger:
        number = ""
        start = perf_counter()
        for verb, body in steps(count):
            data = {"command": verb, "actor": WHO, "role": "dispatcher", **body}
            if verb != "report":
                data["ticket"] = number
            number = ledger.tickets.execute(parse_command(data, ledger.tz), retries=1).number
        return count / (perf_counter() - start)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(url: str, workers: int = 1) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "--db", url, "serve", "--port", str(port)]
        + (["--workers", str(workers)] if workers > 1 else []),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError("ledger serve exited")
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("ledger serve did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _client(base: str, token: str, name: str, count: int, latencies: list[float]) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=60, headers=auth) as session:
        ticket = ""
        for i, (verb, body) in enumerate(steps(count)):
            path = "/tickets" if verb == "report" else f"/tickets/{ticket}/{verb}"
            key = {"Idempotency-Key": f"{name}-{i}"}
            start = perf_counter()
            answer = session.post(path, json=body, headers=key)
            latencies.append((perf_counter() - start) * 1000)
            if answer.status_code not in (200, 201):
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text}")
            ticket = answer.json()["number"]


def _reader(base: str, token: str, ticket: str, count: int, latencies: list[float]) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=60, headers=auth) as session:
        for _ in range(count):
            start = perf_counter()
            answer = session.get(f"/tickets/{ticket}")
            latencies.append((perf_counter() - start) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"/tickets/{ticket}: {answer.status_code} {answer.text}")


def _together(clients: list[threading.Thread]) -> float:
    """Run the clients at once; the seconds until the last is done."""
    start = perf_counter()
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    return perf_counter() - start


WORKERS = (1, 2)
WORKER_CLIENTS = 4
READS = {"tiny": 40, "small": 400, "medium": 800, "large": 1600}
"""``GET /tickets/T`` per measurement (split among the clients)."""


def measure_serve_workers(
    url: str, size: str, ticket: str, distribution: Callable[[list[float]], dict[str, float]]
) -> dict[str, Any]:
    """``ledger serve --workers N`` for N = 1 and 2 (PostgreSQL: SQLite is refused), 4
    keep-alive clients each: reads (``GET /tickets/T``) and writes (the commands of
    :func:`steps`) per second, all clients together."""
    writes, reads = COMMANDS.get(size, COMMANDS["small"]), READS.get(size, READS["small"])
    with Ledger.open(url) as ledger:
        users = Users(ledger.engine, ledger.clock, ledger.app)
        token = users.add(
            WHO + "-workers", Role.DISPATCHER, actor="系统管理员", actor_role=Role.ADMIN
        )[1]
    results: dict[str, Any] = {"clients": WORKER_CLIENTS}
    for workers in WORKERS:
        with served(url, workers) as base:
            _reader(base, token, ticket, 4 * WORKER_CLIENTS, [])  # warm up every worker
            read_ms: list[float] = []
            per_client = reads // WORKER_CLIENTS
            took = _together(
                [
                    threading.Thread(
                        target=_reader, args=(base, token, ticket, per_client, read_ms)
                    )
                    for _ in range(WORKER_CLIENTS)
                ]
            )
            if len(read_ms) != per_client * WORKER_CLIENTS:
                raise RuntimeError("an HTTP reader failed (see above)")
            read_rate = len(read_ms) / took
            write_ms: list[float] = []
            per_client = max(PER_TICKET, writes // WORKER_CLIENTS)
            took = _together(
                [
                    threading.Thread(
                        target=_client,
                        args=(base, token, f"w{workers}-{n}", per_client, write_ms),
                    )
                    for n in range(WORKER_CLIENTS)
                ]
            )
            if len(write_ms) != per_client * WORKER_CLIENTS:
                raise RuntimeError("an HTTP client failed (see above)")
            results[f"workers_{workers}"] = {
                "reads_per_s": round(read_rate, 1),
                "read_latency_ms": distribution(read_ms),
                "writes_per_s": round(len(write_ms) / took, 1),
                "write_latency_ms": distribution(write_ms),
            }
    one, two = results["workers_1"], results["workers_2"]
    results["reads_2_vs_1"] = round(two["reads_per_s"] / one["reads_per_s"], 2)
    results["writes_2_vs_1"] = round(two["writes_per_s"] / one["writes_per_s"], 2)
    return results


def measure_http_writes(
    url: str, size: str, distribution: Callable[[list[float]], dict[str, float]]
) -> dict[str, Any]:
    count = COMMANDS.get(size, COMMANDS["small"])
    with Ledger.open(url) as ledger:
        users = Users(ledger.engine, ledger.clock, ledger.app)
        token = users.add(WHO, Role.DISPATCHER, actor="系统管理员", actor_role=Role.ADMIN)[1]
    in_process(url, PER_TICKET)  # warm up
    rate = in_process(url, count)
    results: dict[str, Any] = {"in_process_commands_per_s": round(rate, 1), "commands": count}
    with served(url) as base:
        _client(base, token, "warm-up", PER_TICKET, [])
        for clients in CLIENTS:
            latencies: list[float] = []
            per_client = max(PER_TICKET, count // clients)
            threads = [
                threading.Thread(
                    target=_client, args=(base, token, f"c{clients}-{n}", per_client, latencies)
                )
                for n in range(clients)
            ]
            start = perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            took = perf_counter() - start
            if len(latencies) != per_client * clients:
                raise RuntimeError("an HTTP client failed (see above)")
            http_rate = len(latencies) / took
            results[f"clients_{clients}"] = {
                "commands_per_s": round(http_rate, 1),
                "latency_ms": distribution(latencies),
                "vs_in_process": round(http_rate / rate, 3),
            }
    return results
