"""The write API (``ledger/api/writes.py``, docs/api.md): the same events as the CLI, who
acts from the token, the role matrix over HTTP, ``Idempotency-Key`` (also with 8 clients at
once, across a restart and a SIGKILL), ``ETag`` / ``If-Match``, problems (RFC 9457) with
the CLI's messages, ``POST /commands`` as ``ledger import``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from starlette.exceptions import StarletteDeprecationWarning

from ledger.api.writes import MAX_BODY, write_route, write_routes
from ledger.bootstrap import Ledger
from ledger.cli import cli as ledger_cli
from ledger.clock import SystemClock
from ledger.commands.models import CommandError
from ledger.commands.registry import ALLOWED, COMMANDS, QUALITY_COMMAND_NAMES, parse_command
from ledger.commands.users import Users
from ledger.domain.values import Role
from ledger.integrity.verify import verify_ledger
from ledger.web import create_app
from tests.e2e.test_api import _free_port
from tests.integration.test_roles import ACTOR, _build_world
from tests.support import (
    REPORT,
    SEED_CONTRACTS,
    SHANGHAI,
    START,
    USER_ADMIN,
    load_seed_contracts,
    open_desk,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
REPORT_BODY = {k: v for k, v in REPORT.items() if k not in ("command", "actor", "role")}
PEOPLE = {"hotline": Role.SYSTEM, "李娜": Role.DISPATCHER, "王工": Role.ENGINEER}


@dataclass
class Http:
    client: TestClient
    ledger: Ledger
    users: Users
    url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def post(self, path: str, body: Any, user: str = "李娜", **headers: str) -> httpx.Response:
        auth = {"Authorization": f"Bearer {self.tokens[user]}", **headers}
        if isinstance(body, bytes):
            return self.client.post(path, content=body, headers=auth)
        return self.client.post(path, json=body, headers=auth)

    def get(self, path: str, user: str = "hotline") -> httpx.Response:
        return self.client.get(path, headers={"Authorization": f"Bearer {self.tokens[user]}"})


def _app(url: str, clock: Any) -> Any:
    return create_app(lambda: Ledger.open(url, clock=clock, tz=SHANGHAI))


@pytest.fixture
def http(db_url: str) -> Iterator[Http]:
    desk = open_desk(db_url)
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    with TestClient(_app(db_url, desk.clock)) as client:
        result = Http(client, desk.ledger, users, db_url)
        for name, role in {**PEOPLE, "审计": Role.AUDITOR}.items():
            result.tokens[name] = users.add(name, role, **USER_ADMIN)[1]
        yield result
    desk.ledger.close()


def _ticket_events(ledger: Ledger, number: str) -> list[dict[str, Any]]:
    """A ticket's events, without what differs between two tickets of one story: ids,
    numbers and recorded times."""
    return [
        e.model_dump(mode="json", exclude={"originator_id", "timestamp", "number"})
        for e in ledger.tickets.history(number)
    ]


# --------------------------------------------------------------------------- parity

STORY: list[tuple[str, str, dict[str, Any]]] = [
    # (command, who, fields): one ticket's life, two steps recorded late (back-dated)
    ("respond", "李娜", {"at": "2026-10-08T09:04"}),
    ("dispatch", "李娜", {"engineer": "王工", "at": "2026-10-08T09:05"}),
    ("arrive", "王工", {"at": "2026-10-08T09:24"}),
    ("resolve", "王工", {"summary": "更换主板", "at": "2026-10-08T09:30"}),
    ("sign", "王工", {"signer": "张三", "at": "2026-10-08T09:31"}),
    ("close", "李娜", {}),
]


def _cli(url: str, user: str, *args: str) -> dict[str, Any]:
    env = {
        "LEDGER_NOW": "2026-10-08T12:00",
        "LEDGER_TZ": "Asia/Shanghai",
        "LEDGER_ACTOR": user,
        "LEDGER_ROLE": PEOPLE[user].value,
    }
    result = CliRunner().invoke(ledger_cli, ["--db", url, *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _options(fields: dict[str, Any]) -> list[str]:
    return [x for k, v in fields.items() for x in (f"--{k.replace('_', '-')}", str(v))]


def test_the_cli_and_http_record_the_same_events(http: Http) -> None:
    http.ledger.clock.advance(START.replace(hour=4) - START)  # 12:00 in Shanghai
    report = {**REPORT_BODY, "at": "2026-10-08T09:00"}
    by_cli = _cli(http.url, "hotline", "ticket", "report", *_options(report))["number"]
    for command, who, fields in STORY:
        verb = command.replace("_", "-")
        _cli(http.url, who, "ticket", verb, by_cli, *_options(fields))
    by_http = http.post("/tickets", {**report, "at": report.pop("at")}, "hotline")
    assert by_http.status_code == 201, by_http.json()
    number = by_http.json()["number"]
    for command, who, fields in STORY:
        # The client's `occurred_at` is the CLI's --at.
        body = {"occurred_at" if k == "at" else k: v for k, v in fields.items()}
        answer = http.post(f"/tickets/{number}/{command}", body, who)
        assert answer.status_code == 200, answer.json()
    assert number != by_cli
    assert _ticket_events(http.ledger, number) == _ticket_events(http.ledger, by_cli)
    # Back-dating is flagged alike: the history's flags are the CLI's.
    cli_history = _cli(http.url, "hotline", "ticket", "history", by_cli)
    http_history = http.get(f"/tickets/{number}/history").json()
    assert [e["backdated"] for e in http_history] == [e["backdated"] for e in cli_history]
    assert any(e["backdated"] for e in http_history)
    shown = http.get(f"/tickets/{number}")
    assert shown.json()["status"] == "closed" and shown.headers["etag"] == '"7"'


# --------------------------------------------------------------------------- who acts


def test_who_acts_is_the_token_never_the_body(http: Http) -> None:
    answer = http.post("/tickets", {**REPORT_BODY, "actor": "某人", "role": "admin"}, "hotline")
    assert answer.status_code == 422
    assert [e["path"] for e in answer.json()["errors"]] == ["actor", "role"]
    reported = http.post("/tickets", REPORT_BODY, "hotline").json()["number"]
    http.post(f"/tickets/{reported}/dispatch", {"engineer": "王工"})
    (reported_event, dispatched) = http.ledger.tickets.history(reported)
    assert (reported_event.actor, reported_event.role) == ("hotline", Role.SYSTEM)
    assert (dispatched.actor, dispatched.role) == ("李娜", Role.DISPATCHER)
    # An engineer acts only on the tickets dispatched to them (the deciders' rule).
    _, token = http.users.add("孙工", Role.ENGINEER, **USER_ADMIN)
    http.tokens["孙工"] = token
    refused = http.post(f"/tickets/{reported}/arrive", {}, "孙工")
    assert refused.status_code == 422
    assert "dispatched to 王工" in refused.json()["detail"]
    assert http.post(f"/tickets/{reported}/arrive", {}, "王工").status_code == 200
    # An auditor reads, never writes.
    denied = http.post(f"/tickets/{reported}/respond", {}, "审计")
    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:ledger:problem:forbidden-role"


# --------------------------------------------------------------------------- problems


def _cli_problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(CommandError) as refused:
        parse_command(data, SHANGHAI)
    return refused.value.problems


def test_bad_input_is_a_problem_with_the_clis_messages(http: Http) -> None:
    bad = {**REPORT_BODY, "contact_phone": "12", "severity": "soon"}
    del bad["site"]
    answer = http.post("/tickets", bad, "hotline")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    expected = _cli_problems({"command": "report", "actor": "x", "role": "system", **bad})
    assert problem["detail"] == "invalid command: " + "; ".join(expected)
    assert [f"{e['path']}: {e['message']}" for e in problem["errors"]] == expected
    assert {e["path"] for e in problem["errors"]} == {"contact_phone", "severity", "site"}
    assert problem["type"] == "urn:ledger:problem:invalid-input"
    assert problem["instance"] == "/tickets" and problem["status"] == 422
    assert problem["title"] == "Unprocessable Entity"


@pytest.mark.parametrize(
    ("send", "status"),
    [
        ({"body": b"{not json"}, 422),
        ({"body": b"[1, 2]"}, 422),
        ({"body": b"{}", "content-type": "text/plain"}, 415),
        ({"body": b"{}", "content-type": None}, 415),
        ({"body": b"{" + b" " * MAX_BODY + b"}"}, 413),
        ({"body": {"note": "x", "ticket": "T-2026-000002"}}, 422),
        ({"body": {"note": "x", "command": "close"}}, 422),
        ({"body": {"at": "2026-10-08T09:00", "occurred_at": "2026-10-08T09:00"}}, 422),
        ({"body": {"note": "x"}, "path": "/tickets/T-2026-000099/respond"}, 404),
        ({"body": {"note": "x"}, "Idempotency-Key": "\x7f" + "k" * 10}, 422),
        ({"body": {"note": "x"}, "Idempotency-Key": "k" * 201}, 422),
        ({"body": {"note": "x"}, "token": "nonsense"}, 401),
        ({"body": {}, "method": "DELETE", "path": "/tickets"}, 405),
    ],
)
def test_every_refusal_is_a_problem(http: Http, send: dict[str, Any], status: int) -> None:
    number = http.post("/tickets", REPORT_BODY, "hotline").json()["number"]
    path = send.get("path", f"/tickets/{number}/respond")
    headers = {"Authorization": f"Bearer {send.get('token', http.tokens['李娜'])}"}
    if "Idempotency-Key" in send:
        headers["Idempotency-Key"] = send["Idempotency-Key"]
    body = send["body"]
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    if send.get("content-type", "application/json") is not None:
        headers["Content-Type"] = send.get("content-type", "application/json")
    answer = http.client.request(send.get("method", "POST"), path, content=content, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["status"] == status and problem["detail"] and problem["instance"] == path
    assert http.ledger.tickets.get(number).version == 1  # nothing recorded


# --------------------------------------------------------------------------- If-Match


def test_if_match_writes_only_on_the_version_read(http: Http) -> None:
    number = http.post("/tickets", REPORT_BODY, "hotline").json()["number"]
    read = http.get(f"/tickets/{number}")
    assert read.headers["etag"] == '"1"'
    http.post(f"/tickets/{number}/respond", {})  # someone else, meanwhile
    stale = http.post(f"/tickets/{number}/dispatch", {"engineer": "王工"}, **{"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    assert stale.headers["etag"] == '"2"'
    assert stale.json()["type"] == "urn:ledger:problem:precondition-failed"
    weak = http.post(f"/tickets/{number}/dispatch", {"engineer": "王工"}, **{"If-Match": 'W/"2"'})
    assert weak.status_code == 412  # a weak tag never matches (strong comparison)
    assert http.ledger.tickets.get(number).version == 2
    fresh = http.post(f"/tickets/{number}/dispatch", {"engineer": "王工"}, **{"If-Match": '"2"'})
    assert fresh.status_code == 200 and fresh.headers["etag"] == '"3"'
    anything = http.post(f"/tickets/{number}/suspend", {"reason": "等客户"}, **{"If-Match": "*"})
    assert anything.status_code == 200 and anything.headers["etag"] == '"4"'
    created = http.post("/tickets", REPORT_BODY, "hotline", **{"If-Match": "*"})
    assert created.status_code == 412  # a new record has no version to match


# --------------------------------------------------------------------------- idempotency


def test_the_same_key_answers_the_first_answer_and_records_once(http: Http) -> None:
    key = {"Idempotency-Key": "hotline-call-0001"}
    first = http.post("/tickets", REPORT_BODY, "hotline", **key)
    assert first.status_code == 201 and first.headers["location"] == "/tickets/T-2026-000001"
    count = http.ledger.event_count()
    # The same body (keys in another order) is the same request.
    again = http.post("/tickets", dict(reversed(REPORT_BODY.items())), "hotline", **key)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.headers["etag"] == first.headers["etag"]
    assert http.ledger.event_count() == count
    other = http.post("/tickets", {**REPORT_BODY, "site": "另一处"}, "hotline", **key)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:ledger:problem:idempotency-key-reused"
    # A key is the user's own: another user's same key is another request.
    theirs = http.post("/tickets", REPORT_BODY, "李娜", **key)
    assert theirs.status_code == 201 and theirs.json()["number"] == "T-2026-000002"
    # A replay is answered after the record changed: the answer is still the first one.
    http.post(f"/tickets/{first.json()['number']}/respond", {})
    assert http.post("/tickets", REPORT_BODY, "hotline", **key).json() == first.json()


def test_a_key_is_the_users_own_whatever_the_names(http: Http) -> None:
    """User ``a:b`` with key ``c`` and user ``a`` with key ``b:c`` are two requests."""
    for name, key in (("a:b", "c"), ("a", "b:c")):
        http.tokens[name] = http.users.add(name, Role.SYSTEM, **USER_ADMIN)[1]
        answer = http.post("/tickets", REPORT_BODY, name, **{"Idempotency-Key": key})
        assert answer.status_code == 201 and "idempotent-replayed" not in answer.headers


def test_keys_survive_a_restart(db_url: str) -> None:
    desk = open_desk(db_url)
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    token = users.add("hotline", Role.SYSTEM, **USER_ADMIN)[1]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"}
    answers = []
    for _ in range(2):  # two app lives on one database
        with TestClient(_app(db_url, desk.clock)) as client:
            answers.append(client.post("/tickets", json=REPORT_BODY, headers=headers))
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert "idempotent-replayed" in answers[1].headers
    assert answers[0].json()["number"] == "T-2026-000001"
    with pytest.raises(Exception, match="no ticket"):
        desk.ledger.tickets.get("T-2026-000002")
    desk.ledger.close()


class _Server:
    """The app under a real uvicorn in a thread, on a free port."""

    def __init__(self, url: str, clock: Any) -> None:
        self.port = _free_port()
        config = uvicorn.Config(
            _app(url, clock), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            assert self.thread.is_alive()
            threading.Event().wait(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def test_eight_clients_with_one_key_record_one_command(db_url: str) -> None:
    desk = open_desk(db_url)
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    token = users.add("hotline", Role.SYSTEM, **USER_ADMIN)[1]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "same-call"}
    before = desk.ledger.event_count()
    start = threading.Barrier(8)
    answers: list[httpx.Response] = []

    def client() -> None:
        with httpx.Client(timeout=60) as session:
            start.wait()
            answer = session.post(f"{base}/tickets", json=REPORT_BODY, headers=headers)
            while answer.status_code == 409:  # the first is still being answered
                answer = session.post(f"{base}/tickets", json=REPORT_BODY, headers=headers)
            answers.append(answer)

    with _Server(db_url, desk.clock) as base:
        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert len(answers) == 8
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["number"] for a in answers}) == 1
    assert sum("idempotent-replayed" not in a.headers for a in answers) == 1
    # The number and the report: once.
    assert desk.ledger.event_count() - before == 2
    desk.ledger.close()


# --------------------------------------------------------------------------- the matrix


@dataclass
class Matrix:
    http: Http
    commands: dict[str, dict[str, Any]]
    names: dict[Role, str]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """One ledger holding a record ready for each command (the role test's), a user of
    each role (the engineer is the one the tickets are dispatched to)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'ledger.db'}"
    desk = open_desk(url)
    commands = _build_world(desk)
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    names = {role: ACTOR if role is Role.ENGINEER else f"{ACTOR}-{role.value}" for role in Role}
    with TestClient(_app(url, desk.clock)) as client:
        http = Http(client, desk.ledger, users, url)
        for role, name in names.items():
            http.tokens[name] = users.add(name, role, **USER_ADMIN)[1]
        yield Matrix(http, commands, names)
    desk.ledger.close()


@pytest.mark.parametrize("name", [n for n, e in COMMANDS.items() if not e.upload])
def test_every_role_and_command_over_http(matrix: Matrix, name: str) -> None:
    """Each (role, command): refused (403) exactly when the matrix refuses it; allowed ones
    get past the gate and every rule, stopped only by an ``If-Match`` that cannot match
    (412), so nothing is recorded and the records stay ready for the next role."""
    route = write_route(name, COMMANDS[name])
    fields = dict(matrix.commands[name])
    path = route.path
    if route.subject is not None:
        path = path.replace(f"{{{route.subject}}}", str(fields.pop(route.subject)))
    count = matrix.http.ledger.event_count()
    for role, user in matrix.names.items():
        answer = matrix.http.post(path, fields, user, **{"If-Match": '"999999"'})
        expected = 412 if role in ALLOWED[name] else 403
        assert answer.status_code == expected, (role, answer.json())
    assert matrix.http.ledger.event_count() == count
    assert name in QUALITY_COMMAND_NAMES or route.kind == "ticket"


# --------------------------------------------------------------------------- SIGKILL


def _serve(url: str, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "LEDGER_DB": url,
        "LEDGER_NOW": "2026-10-08T12:00",
        "LEDGER_TZ": "Asia/Shanghai",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        assert server.poll() is None, server.communicate()
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return server
        except httpx.TransportError:
            assert time.monotonic() < deadline, "ledger serve did not start"
            time.sleep(0.05)


CLIENTS = 4
CALLS = 12
"""Each client reports this many tickets, a key each."""


def test_a_server_killed_while_clients_write_loses_nothing_and_doubles_nothing(
    db_url: str,
) -> None:
    """SIGKILL at a random point while 4 clients write; after a restart every client sends
    every request again with its key: each key is recorded once, the answers before the
    kill are the answers after it, and the chain verifies."""
    desk = open_desk(db_url)
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    token = users.add("hotline", Role.SYSTEM, **USER_ADMIN)[1]
    auth = {"Authorization": f"Bearer {token}"}
    rng = random.Random(15)
    first: dict[str, str] = {}  # key → the number answered before the kill
    port = _free_port()

    def client(worker: int, base: str, answered: dict[str, str]) -> None:
        with httpx.Client(base_url=base, timeout=30) as session:
            for call in range(CALLS):
                key = f"w{worker}-{call}"
                body = {**REPORT_BODY, "external_ref": key}
                try:
                    answer = session.post(
                        "/tickets", json=body, headers={**auth, "Idempotency-Key": key}
                    )
                except httpx.TransportError:
                    return  # the server is gone
                assert answer.status_code == 201, answer.text
                answered[key] = answer.json()["number"]

    for kill_after in (rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.6)):
        server = _serve(db_url, port)
        base = f"http://127.0.0.1:{port}"
        before: dict[str, str] = {}
        threads = [threading.Thread(target=client, args=(w, base, before)) for w in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(kill_after)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        for t in threads:
            t.join(timeout=60)
        for key, number in before.items():
            assert first.setdefault(key, number) == number
    server = _serve(db_url, port)
    try:
        after: dict[str, str] = {}
        threads = [
            threading.Thread(target=client, args=(w, f"http://127.0.0.1:{port}", after))
            for w in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert len(after) == CLIENTS * CALLS
    assert all(after[key] == number for key, number in first.items())
    assert len(set(after.values())) == CLIENTS * CALLS  # a ticket per key, none twice
    with Ledger.open(db_url) as ledger:
        refs = sorted(ledger.tickets.get(n).external_ref or "" for n in after.values())
        assert refs == sorted(after)
        verdict = verify_ledger(ledger.engine, ledger.location.events_table)
        assert verdict.ok
    desk.ledger.close()


# --------------------------------------------------------------------------- batches


def test_a_batch_is_ledger_import(http: Http, tmp_path: Path) -> None:
    lines = [
        {"command": "report", "ref": "a", **REPORT_BODY, "at": "2026-10-08T08:50"},
        {"command": "respond", "ticket": "a", "command_id": "respond-a"},
        {"command": "dispatch", "ticket": "a", "engineer": "王工"},
        {"command": "arrive", "ticket": "a"},  # a dispatcher records the arrival: allowed
        {"command": "close", "ticket": "a"},  # not resolved: rejected
        {"command": "visit_schedule", "contract": "seed-002", "visitor": "周质检"},
    ]
    body = b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)
    ndjson = {"Content-Type": "application/x-ndjson"}
    report = http.post("/commands", body, **ndjson)
    assert report.status_code == 200, report.text
    result = report.json()
    assert result["applied"] == 5 and [r["line"] for r in result["rejected"]] == [5]
    assert result["tickets"] == {"a": "T-2026-000001"}
    # The same file through `ledger import` by the same user: every line already applied.
    path = tmp_path / "commands.jsonl"
    path.write_bytes(body)
    env = {"LEDGER_NOW": "2026-10-08T09:00", "LEDGER_TZ": "Asia/Shanghai"}
    who = ["--actor", "李娜", "--role", "dispatcher"]
    cli = CliRunner().invoke(
        ledger_cli, ["--db", http.url, "import", str(path), *who, "--json"], env=env
    )
    again = json.loads(cli.stdout)
    assert again["already_applied"] == 5 and again["applied"] == 0
    assert again["rejected"] == result["rejected"]
    # Who acts is the token's user, never a line's.
    named = http.post(
        "/commands", b'{"command": "respond", "ticket": "a", "actor": "x"}\n', **ndjson
    )
    assert named.status_code == 422
    assert named.json()["errors"] == [
        {"path": "lines[1].actor", "message": named.json()["errors"][0]["message"]}
    ]
    assert http.post("/commands", body, **{"Content-Type": "application/json"}).status_code == 415


# --------------------------------------------------------------------------- reference data

CALENDAR = """year = 2031
source = "test notice"
holidays = ["2031-10-01..2031-10-03"]
"""


def test_contracts_and_calendars_are_the_administrators(http: Http) -> None:
    admin = http.users.add("系统管理员", Role.ADMIN, **USER_ADMIN)[1]
    http.tokens["系统管理员"] = admin
    toml = {"Content-Type": "application/toml"}
    seed = (SEED_CONTRACTS[0]).read_bytes()
    refused = http.post("/contracts", seed, "李娜", **toml)
    assert refused.status_code == 403 and "contract_load needs role admin" in refused.text
    unchanged = http.post("/contracts", seed, "系统管理员", **toml)
    assert unchanged.status_code == 200 and unchanged.json()["outcome"] == "unchanged"
    new_id = seed.replace(b'id = "seed-000"', b'id = "http-000"')
    assert new_id != seed
    registered = http.post("/contracts", new_id, "系统管理员", **toml)
    assert registered.status_code == 201 and registered.json()["id"] == "http-000"
    assert http.ledger.contracts.get("http-000").latest.number == 1
    bad = http.post("/contracts", b'id = "x"\n', "系统管理员", **toml)
    assert bad.status_code == 422 and bad.json()["errors"]
    assert http.post("/contracts", b"id = [", "系统管理员", **toml).status_code == 422
    loaded = http.post("/calendar", CALENDAR.encode(), "系统管理员", **toml)
    assert loaded.status_code == 200 and loaded.json()["outcome"] == "loaded"
    again = http.post("/calendar", CALENDAR.encode(), "系统管理员", **toml)
    assert again.json()["outcome"] == "unchanged"
    as_json = {"year": 2031, "holidays": ["2031-10-01..2031-10-04"]}
    assert http.post("/calendar", as_json, "系统管理员").json()["outcome"] == "loaded"
    wrong_year = http.post("/calendar", {"year": 2031, "holidays": ["2030-12-31"]}, "系统管理员")
    assert wrong_year.status_code == 422
    assert wrong_year.json()["errors"][0]["path"] == "holidays[0]"


def test_concurrent_clients_on_the_real_clock_are_all_recorded(db_url: str) -> None:
    """8 clients at once, each on its own ticket, with the real clock: a save refused only
    because another was stamped later (recorded time never goes backwards) is planned
    again, so every write is recorded and none is refused."""
    ledger = Ledger.open(db_url, create=True, tz=SHANGHAI, clock=SystemClock())
    load_seed_contracts(ledger)
    users = Users(ledger.engine, ledger.clock, ledger.app)
    token = users.add("李娜", Role.DISPATCHER, **USER_ADMIN)[1]
    auth = {"Authorization": f"Bearer {token}"}
    statuses: list[int] = []
    start = threading.Barrier(8)

    def client(base: str) -> None:
        with httpx.Client(base_url=base, timeout=60, headers=auth) as session:
            start.wait()
            number = session.post("/tickets", json=REPORT_BODY).json()["number"]
            for verb, body in [
                ("respond", {}),
                *[("suspend", {"reason": "等"}), ("resume", {})] * 2,
            ]:
                statuses.append(session.post(f"/tickets/{number}/{verb}", json=body).status_code)

    with _Server(db_url, SystemClock()) as base:
        threads = [threading.Thread(target=client, args=(base,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert statuses == [200] * 8 * 5
    assert verify_ledger(ledger.engine, ledger.location.events_table).ok
    ledger.close()


def test_the_api_md_table_lists_every_verb_the_registry_serves() -> None:
    """docs/api.md's table of write endpoints names each record kind's verbs as
    ``write_routes`` derives them from the registry: a command added there is documented."""
    table = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    for kind in ("ticket", "visit", "action", "complaint"):
        row = next(
            line for line in table.splitlines() if f"`POST /{kind}s/{{{kind}}}/{{verb}}`" in line
        )
        listed = row.split("verb:", 1)[1].split("|", 1)[0]
        verbs = [v.strip(" `") for v in listed.split(",")]
        assert verbs == [r.verb for r in write_routes() if r.kind == kind and r.verb], kind
