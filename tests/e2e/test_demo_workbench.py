"""``make demo`` prints how to open the workbench as each role: examples/demo.sh's own
workbench section (read from the script, never copied here) run on a fresh ledger; every
line it prints names a user of that role whose token logs in and lands on a page that
answers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

from starlette.exceptions import StarletteDeprecationWarning

from ledger.commands.users import Users
from ledger.web import create_app
from tests.e2e.test_cli import Cli

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo.sh"
LINE = re.compile(
    r"^(?P<role>[a-z_]+) (?P<name>\S+): http://127\.0\.0\.1:8000/login\?next=(?P<page>\S+)\n"
    r"    token (?P<token>ldg_\S+)$",
    re.M,
)
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
ROLES = {"dispatcher", "engineer", "quality", "chief_engineer_office", "customer"}


def workbench_section() -> str:
    """The script's lines from the workbench's section heading to the end of its users."""
    text = DEMO.read_text(encoding="utf-8")
    start = text.index('section "The workbench')
    end = text.index("\nUSERS\n", start) + len("\nUSERS\n")
    return text[start:end]


def test_make_demo_prints_a_workbench_login_for_each_role(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/ledger.db"
    cli = Cli(db)
    cli.run("init", "--fixed-clock")  # as the demo's ledger
    ledger_command = tmp_path / "ledger"
    ledger_command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ledger "$@"\n')
    ledger_command.chmod(0o755)
    script = "section() { printf '\\n== %s\\n' \"$1\"; }\n" + workbench_section()
    env = {**cli.env, "LEDGER": str(ledger_command), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = [m.groupdict() for m in LINE.finditer(done.stdout)]
    assert {p["role"] for p in printed} == ROLES, done.stdout
    for p in printed:  # kept 0600, as the script says
        kept = tmp_path / "demo" / "tokens" / f"{p['name']}.txt"
        assert kept.read_text().strip() == p["token"]
        assert os.stat(kept).st_mode & 0o077 == 0

    app = create_app(db)
    with TestClient(app, follow_redirects=False) as client:
        users = Users(app.state.ledger.engine, app.state.ledger.clock, app.state.ledger.app)
        for p in printed:
            assert users.get(p["name"]).role.value == p["role"]
            client.cookies.clear()
            found = CSRF_FIELD.search(client.get("/login").text)
            assert found is not None
            form = {"name": p["name"], "token": p["token"], "csrf": found[1], "next": p["page"]}
            logged_in = client.post("/login", data=form)
            assert logged_in.status_code == 303, (p, logged_in.text[:300])
            assert logged_in.headers["location"] == p["page"]
            page = client.get(p["page"])
            assert page.status_code == 200, (p, page.status_code)
            assert p["name"] in page.text
