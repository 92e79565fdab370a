"""The NATS fixtures: a real ``nats-server -js`` on 127.0.0.1, as tests/pg_server.py does for
PostgreSQL. A pytest plugin, loaded by tests/conftest.py.

``nats_server`` starts Debian's ``nats-server`` (``/usr/sbin/nats-server`` or on PATH) with
JetStream, on a free port, storing in a temporary directory, for one test (it starts in
well under a second, and a test may stop and start it again on the same port and store:
``stop()``, ``start()``). nats-server runs as root without complaint, so no user switch is
needed. No binary: the test is skipped, unless ``LEDGER_REQUIRE_NATS=1`` (CI), which fails it.
Tests using it are marked ``nats``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE_NATS_ENV = "LEDGER_REQUIRE_NATS"
CANDIDATES = ("/usr/sbin/nats-server", "/usr/bin/nats-server")
NATS_FIXTURES = frozenset({"nats_server"})


def find_nats_server() -> str | None:
    for path in CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("nats-server")


def _required() -> bool:
    return os.environ.get(REQUIRE_NATS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """One nats-server with JetStream; ``url`` stays the same across stop/start."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.store = root / "store"
        self.log = root / "server.log"
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [self.binary, "-js", "-sd", str(self.store), "-a", "127.0.0.1"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*argv, "-p", str(self.port)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited:\n{self.log.read_text()[-2000:]}")
            if b"Server is ready" in self.log.read_bytes():
                return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server did not start:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    binary = find_nats_server()
    if binary is None:
        message = f"nats-server not found ({' or '.join(CANDIDATES)} or on PATH)"
        if _required():
            pytest.fail(
                f"NATS is required ({REQUIRE_NATS_ENV}=1) but {message}: install Debian's "
                "`nats-server` package",
                pytrace=False,
            )
        pytest.skip(f"{message}; install Debian's `nats-server` package to run these tests")
    root = Path(
        tempfile.mkdtemp(prefix=f"ledger-nats-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-")
    )
    server = NatsServer(binary, root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if NATS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.nats)


def pytest_report_header() -> str:
    binary = find_nats_server()
    if binary is None:
        outcome = f"fail ({REQUIRE_NATS_ENV}=1)" if _required() else "be skipped"
        return f"nats: no nats-server found, NATS tests will {outcome}"
    return f"nats: nats-server from {binary}"
