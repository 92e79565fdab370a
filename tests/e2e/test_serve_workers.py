"""``ledger serve --workers N``: uvicorn's worker processes on one port, on PostgreSQL (issue
18: reads and writes scale with the workers; ``make bench`` measures 1 against 2). A
SQLite ledger is refused: its writes take one file lock."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_api_writes import _free_port
from tests.e2e.test_cli import ADMIN, REPORT_ARGS, make_cli

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
REPORT_BODY = {
    "contract": "seed-002",
    "customer": "禹州市公安局",
    "contact_name": "张三",
    "contact_phone": "13800138001",
    "site": "看守所监控中心",
    "device": "门禁控制器",
    "description": "门禁控制器无法开机",
}


def workers(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [
        int(p)
        for p in text.split()
        if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
        and b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()
    ]


@pytest.mark.postgres
def test_two_workers_serve_reads_writes_and_one_login(pg_url: str) -> None:
    c = make_cli(pg_url)
    number = c.json(*REPORT_ARGS)["number"]
    token = c.run("user", "add", "desk", "--role", "dispatcher", **ADMIN).stdout.strip()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--port", str(port), "--workers", "2"],
        env=c.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "ledger serve --workers 2 did not start"
            time.sleep(0.1)
        assert len(workers(server.pid)) == 2

        auth = {"Authorization": f"Bearer {token}"}
        answered: list[str] = []

        def client(n: int) -> None:
            for call in range(5):  # a new connection each time: any worker may answer
                key = {"Idempotency-Key": f"c{n}-{call}"}
                answer = httpx.post(
                    f"{base}/tickets", json=REPORT_BODY, headers=auth | key, timeout=30
                )
                assert answer.status_code == 201, answer.text
                answered.append(answer.json()["number"])

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(answered)) == 20  # every report its own number, none lost
        for ref in [number, *answered]:
            shown = httpx.get(f"{base}/tickets/{ref}", headers=auth, timeout=30)
            assert shown.status_code == 200 and shown.json()["number"] == ref

        # The dashboard's form and its login may reach different workers: one key signs both.
        for _ in range(6):
            with httpx.Client(base_url=base, timeout=30) as browser:
                form = browser.get("/login")
                csrf = CSRF_FIELD.search(form.text)
                assert csrf is not None
                cookies = dict(browser.cookies)
            with httpx.Client(base_url=base, timeout=30, cookies=cookies) as other:
                login = other.post(
                    "/login", data={"name": "desk", "token": token, "csrf": csrf.group(1)}
                )
                assert login.status_code == 303, login.text
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr
    assert server.returncode == 0, stderr


def test_workers_on_sqlite_are_refused(sqlite_url: str) -> None:
    c = make_cli(sqlite_url)
    refused = c.run("serve", "--workers", "2", ok=False)
    assert refused.returncode == 2
    assert "--workers: a SQLite ledger is served by one process" in refused.stderr
    assert os.path.exists(sqlite_url.removeprefix("sqlite:///"))
