"""Where a person waits (issue 18): the CLI's cold start and the API's server CPU per
request, each against its baseline measured in the same run.

* ``cold_start``: wall time (and CPU time, ``cpu_ms``) of a fresh ``python -m ledger
  --help`` and ``python -m ledger ticket show T --json`` (median of ``runs``, interleaved
  with ``python -c pass``, the interpreter's own start, so a loaded machine weighs on both
  alike);
* ``api_cpu``: a real ``ledger serve`` (uvicorn) in a child process, ``GET /tickets/T``
  sent ``requests`` times over one keep-alive connection; the server's CPU per request
  (its ``/proc`` user + system time) against the in-process work of the same answer
  (``tickets.get`` + ``judge`` + the views, as the endpoint does it), CPU time both.
"""

from __future__ import annotations

import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return env | {"LEDGER_DB": url, "PYTHONPATH": str(REPO)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed_ms(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) milliseconds of one run of ``argv``."""
    cpu, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(list(argv), env=env, capture_output=True, check=False, cwd=REPO)
    took = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])}: exit {proc.returncode}: {proc.stderr[-500:]!r}")
    return took, (_children_cpu() - cpu) * 1000


def cold_start(url: str, ticket: str, runs: int) -> dict[str, Any]:
    env = _env(url)
    timed: dict[str, list[float]] = {"python_pass": [], "help": [], "ticket_show_json": []}
    cpu: dict[str, list[float]] = {name: [] for name in timed}
    argv = {
        "python_pass": [sys.executable, "-c", "pass"],
        "help": [sys.executable, "-m", "ledger", "--help"],
        "ticket_show_json": [sys.executable, "-m", "ledger", "ticket", "show", ticket, "--json"],
    }
    for _ in range(runs):
        for name, samples in timed.items():
            wall, used = _timed_ms(argv[name], env)
            samples.append(wall)
            cpu[name].append(used)
    medians = {name: round(statistics.median(s), 1) for name, s in timed.items()}
    return {
        "runs": runs,
        "python_pass_ms": medians["python_pass"],
        "help_ms": medians["help"],
        "ticket_show_json_ms": medians["ticket_show_json"],
        "help_vs_python_pass": round(medians["help"] / medians["python_pass"], 1),
        "ticket_show_vs_python_pass": round(
            medians["ticket_show_json"] / medians["python_pass"], 1
        ),
        # CPU (user + system) medians: what a loaded machine's wall time hides
        "cpu_ms": {name: round(statistics.median(s), 1) for name, s in cpu.items()},
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api_cpu(url: str, ticket: str, requests: int) -> dict[str, Any]:
    import httpx

    from ledger.bootstrap import Ledger
    from ledger.commands.users import Users
    from ledger.domain.values import Role
    from ledger.presenters.tickets import sla_view, ticket_view

    with Ledger.open(url) as ledger:
        users = Users(ledger.engine, ledger.clock, ledger.app)
        token = users.add(f"bench-{os.getpid()}", Role.AUDITOR, actor="bench", actor_role="admin")[
            1
        ]
        for _ in range(20):  # warm up
            found = ledger.tickets.get(ticket)
            ticket_view(found, ledger.tz) | {
                "sla": sla_view(ledger.queries.judge(found), ledger.tz)
            }
        cpu = time.process_time()
        for _ in range(requests):
            found = ledger.tickets.get(ticket)
            ticket_view(found, ledger.tz) | {
                "sla": sla_view(ledger.queries.judge(found), ledger.tz)
            }
        in_process_ms = (time.process_time() - cpu) / requests * 1000
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--port", str(port), "--log-level", "warning"],
        env=_env(url),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get(f"/tickets/{ticket}").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("ledger serve did not answer")
                time.sleep(0.1)
            for _ in range(20):
                client.get(f"/tickets/{ticket}")
            before = _process_cpu(server.pid)
            start = time.perf_counter()
            for _ in range(requests):
                response = client.get(f"/tickets/{ticket}")
                response.raise_for_status()
            wall = time.perf_counter() - start
            server_ms = (_process_cpu(server.pid) - before) / requests * 1000
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "requests": requests,
        "server_cpu_ms_per_request": round(server_ms, 3),
        "in_process_cpu_ms": round(in_process_ms, 3),
        "server_cpu_vs_in_process": round(server_ms / in_process_ms, 2) if in_process_ms else 0.0,
        "requests_per_s_one_client": round(requests / wall, 1),
    }
