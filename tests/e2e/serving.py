"""``ledger serve`` in a child process for the browser tests: started on a free port, waited
for, stopped with SIGTERM; its log must end clean (exit 0, no traceback). :func:`site`
serves a ledger with its users, the CLI on the same ledger being the tests' witness."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_cli import ADMIN, Cli
from tests.support import SEED_CONTRACTS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """The origin (``http://127.0.0.1:PORT``) of ``ledger serve`` run with ``env``."""
    port = free_port()
    with log_path.open("w+", encoding="utf-8") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledger",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        origin = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert server.poll() is None, f"ledger serve exited: {log_path.read_text()}"
                try:
                    if httpx.get(f"{origin}/login", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (
                    f"ledger serve did not start: {log_path.read_text()}"
                )
                time.sleep(0.1)
            yield origin
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    output = log_path.read_text(encoding="utf-8")
    assert server.returncode == 0, output
    assert "Traceback" not in output, output


def add_users(cli: Cli, roles: Mapping[str, str]) -> dict[str, str]:
    """Each user named in ``roles`` added by the administrator in their role: their login
    tokens, by name."""
    return {
        name: cli.json("user", "add", name, "--role", role, **ADMIN)["token"]
        for name, role in roles.items()
    }


def real_clock_cli(workdir: Path) -> Cli:
    """A CLI on a new ledger in ``workdir`` with the seed contracts, on the real clock: the
    browser's steps carry the browser's own moments."""
    cli = Cli(f"sqlite:///{workdir}/ledger.db")
    cli.env.pop("LEDGER_NOW", None)
    cli.run("init")
    cli.run("contract", "load", *(str(path) for path in SEED_CONTRACTS), **ADMIN)
    return cli


@dataclass(frozen=True)
class Site:
    """``ledger serve`` on a ledger: where it answers, the CLI on the same ledger and the
    users' tokens by name."""

    origin: str
    cli: Cli
    tokens: dict[str, str]

    def history(self, number: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.cli.json("ticket", "history", number)
        return events


@contextmanager
def site(cli: Cli, workdir: Path, roles: Mapping[str, str]) -> Iterator[Site]:
    """``cli``'s ledger served, with the users ``roles`` names added first."""
    tokens = add_users(cli, roles)
    with served(cli.env, workdir / "serve.log") as origin:
        yield Site(origin, cli, tokens)
