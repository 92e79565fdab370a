"""The throwaway PostgreSQL fixtures really give a working, isolated database per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import psycopg
import pytest
from sqlalchemy import text

from ledger.bootstrap import Ledger

if TYPE_CHECKING:
    from tests.pg_server import PgServer

REPO = Path(__file__).resolve().parents[2]
USER_TABLES = """
    SELECT table_schema || '.' || table_name FROM information_schema.tables
    WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
"""

# Databases handed out by earlier runs of the parametrised test below.
_seen_databases: set[str] = set()


def test_pg_url_connects_over_loopback(pg_url: str, pg_server: PgServer) -> None:
    parts = urlsplit(pg_url)
    assert parts.scheme == "postgresql"
    assert parts.path.lstrip("/").startswith("test_")
    with psycopg.connect(pg_url, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        row = conn.execute("SELECT current_database(), host(inet_server_addr())").fetchone()
        assert row is not None
        assert row[0] == parts.path.lstrip("/")
        if pg_server.managed:
            assert pg_url == f"postgresql://postgres@127.0.0.1:{pg_server.port}/{row[0]}"
            assert row[1] == "127.0.0.1"
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)


@pytest.mark.parametrize("run", [1, 2])
def test_each_database_is_distinct_and_empty(
    run: int, pg_url: str, make_pg_url: Callable[[], str], pg_server: PgServer
) -> None:
    other = make_pg_url()
    assert other != pg_url
    names = []
    for url in (pg_url, other):
        with psycopg.connect(url, connect_timeout=10) as conn:
            (name,) = conn.execute("SELECT current_database()").fetchone() or (None,)
            assert name not in _seen_databases, f"database {name} handed out twice"
            assert conn.execute(USER_TABLES).fetchall() == []
            # Leave something behind: a reused database would show it in the next run.
            conn.execute("CREATE TABLE leftover (run int)")
            conn.execute("INSERT INTO leftover VALUES (%s)", (run,))
        names.append(name)
    assert names[0] != names[1]

    # Databases from earlier tests were dropped when those tests ended.
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        existing = {r[0] for r in admin.execute("SELECT datname FROM pg_database").fetchall()}
    assert not (_seen_databases & existing)
    assert set(names) <= existing
    _seen_databases.update(names)


WORKER_PROBE = """
import json, os

import psycopg


def test_probe(pg_url, pg_server):
    with psycopg.connect(pg_url, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    seen = {"url": pg_url, "port": pg_server.port, "managed": pg_server.managed,
            "datadir": str(pg_server.datadir)}
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(os.path.join(os.environ["PROBE_OUT"], worker + ".json"), "w") as out:
        json.dump(seen, out)
"""


def test_each_xdist_worker_has_a_server_of_its_own(tmp_path: Path, pg_server: PgServer) -> None:
    """``pytest -n 2``: each worker is a session with its own throwaway cluster (own port,
    own directory named after the worker), or its own databases on LEDGER_TEST_PG_URL."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n")
    (suite / "conftest.py").write_text('pytest_plugins = ["tests.pg_server"]\n')
    (suite / "test_probe.py").write_text(WORKER_PROBE)
    out = tmp_path / "out"
    out.mkdir()
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath, "PROBE_OUT": str(out)}
    env.pop("PYTEST_XDIST_WORKER", None)
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"]
    argv += ["--dist", "each", f"--basetemp={tmp_path / 'tmp'}", "test_probe.py"]
    run = subprocess.run(argv, cwd=suite, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    seen = {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}
    assert sorted(seen) == ["gw0", "gw1"]
    assert seen["gw0"]["url"] != seen["gw1"]["url"]
    if pg_server.managed:
        assert seen["gw0"]["port"] != seen["gw1"]["port"]
        for worker, server in seen.items():
            assert server["managed"]
            assert Path(server["datadir"]).parent.name.startswith(f"ledger-pg-{worker}-")
            assert not Path(server["datadir"]).exists()  # stopped and deleted at the end


def test_the_ledgers_sessions_are_in_utc_whatever_the_servers_zone(
    pg_url: str, pg_server: PgServer
) -> None:
    """The ledger's engine sets each session's zone to UTC, so psycopg hands back times as
    ``datetime.UTC`` rather than in a ``ZoneInfo`` each read must convert (the server's
    default here is the machine's zone; a server set to Asia/Shanghai reads the same)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        conn.execute(f"ALTER DATABASE \"{database[0]}\" SET TimeZone = 'Asia/Shanghai'")
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SHOW TimeZone").fetchone() == ("Asia/Shanghai",)
    subprocess.run(
        [sys.executable, "-m", "ledger", "--db", pg_url, "init"],
        check=True,
        capture_output=True,
        env={**os.environ, "LEDGER_ACTOR": "admin", "LEDGER_ROLE": "admin"},
    )
    with Ledger.open(pg_url) as ledger, ledger.engine.connect() as conn:
        assert conn.execute(text("SHOW TimeZone")).scalar() == "UTC"
        now = conn.execute(text("SELECT now()")).scalar()
        assert now is not None and now.tzinfo is UTC
