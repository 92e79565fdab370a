"""The workbench over HTTP (FastAPI's TestClient on ``create_app``), on SQLite and
PostgreSQL: the login and the nav per role, the write API taking a session cookie only with
the page's CSRF token, and the forms' writes (field errors in Chinese, double submits)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning
from starlette.requests import Request

from ledger.commands.application import TicketNotFound
from ledger.commands.users import User, Users
from ledger.domain.values import Role
from ledger.sessions import CSRF_HEADER, SESSION_COOKIE
from ledger.web import create_app
from ledger.workbench.submit import submit
from tests.support import SHANGHAI, USER_ADMIN, Desk, open_desk

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
NAV = re.compile(r'data-nav="([a-z_]+)"')

USERS = {
    "李娜": Role.DISPATCHER,
    "王工": Role.ENGINEER,
    "审计": Role.AUDITOR,
    "质量部王": Role.QUALITY,
    "客户": Role.CUSTOMER,
}


@dataclass
class Bench:
    """A served ledger with one open ticket (``number``), its users and a client."""

    desk: Desk
    client: TestClient
    number: str
    tokens: dict[str, str] = field(default_factory=dict)

    def login_as(self, name: str) -> None:
        self.client.cookies.clear()
        found = CSRF_FIELD.search(self.client.get("/login").text)
        assert found is not None
        form = {"name": name, "token": self.tokens[name], "csrf": found[1], "next": "/workbench"}
        response = self.client.post("/login", data=form)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/workbench"
        assert SESSION_COOKIE in self.client.cookies

    def page(self, path: str) -> httpx.Response:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return response

    def csrf_token(self, path: str = "/workbench") -> str:
        """The token a workbench page was rendered with (its ``<meta>``)."""
        found = CSRF_META.search(self.page(path).text)
        assert found is not None
        return found[1]


@pytest.fixture
def bench(db_url: str) -> Iterator[Bench]:
    desk = open_desk(db_url)
    number = desk.report().number
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    app = create_app(db_url, clock=desk.clock, tz=SHANGHAI)
    with TestClient(app, follow_redirects=False) as client:
        result = Bench(desk, client, number)
        for name, role in USERS.items():
            result.tokens[name] = users.add(name, role, **USER_ADMIN)[1]
        yield result
    desk.ledger.close()


def test_the_workbench_asks_for_a_login_and_comes_back(bench: Bench) -> None:
    response = bench.client.get("/workbench")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/workbench"


@pytest.mark.parametrize(
    ("name", "nav"),
    [
        # the phone (field) for engineers, the quality forms (quality) for who may submit one
        # of them: the hotline and engineers make visits, customers complain
        ("李娜", ["intake", "queues", "search", "dashboard", "quality"]),
        ("王工", ["intake", "queues", "search", "dashboard", "phone", "quality"]),
        ("审计", ["queues", "search", "dashboard"]),
        ("客户", ["quality"]),  # the complaint form; the intake lists every contract
    ],
)
def test_the_nav_shows_what_the_role_may_open(bench: Bench, name: str, nav: list[str]) -> None:
    bench.login_as(name)
    page = bench.page("/workbench")
    assert NAV.findall(page.text) == nav
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert f"{name} · " in page.text
    assert "/static/vendor/htmx-2.0.11.min.js" in page.text
    assert "/workbench/static/workbench.js" in page.text


def test_static_files_are_served(bench: Bench) -> None:
    for path in ("/workbench/static/workbench.js", "/workbench/static/workbench.css"):
        assert bench.client.get(path).status_code == 200


def test_a_json_write_takes_the_session_cookie_only_with_the_csrf_header(bench: Bench) -> None:
    bench.login_as("李娜")
    token = bench.csrf_token()
    url = f"/tickets/{bench.number}/respond"

    missing = bench.client.post(url, json={"note": "已电话联系"})
    assert missing.status_code == 403
    assert CSRF_HEADER in missing.json()["detail"]
    wrong = bench.client.post(url, json={}, headers={CSRF_HEADER: "forged"})
    assert wrong.status_code == 403
    assert bench.desk.ledger.tickets.get(bench.number).responded_at is None

    done = bench.client.post(
        url, json={"note": "已电话联系"}, headers={CSRF_HEADER: token, "Idempotency-Key": "k1"}
    )
    assert done.status_code == 200, done.text
    ticket = bench.desk.ledger.tickets.get(bench.number)
    assert ticket.responded_at is not None
    history = bench.desk.ledger.tickets.history(ticket.id)
    assert (history[-1].actor, history[-1].role) == ("李娜", Role.DISPATCHER)

    again = bench.client.post(
        url, json={"note": "已电话联系"}, headers={CSRF_HEADER: token, "Idempotency-Key": "k1"}
    )
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert len(bench.desk.ledger.tickets.history(ticket.id)) == len(history)


def test_without_a_session_or_token_a_write_is_unauthorised(bench: Bench) -> None:
    response = bench.client.post(f"/tickets/{bench.number}/respond", json={})
    assert response.status_code == 401


def test_a_session_write_follows_the_role_matrix(bench: Bench) -> None:
    bench.login_as("审计")
    token = bench.csrf_token()
    response = bench.client.post(
        f"/tickets/{bench.number}/respond", json={}, headers={CSRF_HEADER: token}
    )
    assert response.status_code == 403
    assert response.json()["type"] == "urn:ledger:problem:forbidden-role"


def _request(bench: Bench) -> Request:
    """A request to the served app, as a form's route gets it (Chinese: no language cookie)."""
    app = bench.client.app
    return Request({"type": "http", "app": app, "headers": [], "method": "POST", "path": "/"})


def _user(bench: Bench, name: str) -> User:
    return Users(bench.desk.ledger.engine, bench.desk.clock, bench.desk.ledger.app).get(name)


def test_a_form_write_records_once_and_says_what_is_wrong_by_field_in_chinese(
    bench: Bench,
) -> None:
    request, dispatcher = _request(bench), _user(bench, "李娜")
    bad = submit(
        request,
        dispatcher,
        "report",
        {"contract": "seed-002", "contact_name": "张三", "contact_phone": "电话号码", "site": ""},
    )
    assert not bad.ok and bad.status == 422
    assert bad.errors["contact_phone"] == "只能包含数字、空格和 + ( ) -（3 到 40 个字符）。"
    assert bad.errors["site"] == "必填。"
    assert bad.errors["device"] == "必填。"
    assert bad.message == "请检查下面标出的字段。"

    fields = {"engineer": "王工"}
    first = submit(request, dispatcher, "dispatch", fields, bench.number, "form-1")
    again = submit(request, dispatcher, "dispatch", fields, bench.number, "form-1")
    assert first.ok and again.ok and again.replayed and not first.replayed
    assert first.number == again.number == bench.number
    history = bench.desk.ledger.tickets.history(bench.number)
    assert [type(e).__name__ for e in history].count("Dispatched") == 1

    refused = submit(request, _user(bench, "审计"), "dispatch", fields, bench.number)
    assert (refused.status, refused.message) == (403, "您的角色无权执行此操作。")


# --------------------------------------------------------------------------- desk pages

ACTION_FORM = re.compile(r'data-action="([a-z_]+)"')
KEY_FIELD = re.compile(r'name="idempotency_key" value="([^"]+)"')


def _form_post(bench: Bench, path: str, page: str, **fields: str) -> httpx.Response:
    """Post a form as the page rendered it: its CSRF token and idempotency key."""
    text = bench.page(page).text
    csrf = CSRF_FIELD.search(text)
    key = KEY_FIELD.search(text)
    assert csrf is not None
    form = {"csrf": csrf[1], "idempotency_key": key[1] if key else "posted-anyway", **fields}
    return bench.client.post(path, data=form)


def test_the_ticket_page_shows_only_what_the_role_may_do_now(bench: Bench) -> None:
    bench.login_as("李娜")
    page = bench.page(f"/workbench/tickets/{bench.number}").text
    assert ACTION_FORM.findall(page) == [
        "respond",
        "dispatch",
        "suspend",
        "cancel",
        "note",
        "reply",
    ]
    bench.login_as("审计")
    page = bench.page(f"/workbench/tickets/{bench.number}").text
    assert ACTION_FORM.findall(page) == []
    assert "您的角色目前不能对此工单进行任何操作。" in page
    bench.login_as("质量部王")
    page = bench.page(f"/workbench/tickets/{bench.number}").text
    assert ACTION_FORM.findall(page) == ["note"]


def test_a_forbidden_action_posted_anyway_is_refused(bench: Bench) -> None:
    bench.login_as("审计")
    path = f"/workbench/tickets/{bench.number}"
    response = _form_post(bench, f"{path}/do/dispatch", path, engineer="王工")
    assert response.status_code == 403
    assert "您的角色无权执行此操作。" in response.text
    assert bench.desk.ledger.tickets.get(bench.number).engineer is None


def test_a_button_records_once_even_submitted_twice(bench: Bench) -> None:
    bench.login_as("李娜")
    path = f"/workbench/tickets/{bench.number}"
    text = bench.page(path).text
    form = {
        "csrf": CSRF_FIELD.findall(text)[0],
        "idempotency_key": KEY_FIELD.findall(text)[1],  # the dispatch form's
        "engineer": "王工",
    }
    first = bench.client.post(f"{path}/do/dispatch", data=form)
    second = bench.client.post(f"{path}/do/dispatch", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == f"{path}?done=dispatch"
    kinds = [type(e).__name__ for e in bench.desk.ledger.tickets.history(bench.number)]
    assert kinds.count("Dispatched") == 1
    page = bench.page(f"{path}?done=dispatch").text
    assert "已完成：派工。" in page
    assert 'data-type="Dispatched"' in page


def test_notes_and_replies_are_events_with_their_roles(bench: Bench) -> None:
    bench.login_as("质量部王")
    path = f"/workbench/tickets/{bench.number}"
    empty = _form_post(bench, f"{path}/do/note", path, text="")
    assert empty.status_code == 422 and "必填。" in empty.text
    done = _form_post(bench, f"{path}/do/note", path, text="用户机房需门禁卡")
    assert done.status_code == 303
    refused = _form_post(bench, f"{path}/do/reply", path, text="已处理")
    assert refused.status_code == 403
    bench.login_as("李娜")
    assert _form_post(bench, f"{path}/do/reply", path, text="工程师已出发").status_code == 303
    history = bench.desk.ledger.tickets.history(bench.number)
    notes = [(type(e).__name__, e.role, getattr(e, "text", None)) for e in history[-2:]]
    assert notes == [
        ("WorkNoteAdded", Role.QUALITY, "用户机房需门禁卡"),
        ("CustomerReplied", Role.DISPATCHER, "工程师已出发"),
    ]
    page = bench.page(path).text
    assert "工作备注（内部）: 用户机房需门禁卡" in page and "已回复客户: 工程师已出发" in page


def test_queues_show_the_unassigned_ticket_with_its_countdown(bench: Bench) -> None:
    bench.login_as("李娜")
    page = bench.page("/workbench/queues").text
    assert f'data-number="{bench.number}"' in page
    assert 'data-queue="unassigned"' in page
    # seed-002 emergency: respond within 5 minutes of 09:00; the clock stands at 09:00.
    assert 'data-deadline="2026-10-08T01:05:00+00:00"' in page
    assert 'data-sla="at_risk"' in page
    bench.desk.later(10)
    page = bench.page("/workbench/queues?tab=breached").text
    assert f'data-number="{bench.number}"' in page and 'data-sla="breached"' in page


def test_search_finds_by_phone_and_chinese_text_with_the_sla_state(bench: Bench) -> None:
    bench.login_as("李娜")
    page = bench.page("/workbench/search?q=138001").text
    assert f'data-number="{bench.number}"' in page and 'data-sla="at_risk"' in page
    assert f'data-number="{bench.number}"' in bench.page("/workbench/search?q=无法开机").text
    assert "没有找到工单。" in bench.page("/workbench/search?q=摄像机").text


def test_intake_shows_the_promise_warranty_memory_and_open_tickets(bench: Bench) -> None:
    bench.login_as("李娜")
    found = bench.page("/workbench/intake?q=13800138001").text
    assert 'data-contract="seed-002"' in found
    assert 'data-contract="seed-002"' in bench.page("/workbench/intake?q=看守所").text
    page = bench.page("/workbench/intake?contract=seed-002&severity=general").text
    general = "响应 5 分钟 · 到场 30 分钟 · 修复 4 小时 · 备机 8 小时后再 30 分钟"
    assert f'<span class="promise" id="promise">{general}</span>' in page
    emergency = "响应 5 分钟 · 到场 20 分钟 · 修复 4 小时 · 备机 8 小时后再 30 分钟"
    assert f'data-promise="{emergency}"' in page
    assert "在保修期内" in page
    assert '<option value="张三" data-phone="13800138001">' in page
    assert f'data-number="{bench.number}"' in page  # the open ticket, before submitting


def test_intake_says_what_is_wrong_by_field_and_records_once(bench: Bench) -> None:
    bench.login_as("李娜")
    page = "/workbench/intake?contract=seed-002"
    bad = _form_post(
        bench, "/workbench/intake", page, contract="seed-002", contact_phone="abc", site=""
    )
    assert bad.status_code == 422
    assert "只能包含数字、空格和 + ( ) -（3 到 40 个字符）。" in bad.text
    assert bad.text.count("必填。") == 4  # contact name, site, device, description
    fields = {
        "contract": "seed-002",
        "severity": "major",
        "contact_name": "张三",
        "contact_phone": "13800138001",
        "site": "看守所",
        "device": "摄像机",
        "description": "画面模糊",
    }
    text = bench.page(page).text
    form = {"csrf": CSRF_FIELD.findall(text)[0], "idempotency_key": KEY_FIELD.findall(text)[0]}
    first = bench.client.post("/workbench/intake", data=form | fields)
    second = bench.client.post("/workbench/intake", data=form | fields)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert first.headers["location"].startswith("/workbench/tickets/T-2026-")
    assert first.headers["location"] == "/workbench/tickets/T-2026-000002?done=report"
    with pytest.raises(TicketNotFound):
        bench.desk.ledger.tickets.get("T-2026-000003")


def test_a_customer_opens_neither_the_intake_nor_the_queues(bench: Bench) -> None:
    bench.login_as("客户")
    for path in ("/workbench/intake", "/workbench/queues", "/workbench/search?q=门禁"):
        assert bench.client.get(path).status_code == 403
    assert bench.client.get(f"/workbench/tickets/{bench.number}").status_code == 404
