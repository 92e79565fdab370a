"""Every README and docs example runs as written.

The commands are read from README.md and docs/*.md themselves (never copied here) and run
one by one through bash, in a temporary directory, with the virtualenv's ``ledger`` on
PATH and this checkout's ``ledger`` package first on PYTHONPATH. The real clock is used
(the examples give explicit past times with ``--at``); nothing relies on ``LEDGER_NOW``.

What runs, in order, on one fresh ledger:

- README.md, "Using it": every command must exit 0, except two that never end by
  themselves, which are checked otherwise: ``ledger feed ... --follow`` must print a
  CloudEvent and is then stopped; ``ledger serve`` is started with ``--port`` added (a
  free port: other test runs may hold 8000), must answer ``/openapi.json`` and
  ``/dashboard``, and is then stopped.
- docs/contracts.md, "Loading and checking" and "Calendar files" (the latter with the
  ``2027.toml`` shown just above it written to the directory).
- docs/quality.md, "Commands" (it needs the README's closed T-2026-000001).
- docs/api.md's ``sh`` blocks (the read example, then the write example: a hotline
  system reports, a dispatcher responds with ``Idempotency-Key`` and ``If-Match``), with
  the server on a free port instead of 8000, ``curl --fail`` so an HTTP error fails, and
  the event stream (``curl -N``, endless) cut after its first event.
- docs/api.md's "Attachments" block likewise (an engineer's phone attaching a photo to the
  README's ticket; the photo is written first).
- docs/notifications.md, "Trying it" (the rules of ``examples/notify-rules.toml``).
- docs/api.md's ``sh`` block, with the server on a free port instead of 8000, ``curl
  --fail`` so an HTTP error fails, and the event stream (``curl -N``, endless) cut after
  its first event.

Not executed: docs/cli.md has no self-contained shell block (its blocks are synopses
with ``[--option VALUE]`` placeholders, outputs and JSON); docs/contracts.md's "Revisions"
example needs a revised ``seed-002.toml`` the docs do not give; docs/dashboard.md's block
runs ``make demo`` (minutes, and a fixed demo clock); docs/performance.md's runs the
benchmarks. docs/feed.md's "At scale" blocks need a NATS server: tests/e2e/test_relay_nats.py
runs them (the one-machine block as written, the three-node cluster from its config).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
VENV = Path(sys.prefix)
TIMEOUT = 120


def section_blocks(path: Path, heading: str, langs: tuple[str, ...] = ("bash", "sh")) -> list[str]:
    """The fenced shell blocks under the Markdown heading ``heading`` (up to the next
    heading of the same or a higher level)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    level = None
    blocks: list[str] = []
    current: list[str] | None = None
    fenced = False  # inside any fenced block: a "# ..." line there is not a heading
    for line in lines:
        if fenced:
            if line.startswith("```"):
                fenced = False
                if current is not None:
                    blocks.append("\n".join(current))
                    current = None
            elif current is not None:
                current.append(line)
            continue
        m = re.match(r"(#+) (.*)", line)
        if m:
            if m.group(2).strip() == heading:
                level = len(m.group(1))
            elif level is not None and len(m.group(1)) <= level:
                break
            continue
        if line.startswith("```"):
            fenced = True
            if level is not None and line[3:].strip() in langs:
                current = []
    assert blocks, f"{path.name}: no {'/'.join(langs)} block under {heading!r}"
    return blocks


def toml_block_before(path: Path, marker: str) -> str:
    """The ```toml block that mentions ``marker`` (e.g. a file name) in its first line."""
    text = path.read_text(encoding="utf-8")
    for m in re.finditer(r"```toml\n(.*?)```", text, re.S):
        if marker in m.group(1).splitlines()[0]:
            return m.group(1)
    raise AssertionError(f"{path.name}: no toml block for {marker}")


def commands(block: str) -> list[str]:
    """Logical command lines: continuations joined, blank and comment-only lines dropped."""
    out: list[str] = []
    pending = ""
    for line in block.splitlines():
        if pending:
            line = pending + " " + line.strip()
            pending = ""
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1].rstrip()
            continue
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(line.strip())
    assert not pending
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Shell:
    """Runs doc lines one at a time; ``source``/``export`` lines are kept and replayed
    before each later command, as they would be in one interactive shell."""

    cwd: Path
    env: dict[str, str]
    state: list[str] = field(default_factory=list)

    def script(self, cmd: str) -> str:
        return "\n".join(["set -e", *self.state, cmd])

    def run(self, cmd: str) -> subprocess.CompletedProcess[str]:
        if cmd.startswith(("source ", "export ")):
            self.state.append(cmd)
        return subprocess.run(
            ["bash", "-c", self.script(cmd)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def start(self, cmd: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ["bash", "-c", self.script("exec " + cmd)],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        watchdog = threading.Timer(TIMEOUT, proc.kill)  # never hang the suite
        watchdog.daemon = True
        watchdog.start()
        return proc

    def expect_ok(self, cmd: str) -> subprocess.CompletedProcess[str]:
        done = self.run(cmd)
        assert done.returncode == 0, (
            f"`{cmd}` exited {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        )
        return done


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def wait_for_http(url: str, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, (
            f"the server exited: {proc.stderr.read() if proc.stderr else ''}"
        )
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def check_follow(shell: Shell, cmd: str) -> None:
    """``--follow`` never ends: it must print a CloudEvent first; then it is stopped."""
    proc = shell.start(cmd)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    err = stop(proc)
    assert '"specversion"' in first, f"`{cmd}` printed {first!r}; stderr: {err}"


def check_serve(shell: Shell, cmd: str) -> None:
    """``ledger serve`` never ends: on a free port, it must answer, then it is stopped."""
    port = free_port()
    proc = shell.start(f"{cmd} --port {port}")
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/openapi.json", proc) == 200
        # the dashboard answers (its login page for a visitor without a session)
        assert wait_for_http(f"http://127.0.0.1:{port}/dashboard", proc) == 200
    finally:
        stop(proc)


def run_block(shell: Shell, block: str) -> None:
    for cmd in commands(block):
        if re.match(r"ledger serve\b", cmd):
            check_serve(shell, cmd.split("#")[0].strip())
        elif "--follow" in cmd.split("#")[0]:
            check_follow(shell, cmd.split("#")[0].strip())
        else:
            shell.expect_ok(cmd)


def api_script(block: str, port: int) -> str:
    """docs/api.md's block as one script (``TOKEN`` carries over): the server on ``port``
    and waited for, HTTP errors fail, the endless stream cut after its first event."""
    out = ["set -eu"]
    for cmd in commands(block):
        cmd = cmd.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        if re.match(r"ledger serve\b.*&$", cmd):
            out.append(cmd[:-1].strip() + f" --port {port} & server=$!")
            out.append("trap 'kill $server' EXIT")
            out.append(
                f"for i in $(seq 400); do curl -s -o /dev/null http://127.0.0.1:{port}/openapi.json"
                " && break; sleep 0.3; done"
            )
        elif cmd.startswith("curl -N"):
            out.append(
                cmd.replace("curl -N", "curl -N --fail --max-time 30", 1)
                + " | grep -m1 -q '^event:'"
            )
        elif cmd.startswith("curl"):
            out.append(cmd.replace("curl", "curl --fail --silent --output /dev/null", 1))
        else:
            out.append(cmd)
    return "\n".join(out)


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    assert (VENV / "bin" / "ledger").exists(), f"no ledger script in {VENV}/bin"
    home = tmp_path_factory.mktemp("newcomer")
    (home / ".venv").symlink_to(VENV)
    (home / "examples").symlink_to(REPO / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    yield Shell(home, env)


def test_readme_using_it_runs_as_written(shell: Shell) -> None:
    (block,) = section_blocks(REPO / "README.md", "Using it")
    run_block(shell, block)
    shown = shell.expect_ok("ledger ticket show T-2026-000001 --json").stdout
    assert '"status": "closed"' in shown
    for made in ("review.xlsx", "auditor.key", "auditor.key.pub", "digest-2026-11-01.json"):
        assert (shell.cwd / made).exists(), made
    assert (shell.cwd / "T-2026-000001.pdf").read_bytes().startswith(b"%PDF")


def test_contracts_md_examples_run(shell: Shell) -> None:
    doc = REPO / "docs" / "contracts.md"
    (load,) = section_blocks(doc, "Loading and checking")
    run_block(shell, load)
    (shell.cwd / "2027.toml").write_text(toml_block_before(doc, "2027.toml"), encoding="utf-8")
    (calendar,) = section_blocks(doc, "Calendar files")
    run_block(shell, calendar)


def test_quality_md_examples_run(shell: Shell) -> None:
    # needs the README's closed ticket T-2026-000001
    shell.expect_ok("ledger ticket show T-2026-000001")
    (block,) = section_blocks(REPO / "docs" / "quality.md", "Commands")
    run_block(Shell(shell.cwd, shell.env), block)


def test_notifications_md_example_runs(shell: Shell) -> None:
    (block,) = section_blocks(REPO / "docs" / "notifications.md", "Trying it")
    run_block(Shell(shell.cwd, shell.env), block)


def run_api_block(shell: Shell, block: str) -> None:
    done = subprocess.run(
        ["bash", "-c", api_script(block, free_port())],
        cwd=shell.cwd,
        env=shell.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, f"stdout: {done.stdout}\nstderr: {done.stderr}"


def test_api_md_example_runs(shell: Shell) -> None:
    # The page's first block (its other one is the write example's, below).
    block = section_blocks(REPO / "docs" / "api.md", "The HTTP API (`ledger serve`)")[0]
    run_api_block(shell, block)


def test_api_md_write_example_runs(shell: Shell) -> None:
    # needs the README's ledger (seed-002 loaded)
    heading = "A hotline system reports a ticket, the dispatcher responds"
    (block,) = section_blocks(REPO / "docs" / "api.md", heading)
    run_api_block(shell, block)
    feed = shell.expect_ok("ledger feed --type 'ledger.ticket.*'").stdout.splitlines()
    events = [json.loads(line) for line in feed]
    reported = [e for e in events if e["actor"] == "call-centre" and "reported" in e["type"]]
    responded = [e for e in events if e["actor"] == "调度-李娜"]
    assert len(reported) == 1 and len(responded) == 1  # the retried report: recorded once
    assert responded[0]["subject"] == reported[0]["subject"]


def test_api_md_attachments_example_runs(shell: Shell) -> None:
    # needs the README's T-2026-000001, dispatched to 王工; the phone's picture is a JPEG
    shell.expect_ok("ledger ticket show T-2026-000001")
    (shell.cwd / "site-photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))
    (block,) = section_blocks(REPO / "docs" / "api.md", "Attachments")
    done = subprocess.run(
        ["bash", "-c", api_script(block, free_port())],
        cwd=shell.cwd,
        env=shell.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, f"stdout: {done.stdout}\nstderr: {done.stderr}"
    shown = shell.expect_ok("ledger ticket show T-2026-000001 --json").stdout
    assert '"file_name": "site-photo.jpg"' in shown and '"attached_by": "王工"' in shown
    assert "ok      evidence" in shell.expect_ok("ledger verify").stdout
