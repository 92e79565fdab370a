"""``ledger serve`` in a child process for the browser tests: started on a free port, waited
for, stopped with SIGTERM; its log must end clean (exit 0, no traceback)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


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
