"""The PostgreSQL fixtures: a real, throwaway server and a fresh database per test.

A pytest plugin, loaded by tests/conftest.py (``pytest_plugins``); ``sqlite_url`` and
``db_url`` (parametrised over both databases) are in the conftest.

Fixtures
--------
``pg_url``       a fresh, empty PostgreSQL database per test, dropped afterwards:
                 ``postgresql://postgres@127.0.0.1:<port>/test_<hex>``.
``make_pg_url``  factory for tests that need several databases: ``make_pg_url()``
                 returns another fresh URL; all are dropped when the test ends.
``pg_server``    the session's server (started once, stopped at session end); it only
                 starts when a test that needs it actually runs.

Where the server comes from
---------------------------
* ``LEDGER_TEST_PG_URL`` set (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``): that
  existing server is used; its database is the maintenance database for CREATE/DROP.
* otherwise a throwaway cluster is initialised from Debian's server binaries
  (``/usr/lib/postgresql/<highest version>/bin``, not on PATH) in a temporary directory,
  listening only on 127.0.0.1 on a free port with fsync off, then stopped
  (``-m immediate``) and deleted at session end. As root, initdb/pg_ctl run as the
  ``postgres`` user via ``runuser`` (initdb refuses to run as root).
* no binaries: postgres tests are skipped, unless ``LEDGER_REQUIRE_POSTGRES=1`` (CI), in
  which case they fail.

In parallel (pytest-xdist, ``make test``)
-----------------------------------------
Each xdist worker is a session of its own, so each worker starts **its own throwaway
cluster** (in ``ledger-pg-<worker>-*``, on its own free port) and stops it when it ends.
That costs a few seconds per worker, once, in parallel; in exchange no worker waits on a
lock, none has to find out whether it is the last one to stop a shared server, and a
worker that dies takes only its own cluster with it. The databases are named
``test_<uuid4 hex>``, so workers sharing one ``LEDGER_TEST_PG_URL`` server never collide
either.

Every test that uses a PostgreSQL fixture is marked ``postgres`` automatically, so
``pytest -m "not postgres"`` runs the SQLite side only.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

PG_URL_ENV = "LEDGER_TEST_PG_URL"
REQUIRE_PG_ENV = "LEDGER_REQUIRE_POSTGRES"
DEBIAN_PG_GLOB = "/usr/lib/postgresql/*/bin"
PG_FIXTURES = frozenset({"pg_server", "pg_url", "make_pg_url"})


# --------------------------------------------------------------------------- discovery


def _version_key(bindir: str) -> tuple[int, ...]:
    version = Path(bindir).parent.name  # /usr/lib/postgresql/<version>/bin
    return tuple(int(n) for n in re.findall(r"\d+", version)) or (0,)


def find_pg_bindir() -> Path | None:
    """Directory holding initdb/pg_ctl/postgres: Debian's highest version, else PATH."""
    candidates = [
        d
        for d in glob.glob(DEBIAN_PG_GLOB)
        if all(os.access(os.path.join(d, exe), os.X_OK) for exe in ("initdb", "pg_ctl"))
    ]
    if candidates:
        return Path(max(candidates, key=_version_key))
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


def _postgres_required() -> bool:
    return os.environ.get(REQUIRE_PG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _missing_postgres() -> NoReturn:
    """Skip (or, with LEDGER_REQUIRE_POSTGRES=1, fail) because there is no server."""
    where = f"{DEBIAN_PG_GLOB}/initdb (or initdb on PATH)"
    if _postgres_required():
        pytest.fail(
            f"PostgreSQL is required ({REQUIRE_PG_ENV}=1) but no server binaries were found "
            f"at {where}. Install Debian's `postgresql` package or set {PG_URL_ENV}.",
            pytrace=False,
        )
    pytest.skip(
        f"PostgreSQL server binaries not found at {where}; install Debian's `postgresql` "
        f"package or set {PG_URL_ENV} to run these tests"
    )


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _url_with_db(base: str, dbname: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(("postgresql", parts.netloc, "/" + dbname, parts.query, ""))


def _worker() -> str:
    """This process's xdist worker id (``gw0``, ``gw1``, …), ``main`` when not under xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@dataclass
class PgServer:
    """A PostgreSQL server the tests may create databases on."""

    admin_url: str  # maintenance database, used for CREATE/DROP DATABASE
    managed: bool  # True: the throwaway cluster started by this session
    bindir: Path | None = None
    datadir: Path | None = None
    port: int | None = None

    def url_for(self, dbname: str) -> str:
        return _url_with_db(self.admin_url, dbname)

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)

    def create_database(self) -> str:
        """Create an empty database and return its URL."""
        dbname = f"test_{uuid.uuid4().hex}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return self.url_for(dbname)

    def drop_database(self, url: str) -> None:
        dbname = urlsplit(url).path.lstrip("/")
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )


class _Cluster:
    """initdb + pg_ctl for a throwaway cluster in a temporary directory."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix=f"ledger-pg-{_worker()}-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self.port = 0
        self.started = False
        if self.as_root:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                raise RuntimeError(
                    "running as root, but there is no `postgres` user to run initdb as "
                    "(initdb refuses to run as root)"
                ) from None
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _run(self, exe: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / exe), *args]
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        proc = subprocess.run(
            argv,
            cwd=self.root,  # a cwd the postgres user can enter (not e.g. /root)
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(argv)} exited with {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}\n"
                f"--- server log\n{self._log_tail()}"
            )
        return proc

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-40:])
        except OSError:
            return "(no log)"

    def start(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--auth=trust",
            "--no-sync",
        )
        # Only the local socket and 127.0.0.1, no password.
        (self.datadir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        last_error: Exception | None = None
        for _attempt in range(3):  # the free port may be taken before the server binds it
            self.port = _free_port()
            options = [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={shlex.quote(str(self.root))}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
            try:
                self._run(
                    "pg_ctl",
                    "start",
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    " ".join(options),
                )
            except RuntimeError as exc:
                last_error = exc
                time.sleep(0.2)
                continue
            self.started = True
            return
        raise RuntimeError(f"could not start the throwaway PostgreSQL server:\n{last_error}")

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "stop", "-D", str(self.datadir), "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (see the module docstring for where it comes from)."""
    external = os.environ.get(PG_URL_ENV, "").strip()
    if external:
        parts = urlsplit(external)
        server = PgServer(
            admin_url=urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, "")),
            managed=False,
            port=parts.port,
        )
        try:
            with server._admin() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            pytest.fail(f"{PG_URL_ENV}={external!r} is not reachable: {exc}", pytrace=False)
        yield server
        return

    bindir = find_pg_bindir()
    if bindir is None:
        _missing_postgres()
    cluster = _Cluster(bindir)
    try:
        cluster.start()
        yield PgServer(
            admin_url=f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres",
            managed=True,
            bindir=bindir,
            datadir=cluster.datadir,
            port=cluster.port,
        )
    finally:
        cluster.stop()


# --------------------------------------------------------------------------- per test


@pytest.fixture
def make_pg_url(pg_server: PgServer) -> Iterator[Callable[[], str]]:
    """Factory: each call creates another fresh database; all are dropped after the test."""
    urls: list[str] = []

    def make() -> str:
        url = pg_server.create_database()
        urls.append(url)
        return url

    yield make
    for url in reversed(urls):
        pg_server.drop_database(url)


@pytest.fixture
def pg_url(make_pg_url: Callable[[], str]) -> str:
    """A fresh, empty PostgreSQL database for this test: postgresql://postgres@127.0.0.1:PORT/DB."""
    return make_pg_url()


# --------------------------------------------------------------------------- hooks


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PG_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


def pytest_report_header() -> str:
    external = os.environ.get(PG_URL_ENV, "").strip()
    if external:
        return f"postgres: existing server from {PG_URL_ENV}={external}"
    bindir = find_pg_bindir()
    if bindir is None:
        outcome = f"fail ({REQUIRE_PG_ENV}=1)" if _postgres_required() else "be skipped"
        return f"postgres: no server binaries found, postgres tests will {outcome}"
    return f"postgres: throwaway cluster from {bindir}"
