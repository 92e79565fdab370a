"""The HTTP API (``ledger serve``): token auth, the feed pages and stream, tickets and the
SLA report (the same JSON as the CLI's ``--json``), errors, the OpenAPI document, the
``ledger user`` commands, and the real server under uvicorn stopped by SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from starlette.exceptions import StarletteDeprecationWarning

from ledger.api.routes import MAX_PAGE, StreamSettings
from ledger.bootstrap import Ledger
from ledger.cli import cli as ledger_cli
from ledger.cli.serve import is_loopback
from ledger.commands.users import API_ROLES, UserError, Users, api_users
from ledger.domain.values import Role
from ledger.feed import BATCH_CONTENT_TYPE, read_feed
from ledger.web import create_app
from tests.e2e.test_cli import REPORT_ARGS, make_cli
from tests.support import SHANGHAI, USER_ADMIN, Desk, open_desk

with warnings.catch_warnings():
    # Starlette suggests httpx2; the TestClient works as it is with httpx 0.28.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ENDPOINTS = (
    "/feed",
    "/feed/stream",
    "/tickets/{ticket}",
    "/tickets/{ticket}/history",
    "/reports/sla",
)
FAST = StreamSettings(poll_interval=0.02, keepalive=0.1, batch=2)


# --------------------------------------------------------------------------- fixtures


@dataclass
class Api:
    desk: Desk
    client: TestClient
    users: Users
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    numbers: list[str] = field(default_factory=list)

    def get(self, path: str, user: str = "auditor", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}", **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, **kwargs)

    def cli_json(self, *args: str) -> Any:
        """What ``ledger ... --json`` prints on the same database at the same time."""
        result = CliRunner().invoke(
            ledger_cli,
            ["--db", self.url, *args, "--json"],
            env={"LEDGER_NOW": self.desk.clock.now().isoformat(), "LEDGER_TZ": "Asia/Shanghai"},
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


def served_history(desk: Desk) -> list[str]:
    """A closed emergency ticket that arrived late (a breach), and one still open."""
    first = desk.report().number
    desk.later(3)
    desk.do("respond", ticket=first)
    desk.do("dispatch", ticket=first, engineer="王工")
    desk.later(25)
    engineer = {"actor": "王工", "role": "engineer"}
    desk.do("arrive", ticket=first, **engineer)
    desk.later(60)
    desk.do("resolve", ticket=first, summary="更换主板", **engineer)
    desk.do("sign", ticket=first, signer="张三", **engineer)
    desk.do("close", ticket=first)
    desk.later(10)
    second = desk.report(severity="general", device="摄像机").number
    return [first, second]


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    desk = open_desk(db_url)
    numbers = served_history(desk)
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    app = create_app(lambda: Ledger.open(db_url, clock=desk.clock, tz=SHANGHAI), stream=FAST)
    with TestClient(app) as client:
        result = Api(desk, client, users, db_url, numbers=numbers)
        for name, role in (("auditor", Role.AUDITOR), ("quality", Role.QUALITY)):
            result.tokens[name] = users.add(name, role, **USER_ADMIN)[1]
        yield result
    desk.ledger.close()


# --------------------------------------------------------------------------- auth


def test_every_endpoint_refuses_a_request_without_a_valid_token(api: Api) -> None:
    paths = [p.replace("{ticket}", api.numbers[0]) for p in ENDPOINTS]
    _, revoked = api.users.add("former", Role.SYSTEM, **USER_ADMIN)
    api.users.revoke("former", **USER_ADMIN)
    key = api.tokens["auditor"].split("_")[1]
    forged = f"ldg_{key}_{'A' * 43}"  # a real key with a wrong secret
    attempts: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {api.tokens['auditor']}"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": f"Bearer {revoked}"},
    ]
    for path in paths:
        for headers in attempts:
            response = api.client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["status"] == 401
            detail = response.json()["detail"]
            assert ("missing bearer token" in detail) or detail == "invalid or revoked token"
    missing = api.client.get("/feed").json()["detail"]
    assert "Authorization: Bearer <token>" in missing and "ledger user add" in missing
    assert api.client.get("/feed", headers=attempts[4]).headers["www-authenticate"] == (
        'Bearer error="invalid_token"'
    )


def test_a_token_works_until_it_is_replaced_or_revoked(api: Api) -> None:
    assert api.get("/feed", "quality").status_code == 200
    user, fresh = api.users.reissue("quality", **USER_ADMIN)
    assert user.active and fresh != api.tokens["quality"]
    assert api.get("/feed", "quality").status_code == 401  # the old token
    api.tokens["quality"] = fresh
    assert api.get("/feed", "quality").status_code == 200
    api.users.revoke("quality", **USER_ADMIN)
    assert api.get("/feed", "quality").status_code == 401
    assert api.get("/feed", "auditor").status_code == 200  # others unaffected


def test_only_a_salted_digest_of_a_token_is_stored(api: Api) -> None:
    token = api.tokens["auditor"]
    with api.desk.ledger.engine.connect() as conn:
        rows = conn.execute(select(api_users)).mappings().all()
    stored = repr(rows)
    secret = token.split("_", 2)[2]  # ldg_<key>_<secret>; the secret may hold "_" itself
    assert token not in stored and secret not in stored
    digests = {row["token_digest"] for row in rows}
    salts = {row["token_salt"] for row in rows}
    assert len(digests) == len(salts) == len(rows) == 2
    assert all(len(d) == 32 for d in digests)


def test_users_refuse_bad_names_roles_and_repeats(api: Api) -> None:
    users = api.users
    with pytest.raises(UserError, match="cannot be a user"):
        users.add("李娜", "hotline", **USER_ADMIN)
    with pytest.raises(UserError, match="already exists"):
        users.add(" auditor ", Role.AUDITOR, **USER_ADMIN)
    with pytest.raises(UserError, match="printable"):
        users.add("a\nb", Role.AUDITOR, **USER_ADMIN)
    with pytest.raises(UserError, match="no user nobody"):
        users.revoke("nobody", **USER_ADMIN)
    users.revoke("quality", **USER_ADMIN)
    with pytest.raises(UserError, match="is revoked"):
        users.reissue("quality", **USER_ADMIN)
    with pytest.raises(UserError, match="already exists"):
        users.add("quality", Role.QUALITY, **USER_ADMIN)  # a revoked name stays taken
    listed = {u.name: (u.role, u.active) for u in users.list()}
    assert listed == {"auditor": (Role.AUDITOR, True), "quality": (Role.QUALITY, False)}
    assert set(API_ROLES) == {Role.AUDITOR, Role.SYSTEM, Role.QUALITY, Role.CHIEF_ENGINEER_OFFICE}


def test_an_engineer_reads_only_the_tickets_dispatched_to_them(api: Api) -> None:
    """As on the dashboard: the first ticket is dispatched to 王工, the second to nobody;
    the feed and the reports show every ticket, so not to an engineer."""
    _, token = api.users.add("王工", Role.ENGINEER, **USER_ADMIN)
    auth = {"Authorization": f"Bearer {token}"}
    own, other = api.numbers
    for path in (f"/tickets/{own}", f"/tickets/{own}/history"):
        assert api.client.get(path, headers=auth).status_code == 200, path
    for path in (f"/tickets/{other}", f"/tickets/{other}/history"):
        response = api.client.get(path, headers=auth)
        assert response.status_code == 404, path
        assert response.json()["detail"] == f"no ticket {other} dispatched to 王工"
    for path in ("/feed", "/feed/stream", "/reports/sla"):
        response = api.client.get(path, headers=auth)
        assert response.status_code == 403, path
        assert "role engineer reads the tickets it works on" in response.json()["detail"]


# --------------------------------------------------------------------------- feed


def test_feed_pages_cover_the_log_once_in_order(api: Api) -> None:
    total = api.desk.ledger.event_count()
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        response = api.get("/feed", params={"after": after, "limit": 4})
        assert response.status_code == 200
        assert response.headers["content-type"] == BATCH_CONTENT_TYPE
        page = response.json()
        assert len(page) <= 4
        next_after = int(response.headers["x-next-after"])
        link = httpx.URL(response.headers["link"].removeprefix("<").split(">;")[0])
        assert response.headers["link"].endswith('>; rel="next"')
        assert (link.path, dict(link.params)) == ("/feed", {"after": str(next_after), "limit": "4"})
        if not page:
            assert next_after == after
            break
        assert next_after == int(page[-1]["sequence"])
        seen += page
        after = next_after
    assert [int(e["sequence"]) for e in seen] == list(range(1, total + 1))
    assert seen == read_feed(api.desk.ledger, limit=total)


def test_feed_filters_by_type_and_resumes_past_what_it_skipped(api: Api) -> None:
    response = api.get("/feed", params=[("type", "ledger.ticket.arrived.*"), ("limit", "10")])
    events = response.json()
    assert [e["type"] for e in events] == ["ledger.ticket.arrived.v2"]
    assert int(response.headers["x-next-after"]) == api.desk.ledger.event_count()
    several = api.get(
        "/feed", params=[("type", "ledger.ticket.reported.v1"), ("type", "ledger.contract.*")]
    ).json()
    assert {e["type"] for e in several} == {
        "ledger.ticket.reported.v1",
        "ledger.contract.registered.v1",
    }
    assert sum(e["type"] == "ledger.ticket.reported.v1" for e in several) == 2


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": MAX_PAGE + 1}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "abc"}, "after"),
        ({"type": "ledger.tickets.*"}, "type"),
    ],
)
def test_feed_refuses_bad_parameters(api: Api, params: dict[str, Any], where: str) -> None:
    for path in ("/feed", "/feed/stream"):
        if path == "/feed/stream" and where == "limit":
            continue
        response = api.get(path, params=params)
        assert response.status_code == 422, (path, params)
        (problem,) = response.json()["errors"]
        assert problem["path"] == where
        assert problem["message"]


# --------------------------------------------------------------------------- stream


@dataclass
class Sse:
    id: str | None = None
    event: str | None = None
    data: str | None = None
    comment: str | None = None


def sse_messages(lines: Iterator[str], deadline: float) -> Iterator[Sse]:
    """Parse ``text/event-stream`` lines into messages (a comment is a message of its own)
    until ``deadline`` (the stream's keep-alives make lines arrive while it is quiet)."""
    message = Sse()
    for line in lines:
        assert time.monotonic() < deadline, "the stream took too long"
        if line.startswith(":"):
            yield Sse(comment=line[1:].strip())
        elif line == "":
            if message != Sse():
                yield message
            message = Sse()
        else:
            name, _, value = line.partition(": ")
            setattr(message, name, value)


def stream_events(
    api: Api, count: int, headers: dict[str, str] | None = None, **params: Any
) -> list[Sse]:
    """The events of a stream: ``count`` of them, then nothing but keep-alives (two are
    awaited, so an extra event would be caught)."""
    events: list[Sse] = []
    keepalives = 0
    with api.client.stream(
        "GET",
        "/feed/stream",
        headers={"Authorization": f"Bearer {api.tokens['auditor']}", **(headers or {})},
        params=params,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in sse_messages(response.iter_lines(), time.monotonic() + 20):
            if message.comment is None:
                events.append(message)
                keepalives = 0
            elif len(events) >= count:
                assert message.comment == "keep-alive"
                keepalives += 1
                if keepalives == 2:
                    break
    assert len(events) == count
    return events


def test_stream_sends_every_event_as_a_cloudevent_then_keeps_alive(api: Api) -> None:
    total = api.desk.ledger.event_count()
    events = stream_events(api, total)
    assert [m.id for m in events] == [str(p) for p in range(1, total + 1)]
    clouds = [json.loads(m.data or "") for m in events]
    assert [m.event for m in events] == [c["type"] for c in clouds]
    assert clouds == read_feed(api.desk.ledger, limit=total)


def test_stream_resumes_after_last_event_id(api: Api) -> None:
    total = api.desk.ledger.event_count()
    events = stream_events(api, total - 5, headers={"Last-Event-ID": "5"}, after=2)
    assert [int(m.id or 0) for m in events] == list(range(6, total + 1))  # the header wins
    from_query = stream_events(api, total - 7, after=7)
    assert [int(m.id or 0) for m in from_query] == list(range(8, total + 1))
    only = stream_events(api, 2, type="ledger.ticket.reported.*")
    assert [m.event for m in only] == ["ledger.ticket.reported.v1"] * 2
    bad = api.get("/feed/stream", headers={"Last-Event-ID": "seven"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "Last-Event-ID"


def test_stream_delivers_events_recorded_while_it_is_open(api: Api) -> None:
    total = api.desk.ledger.event_count()
    seen: list[int] = []
    with api.client.stream(
        "GET",
        "/feed/stream",
        headers={"Authorization": f"Bearer {api.tokens['auditor']}"},
        params={"after": total},
    ) as response:
        recorded = False
        for message in sse_messages(response.iter_lines(), time.monotonic() + 20):
            if message.comment is not None and not recorded:
                api.desk.do("respond", ticket=api.numbers[1])  # while the stream waits
                recorded = True
            elif message.id is not None:
                seen.append(int(message.id))
                assert message.event == "ledger.ticket.responded.v1"
                break
    assert seen == [total + 1]


def test_stream_ends_when_its_token_is_revoked(api: Api) -> None:
    with api.client.stream(
        "GET",
        "/feed/stream",
        headers={"Authorization": f"Bearer {api.tokens['quality']}"},
        params={"after": api.desk.ledger.event_count()},
    ) as response:
        api.users.revoke("quality", **USER_ADMIN)
        # The stream ends at its next keep-alive check (else sse_messages times out).
        messages = list(sse_messages(response.iter_lines(), time.monotonic() + 20))
    assert all(m.id is None for m in messages)


# --------------------------------------------------------------------------- tickets


def test_ticket_and_history_are_the_cli_json(api: Api) -> None:
    closed, open_ = api.numbers
    for number in (closed, open_):
        shown = api.get(f"/tickets/{number}")
        assert shown.status_code == 200
        assert shown.json() == api.cli_json("ticket", "show", number)
        history = api.get(f"/tickets/{number}/history")
        assert history.json() == api.cli_json("ticket", "history", number)
    by_id = api.get(f"/tickets/{shown.json()['id']}")
    assert by_id.json()["number"] == open_
    assert api.get(f"/tickets/{closed.lower()}").json()["status"] == "closed"
    sla = {t["metric"]: t["status"] for t in api.get(f"/tickets/{closed}").json()["sla"]}
    assert sla["arrive"] == "breached"  # 28 minutes against 20 for an emergency


@pytest.mark.parametrize("path", ["/tickets/{}", "/tickets/{}/history"])
def test_unknown_tickets_are_404(api: Api, path: str) -> None:
    missing = api.get(path.format("T-2026-000099"))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {
        "type": "urn:ledger:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "no ticket T-2026-000099",
        "instance": path.format("T-2026-000099"),
    }
    garbage = api.get(path.format("nonsense"))
    assert garbage.status_code == 404
    assert "neither a ticket number" in garbage.json()["detail"]


# --------------------------------------------------------------------------- reports


def test_sla_report_is_the_cli_json_and_never_stale(api: Api) -> None:
    before = api.get("/reports/sla").json()
    assert before["total"]["tickets"] == 2
    api.desk.report(contract="seed-002")  # recorded after the app started
    params = {"from": "2026-10-08", "to": "2026-10-08", "by": "severity"}
    report = api.get("/reports/sla", params=params)
    assert report.status_code == 200
    assert report.json()["total"]["tickets"] == 3
    cli_args = ("--from", "2026-10-08", "--to", "2026-10-08", "--by", "severity")
    assert report.json() == api.cli_json("report", "sla", *cli_args)
    scoped = api.get("/reports/sla", params={"contract": "seed-002", "as_of": "2026-10-08T09:30"})
    assert scoped.json() == api.cli_json(
        "report", "sla", "--contract", "seed-002", "--as-of", "2026-10-08T09:30"
    )
    assert scoped.json()["total"]["tickets"] == 1


@pytest.mark.parametrize(
    ("params", "where", "message"),
    [
        ({"from": "2026-10-09", "to": "2026-10-01"}, "from", "is after"),
        ({"from": "2026-13-01"}, "from", "date"),
        ({"contract": "nope"}, "contract", "no contract nope"),
        ({"by": "colour"}, "by", "contract"),
        ({"as_of": "yesterday"}, "as_of", ""),
    ],
)
def test_sla_report_refuses_bad_parameters(
    api: Api, params: dict[str, str], where: str, message: str
) -> None:
    response = api.get("/reports/sla", params=params)
    assert response.status_code == 422
    (problem,) = response.json()["errors"]
    assert problem["path"] == where
    assert message in problem["message"]


# --------------------------------------------------------------------------- OpenAPI


def test_openapi_is_public_and_lists_every_endpoint(api: Api) -> None:
    document = api.client.get("/openapi.json")
    assert document.status_code == 200
    spec = document.json()
    assert set(ENDPOINTS) <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    feed = spec["paths"]["/feed"]["get"]
    assert BATCH_CONTENT_TYPE in feed["responses"]["200"]["content"]
    assert {p["name"] for p in feed["parameters"]} == {"after", "limit", "type"}
    assert (
        "text/event-stream" in spec["paths"]["/feed/stream"]["get"]["responses"]["200"]["content"]
    )
    assert api.client.get("/docs").status_code == 200


# --------------------------------------------------------------------------- CLI


def test_user_commands(sqlite_url: str) -> None:
    runner = CliRunner()

    def run(*args: str) -> Any:
        env = {"LEDGER_ACTOR": "系统管理员", "LEDGER_ROLE": "admin"}
        return runner.invoke(ledger_cli, ["--db", sqlite_url, *args], env=env)

    assert run("init").exit_code == 0
    added = run("user", "add", "审计-王", "--role", "auditor")
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    assert token.startswith("ldg_") and "shown only now" in added.stderr
    with Ledger.open(sqlite_url) as ledger:
        assert Users(ledger.engine, ledger.clock, ledger.app).authenticate(token) is not None
    again = run("user", "token", "审计-王", "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["token"] != token
    assert run("user", "add", "李娜", "--role", "hotline").exit_code == 2  # no such role
    assert run("user", "add", "李娜", "--role", "dispatcher").exit_code == 0  # every operator
    duplicate = run("user", "add", "审计-王", "--role", "quality")
    assert duplicate.exit_code == 2 and "already exists" in duplicate.stderr
    assert run("user", "revoke", "审计-王").exit_code == 0
    unknown = run("user", "revoke", "nobody")
    assert unknown.exit_code == 2 and "no user nobody" in unknown.stderr
    listed = {u["name"]: u for u in json.loads(run("user", "list", "--json").stdout)}["审计-王"]
    assert listed["name"] == "审计-王" and listed["active"] is False and listed["revoked_at"]
    with Ledger.open(sqlite_url) as ledger, ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE api_users"))  # a ledger from before API users
    old = run("user", "list")
    assert old.exit_code == 2 and "run `ledger init` again" in old.stderr
    assert run("init").exit_code == 0 and run("user", "list").exit_code == 0


def test_serve_warns_loudly_off_loopback(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    runner = CliRunner()
    assert runner.invoke(ledger_cli, ["--db", sqlite_url, "init"]).exit_code == 0
    wide = runner.invoke(ledger_cli, ["--db", sqlite_url, "serve", "--host", "0.0.0.0"])
    assert wide.exit_code == 0, wide.output
    assert "WARNING: listening on 0.0.0.0, not a loopback address" in wide.stderr
    assert "no active API user" in wide.stderr
    local = runner.invoke(ledger_cli, ["--db", sqlite_url, "serve"])
    assert local.exit_code == 0 and "not a loopback" not in local.stderr
    assert [is_loopback(h) for h in ("127.0.0.1", "::1", "[::1]", "localhost", "127.8.0.1")] == [
        True
    ] * 5
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.com"))
    missing = runner.invoke(ledger_cli, ["--db", sqlite_url + ".none", "serve"])
    assert missing.exit_code == 2 and "run `ledger init` first" in missing.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ledger_serve_runs_and_stops_cleanly_on_sigterm(db_url: str) -> None:
    cli = make_cli(db_url)
    cli.run(*REPORT_ARGS)
    admin = ("--actor", "系统管理员", "--actor-role", "admin")
    token = cli.run("user", "add", "consumer", "--role", "system", *admin).stdout.strip()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--port", str(port), "--poll-interval", "0.1"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.communicate()
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "ledger serve did not start"
                time.sleep(0.1)
        feed = httpx.get(f"{base}/feed", headers=auth, timeout=10)
        assert feed.status_code == 200
        assert feed.headers["content-type"] == BATCH_CONTENT_TYPE
        assert [e["type"] for e in feed.json()][-2:] == [
            "ledger.ticket.reported.v1",
            "ledger.user.granted.v1",  # the consumer's own access, granted above
        ]
        assert httpx.get(f"{base}/feed", timeout=10).status_code == 401
        # An open stream must not hold the shutdown up: it ends when SIGTERM arrives.
        with httpx.stream("GET", f"{base}/feed/stream", headers=auth, timeout=10) as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("id:")) == "id: 1"
            server.send_signal(signal.SIGTERM)
            rest = list(lines)
        assert len(rest) < 100
        _, stderr = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "Shutting down" in stderr and "Finished server process" in stderr
