"""The workbench's pages (issue 16: "pages answer in < 300 ms on the bench's medium store"):
a real ``ledger serve`` (uvicorn) in a child process on the bench's store, each page asked
``repeats`` times over one keep-alive connection by a logged-in browser's cookies, wall
time per answer (p50 / p99 / max) as the person at the page waits for it.

The raw baseline, in the same run and the same server: the workbench's stylesheet (a static
file: the HTTP round trip, the server's routing and its security headers, nothing of the
ledger) — ``floor_ms``; each page's ``vs_floor`` is its p50 over the floor's.

Pages: every queue tab (unassigned, at risk, breached, mine — the busiest engineer's —
and by engineer with the workload), a search by customer, by ticket number, by contact
phone and by free text of the descriptions, a ticket, the engineer's phone list (the
engineer with the most tickets), the quality department's return-visit card and its page
of lists (visits to make, audits, open actions and complaints). Paths that the server does
not serve (a page not built yet) are reported as ``missing`` rather than timed. The load
average and the server's CPU seconds are recorded with each run, and each page's CPU per
answer (``server_cpu_ms``: the server process's, not the database's), which is what the
page costs whatever else a shared machine is running.

``python -m bench.workbench --size medium [--db sqlite|postgres]`` builds the bench's store
of that size (the history of ``bench.generate``, imported as ``bench.run`` does; SQLite in
``--workdir``, reused when present, or a throwaway PostgreSQL database as ``bench.run``
makes one) and prints this module's JSON alone; ``--url URL`` measures (and first builds,
when it holds no events) the store at ``URL`` instead. ``bench.run`` includes it for each
database (``workbench_pages``).
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


FREE_TEXT = "无法读取"
"""A search of the descriptions' words (a third of the medium store's tickets hold
"无法", a tenth "无法读取")."""


def _subjects(url: str) -> dict[str, str]:
    """What the pages are asked about, read from the store: a ticket, the busiest
    engineer, a customer, a conducted return visit, an early ticket's number (a search
    for it) and its contact's phone."""
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
        early, phones = conn.execute(
            text("SELECT number, phones FROM ticket_search ORDER BY number LIMIT 1 OFFSET 100")
        ).one()
    phone = phones.split("\n")[0].split()[-1]
    return {
        "engineer": engineer,
        "ticket": ticket,
        "customer": customer,
        "visit": visit,
        "number": early,
        "phone": phone,
        "text": FREE_TEXT,
    }


def pages(subjects: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Page name → (who looks: dispatcher / engineer / quality, path)."""
    return {
        "queue": ("dispatcher", "/workbench/queues?tab=unassigned"),
        "queue_at_risk": ("dispatcher", "/workbench/queues?tab=at_risk"),
        "queue_breached": ("dispatcher", "/workbench/queues?tab=breached"),
        "queue_mine": ("engineer", "/workbench/queues?tab=mine"),
        "queue_engineers": ("dispatcher", "/workbench/queues?tab=engineers"),
        "search": ("dispatcher", f"/workbench/search?q={quote(subjects['customer'])}"),
        "search_number": ("dispatcher", f"/workbench/search?q={quote(subjects['number'])}"),
        "search_phone": ("dispatcher", f"/workbench/search?q={quote(subjects['phone'])}"),
        "search_text": ("dispatcher", f"/workbench/search?q={quote(subjects['text'])}"),
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


def _cpu_seconds(pid: int) -> float | None:
    """The user + system CPU seconds process ``pid`` has used (Linux's /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        results: dict[str, Any] = {
            "repeats": repeats,
            "subjects": subjects,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        }
        cpu_before, wall_before = _cpu_seconds(server.pid), perf_counter()
        floor_p50 = None
        if isinstance(floor, list):
            results["floor_ms"] = distribution(floor)
            floor_p50 = results["floor_ms"]["p50"]
        else:
            results["floor_ms"] = {"missing": floor}
        slowest = 0.0
        timed: dict[str, Any] = {}
        for name, (who, path) in pages(subjects).items():
            cpu_start = _cpu_seconds(server.pid)
            samples = _timed(clients[who], path, repeats)
            cpu_end = _cpu_seconds(server.pid)
            if isinstance(samples, int):
                timed[name] = {"path": path, "missing": samples}
                continue
            figures = distribution(samples)
            if cpu_start is not None and cpu_end is not None:
                # the server's CPU per answer (its own process: PostgreSQL's is not in it),
                # what a page costs whatever else the shared machine is running
                figures["server_cpu_ms"] = round(
                    (cpu_end - cpu_start) * 1000 / (repeats + WARM_UP), 1
                )
            if floor_p50:
                figures["vs_floor"] = round(figures["p50"] / floor_p50, 1)
            timed[name] = {"path": path, **figures}
            slowest = max(slowest, figures["p99"])
        for client in clients.values():
            client.close()
        cpu_after, wall = _cpu_seconds(server.pid), perf_counter() - wall_before
        results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        if cpu_before is not None and cpu_after is not None:
            # the server's share of one core while the pages were asked (1.0: a core busy)
            results["server_cpu_seconds"] = round(cpu_after - cpu_before, 2)
            results["server_cpu_share"] = round((cpu_after - cpu_before) / wall, 2)
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


def build(url: str, size_name: str, seed: int, workdir: Path) -> None:
    """The bench's store of ``size_name`` at ``url``, as ``bench.run`` makes it: the
    generated history imported, then the sweep at the import's now."""
    from bench import run as bench_run
    from bench.generate import SIZES, generate_file

    size = SIZES[size_name]
    history = workdir / f"history-{size.name}-{seed}.jsonl"
    if not history.exists():
        bench_run.progress(f"generating the {size.name} history into {history}")
        generate_file(history, size, seed)
    lines = sum(1 for _ in history.open(encoding="utf-8"))
    bench_run.set_up(url)
    bench_run.progress(f"ledger import ({lines} lines)")
    bench_run.measure_import(url, history, lines)
    bench_run.measure_sweep(url)


def _has_events(url: str) -> bool:
    try:
        with Ledger.open(url) as ledger:
            return ledger.event_count() > 0
    except Exception:  # no ledger there yet
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Build a store of ``--size`` as ``bench.run`` does and measure the pages."""
    from bench import run as bench_run
    from bench.generate import DEFAULT_SEED, NOW, SIZES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workdir", type=Path, help="Keep the store here (reused if present).")
    parser.add_argument("--url", help="Measure the store at this URL (built if it is empty).")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ledger-bench-workbench-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def measure(url: str) -> int:
        if not _has_events(url):
            build(url, args.size, args.seed, workdir)
        bench_run.progress("workbench pages")
        document = {
            "benchmark": "ledger workbench pages (issue 16)",
            "size": args.size,
            "database": url.split(":", 1)[0].split("+", 1)[0],
            "machine": bench_run.machine(workdir),
            "workbench_pages": measure_workbench_pages(
                url, args.size, bench_run.distribution, now=NOW
            ),
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return 0

    if args.url:
        return measure(args.url)
    if args.db == "postgres":
        with bench_run.postgres_database() as url:
            return measure(url)
    return measure(f"sqlite:///{workdir / 'ledger.db'}")


if __name__ == "__main__":
    sys.exit(main())
