"""The workbench's pages (issue 16: "pages answer in < 300 ms on the bench's medium store"):
a real ``ledger serve`` (uvicorn) in a child process on the bench's store, each page asked
``repeats`` times over one keep-alive connection by a logged-in browser's cookies, wall
time per answer (p50 / p99 / max) as the person at the page waits for it.

The raw baseline, in the same run and the same server: the workbench's stylesheet (a static
file: the HTTP round trip, the server's routing and its security headers, nothing of the
ledger) — ``floor_ms``; each page's ``vs_floor`` is its p50 over the floor's.

Pages: the hotline's queue (unassigned), a search by customer, a ticket, the engineer's
phone list (the engineer with the most tickets), the quality department's return-visit
card and its page of lists (visits to make, audits, open actions and complaints). Paths
that the server does not serve (a page not built yet) are reported as ``missing`` rather
than timed.

``python -m bench.workbench --size medium`` builds the bench's store of that size (the
history of ``bench.generate``, imported as ``bench.run`` does) and prints this module's
JSON alone; ``bench.run`` includes it for each database (``workbench_pages``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import text

from ledger.bootstrap import Ledger
from ledger.commands.users import Users
from ledger.domain.values import Role

REPO = Path(__file__).resolve().parents[1]
REPEATS = {"tiny": 10, "small": 30, "medium": 50, "large": 50}
WARM_UP = 3
TARGET_MS = 300.0
FLOOR = "/workbench/static/workbench.css"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str, now: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {"LEDGER_DB": url, "PYTHONPATH": str(REPO)}
    if now:
        env["LEDGER_NOW"] = now
    return env


def _subjects(url: str) -> dict[str, str]:
    """What the pages are asked about, read from the store: a ticket, the busiest
    engineer, a customer, a conducted return visit."""
    with Ledger.open(url) as ledger, ledger.engine.connect() as conn:
        ledger.projections.catch_up()
        engineer, ticket, customer = conn.execute(
            text(
                "SELECT engineer, MAX(number), MAX(customer) FROM ticket_summary "
                "WHERE engineer IS NOT NULL GROUP BY engineer ORDER BY COUNT(*) DESC LIMIT 1"
            )
        ).one()
        visit = conn.execute(
            text(
                "SELECT number FROM visit_summary WHERE conducted_at IS NOT NULL "
                "ORDER BY number DESC LIMIT 1"
            )
        ).scalar_one()
    return {"engineer": engineer, "ticket": ticket, "customer": customer, "visit": visit}


def pages(subjects: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Page name → (who looks: dispatcher / engineer / quality, path)."""
    return {
        "queue": ("dispatcher", "/workbench/queues?tab=unassigned"),
        "search": ("dispatcher", f"/workbench/search?q={quote(subjects['customer'])}"),
        "ticket": ("dispatcher", f"/workbench/tickets/{subjects['ticket']}"),
        "phone_list": ("engineer", "/workbench/phone"),
        "quality_card": ("quality", f"/workbench/quality/visits/{subjects['visit']}"),
        "quality_lists": ("quality", "/workbench/quality"),
    }


def _users(url: str, engineer: str) -> dict[str, tuple[str, str]]:
    """A user per role that looks (name, token)."""
    suffix = os.getpid()
    wanted = {
        "dispatcher": (f"bench-desk-{suffix}", Role.DISPATCHER),
        "engineer": (engineer, Role.ENGINEER),
        "quality": (f"bench-quality-{suffix}", Role.QUALITY),
    }
    found = {}
    with Ledger.open(url) as ledger:
        users = Users(ledger.engine, ledger.clock, ledger.app)
        users.require_table()
        for who, (name, role) in wanted.items():
            try:
                token = users.add(name, role, actor="bench", actor_role="admin")[1]
            except Exception:  # the engineer's user exists from an earlier run: a new token
                token = users.reissue(name, actor="bench", actor_role="admin")[1]
            found[who] = (name, token)
    return found


def _log_in(client: httpx.Client, name: str, token: str) -> None:
    form = client.get("/login")
    match = _CSRF.search(form.text)
    if match is None:
        raise RuntimeError("the login form has no CSRF field")
    answer = client.post(
        "/login", data={"name": name, "token": token, "csrf": match.group(1), "next": "/"}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"login of {name} answered {answer.status_code}")


def _timed(client: httpx.Client, path: str, repeats: int) -> list[float] | int:
    """Wall milliseconds of ``repeats`` answers to ``path`` (after a warm-up), or the
    status when the page does not answer 200."""
    for _ in range(WARM_UP):
        answer = client.get(path)
        if answer.status_code != 200:
            return answer.status_code
    samples = []
    for _ in range(repeats):
        start = perf_counter()
        answer = client.get(path)
        answer.read()
        samples.append((perf_counter() - start) * 1000)
        if answer.status_code != 200:
            return answer.status_code
    return samples


def measure_workbench_pages(
    url: str,
    size_name: str,
    distribution: Callable[[Sequence[float]], dict[str, float]],
    *,
    now: str | None = None,
) -> dict[str, Any]:
    subjects = _subjects(url)
    users = _users(url, subjects["engineer"])
    repeats = REPEATS[size_name]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--port", str(port), "--log-level", "warning"],
        env=_env(url, now),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"ledger serve exited: {server.stderr.read()[-500:]!r}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{origin}/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("ledger serve did not start")
            time.sleep(0.1)
        clients = {}
        for who, (name, token) in users.items():
            client = httpx.Client(base_url=origin, timeout=60, follow_redirects=False)
            _log_in(client, name, token)
            clients[who] = client
        floor = _timed(clients["dispatcher"], FLOOR, repeats)
        results: dict[str, Any] = {"repeats": repeats, "subjects": subjects}
        floor_p50 = None
        if isinstance(floor, list):
            results["floor_ms"] = distribution(floor)
            floor_p50 = results["floor_ms"]["p50"]
        else:
            results["floor_ms"] = {"missing": floor}
        slowest = 0.0
        timed: dict[str, Any] = {}
        for name, (who, path) in pages(subjects).items():
            samples = _timed(clients[who], path, repeats)
            if isinstance(samples, int):
                timed[name] = {"path": path, "missing": samples}
                continue
            figures = distribution(samples)
            if floor_p50:
                figures["vs_floor"] = round(figures["p50"] / floor_p50, 1)
            timed[name] = {"path": path, **figures}
            slowest = max(slowest, figures["p99"])
        for client in clients.values():
            client.close()
        results["pages"] = timed
        results["slowest_p99_ms"] = round(slowest, 1)
        results["target_ms"] = TARGET_MS
        results["met"] = all("missing" not in page for page in timed.values()) and (
            slowest < TARGET_MS
        )
        return results
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Build a store of ``--size`` (SQLite) as ``bench.run`` does and measure the pages."""
    from bench import run as bench_run
    from bench.generate import DEFAULT_SEED, NOW, SIZES, generate_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workdir", type=Path, help="Keep the store here (reused if present).")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ledger-bench-workbench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / 'ledger.db'}"
    if not (workdir / "ledger.db").exists():
        size = SIZES[args.size]
        history = workdir / f"history-{size.name}-{args.seed}.jsonl"
        bench_run.progress(f"generating the {size.name} history into {history}")
        summary = generate_file(history, size, args.seed)
        bench_run.set_up(url)
        bench_run.progress(f"ledger import ({summary.lines} lines)")
        bench_run.measure_import(url, history, summary.lines)
        bench_run.measure_sweep(url)
    bench_run.progress("workbench pages")
    document = {
        "benchmark": "ledger workbench pages (issue 16)",
        "size": args.size,
        "machine": bench_run.machine(workdir),
        "workbench_pages": measure_workbench_pages(url, args.size, bench_run.distribution, now=NOW),
    }
    print(json.dumps(document, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
