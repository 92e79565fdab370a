"""The API against its own OpenAPI document (schemathesis): requests drawn from
``/openapi.json`` (valid and invalid ones) to a real app on a real SQLite ledger with
tickets, quality records, an authenticated auditor (reads) and an administrator (writes:
every command's endpoint, and `POST /commands`). No answer may be a server error,
and every answer must be one the document describes (status code, content type,
headers, body).

Bounded and deterministic: a fixed number of examples per operation, derandomised, no
deadline (the shared machine is slow at times); the whole run takes well under a minute.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.exceptions import StarletteDeprecationWarning

from ledger.api.routes import StreamSettings
from ledger.bootstrap import Ledger
from ledger.commands.users import Users
from ledger.domain.values import Role
from ledger.web import create_app
from tests.e2e.test_api import served_history
from tests.e2e.test_wrong_kind import foreign_ids
from tests.support import SHANGHAI, USER_ADMIN, open_desk

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 60
"""Examples per read operation (five operations)."""
WRITE_EXAMPLES = 3
"""Examples per write operation (one per command, ~40): the write endpoints are generated
alike, so a few each cover them, and keep the run near a minute."""
STREAM_CUT = 0.3
"""Seconds a caught-up event stream is read before the client hangs up."""


@schemathesis.serializer("application/x-ndjson", "application/jsonl")
def _json_lines(ctx: Any, value: Any) -> bytes:
    """A batch body (a string in the document): its text, as it is."""
    return value.encode() if isinstance(value, str) else orjson.dumps(value)


OPENED: dict[str, Any] = {}
"""The ledger the app opens (``url``, ``clock``) and the auditor's ``token``, set by the
``fuzzed`` fixture before the first request starts the app."""


def _open_fuzzed() -> Ledger:
    return Ledger.open(OPENED["url"], clock=OPENED["clock"], tz=SHANGHAI)


# The stream ends when the server stops; here it polls fast and the client cuts it.
APP = create_app(_open_fuzzed, stream=StreamSettings(poll_interval=0.01, keepalive=0.02, batch=5))
# The document alone (no ledger needed); schemathesis starts the app's lifespan on its first
# request and keeps it for the rest of the process.
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP  # what ``from_asgi`` sets, without fetching the document through the app


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite ledger with served tickets, quality records and an auditor; the token."""
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'ledger.db'}"
    desk = open_desk(url)
    served_history(desk)
    foreign_ids(desk)
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    token = users.add("fuzz", Role.AUDITOR, **USER_ADMIN)[1]
    writer = users.add("fuzz-admin", Role.ADMIN, **USER_ADMIN)[1]
    OPENED.update(url=url, clock=desk.clock, token=token, writer=writer)
    yield token
    asgi.shutdown_lifespans()  # the app's (its ledger closes), else kept until the process exits
    desk.ledger.close()


def _fuzzing(examples: int) -> Any:
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


@schema.include(method="GET").parametrize()
@_fuzzing(EXAMPLES)
def test_the_api_keeps_to_its_schema(case: Any, fuzzed: str) -> None:
    # An event stream is cut after 20 events or, caught up, at the read timeout.
    cut = {"timeout": STREAM_CUT} if case.path == "/feed/stream" else {}
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzzed}"}, checks=CHECKS, **cut)


@schema.include(method="POST").parametrize()
@_fuzzing(WRITE_EXAMPLES)
def test_the_write_api_keeps_to_its_schema(case: Any, fuzzed: str) -> None:
    """Writes by an administrator (who may issue most commands): bad bodies are
    problems, never a server error; good ones are recorded and answered as documented."""
    case.call_and_validate(headers={"Authorization": f"Bearer {OPENED['writer']}"}, checks=CHECKS)


def test_the_fuzzed_app_has_data(fuzzed: str) -> None:
    """The run is meaningful: the token works and the ledger holds tickets."""
    auth = {"Authorization": f"Bearer {fuzzed}"}
    with TestClient(create_app(_open_fuzzed)) as client:
        assert client.get("/tickets/T-2026-000001", headers=auth).status_code == 200
        assert len(client.get("/feed", headers=auth).json()) > 5
