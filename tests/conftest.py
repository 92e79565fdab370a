"""Shared fixtures and the layout of the suite.

Layout (by scope)
-----------------
``tests/unit/``         pure: the domain's rules, command models, view models; no database,
                        no subprocess, no server (``make test-unit``, the fast loop).
``tests/integration/``  storage, services, projections and reports on real SQLite files and
                        a real PostgreSQL server.
``tests/e2e/``          the ``ledger`` command (subprocess or click's CliRunner), the HTTP API,
                        the dashboard over HTTP and in Chromium.
Helpers shared by all three stay here: tests/support.py, tests/histories.py (``from
tests.support import ...``); the PostgreSQL server and its fixtures are the plugin
tests/pg_server.py; the browser (Debian's Chromium) is launched by tests/e2e/conftest.py,
and the browser tests' shared moves (login, screenshot, signature) are tests/e2e/browser.py.

Fixtures
--------
``sqlite_url``   ``sqlite:///<tmp_path>/ledger.db`` (function scope).
``db_url``       parametrised over ``sqlite`` and ``postgres`` (test ids ``[sqlite]`` and
                 ``[postgres]``); the PostgreSQL server only starts when a postgres case
                 actually runs.
``pg_url``, ``make_pg_url``, ``pg_server``: see tests/pg_server.py.

In parallel (``make test``: pytest-xdist, ``--dist loadfile``)
-------------------------------------------------------------
Every worker has its own temporary directory (``tmp_path``), its own PostgreSQL cluster
(tests/pg_server.py) and its own free ports. A test file runs whole on one worker: what a
module builds once (a module-scoped fixture: the browser tests' demo server, the role
matrix's ledger) is built once, and the browser tests are the only writers of
``test-artifacts/`` and ``docs/img/``. (``--dist loadgroup`` with ``xdist_group`` marks
would be finer, but pytest-xdist 3.8 on pytest 9.2 drops the groups silently:
pytest-dev/pytest-xdist#1386.) Hypothesis's example database (``.hypothesis/``) is shared:
it writes each example atomically, and each property test runs on one worker only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.pg_server", "tests.nats_server"]

UNIT_DIR = Path(__file__).parent / "unit"
DATABASE_FIXTURES = frozenset({"sqlite_url", "db_url", "pg_url", "make_pg_url", "pg_server"})


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test once against SQLite and once against PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


# --------------------------------------------------------------------------- hooks


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if path.is_relative_to(UNIT_DIR) and DATABASE_FIXTURES.intersection(
            getattr(item, "fixturenames", ())
        ):
            raise pytest.UsageError(
                f"{item.nodeid} uses a database fixture; tests/unit/ is for tests without "
                "a database: move it to tests/integration/"
            )
