"""The dashboard over HTTP (FastAPI's TestClient on ``create_app``), on SQLite and
PostgreSQL: logging in and out, sessions and CSRF, who sees what, htmx fragments, the
language switch, headers and local-only links, bad parameters, static files, and pages
that catch up with the log on every load."""

from __future__ import annotations

import base64
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from starlette.exceptions import StarletteDeprecationWarning

from ledger.commands.users import Users
from ledger.domain.values import Role
from ledger.sessions import CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE, Signer
from ledger.web import create_app
from tests.e2e.test_api import served_history
from tests.support import SHANGHAI, USER_ADMIN, Desk, open_desk

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

EVIL = "</script><script>alert(1)</script>"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
LINKS = re.compile(r'\b(?:src|href|action|hx-get|hx-post)="([^"]*)"')


@dataclass
class Web:
    desk: Desk
    client: TestClient
    users: Users
    numbers: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    def csrf(self) -> str:
        """The login form's CSRF field (its cookie lands in the client's jar)."""
        found = CSRF_FIELD.search(self.client.get("/login").text)
        assert found is not None
        return found[1]

    def login(self, name: str, **overrides: str) -> httpx.Response:
        form = {"name": name, "token": self.tokens.get(name, ""), "csrf": self.csrf()}
        form.update(overrides)
        return self.client.post("/login", data={k: v for k, v in form.items() if v is not None})

    def login_as(self, name: str) -> None:
        self.client.cookies.clear()
        response = self.login(name)
        assert response.status_code == 303, response.text
        assert SESSION_COOKIE in self.client.cookies

    def page(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.get(path, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return response


@pytest.fixture
def web(db_url: str) -> Iterator[Web]:
    """Three tickets of October 2026: ``first`` (王工's, closed, arrived late), ``second``
    (open, nobody dispatched) and ``third`` (张工's, open); users: an auditor, the chief
    engineer's office and the engineer 王工."""
    desk = open_desk(db_url)
    first, second = served_history(desk)
    desk.later(1)
    third = desk.report(severity="general", device="硬盘录像机").number
    desk.do("respond", ticket=third)
    desk.do("dispatch", ticket=third, engineer="张工")
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    app = create_app(db_url, clock=desk.clock, tz=SHANGHAI)
    with TestClient(app, follow_redirects=False) as client:
        result = Web(desk, client, users, {"first": first, "second": second, "third": third})
        for name, role in (
            ("auditor", Role.AUDITOR),
            ("总工办", Role.CHIEF_ENGINEER_OFFICE),
            ("王工", Role.ENGINEER),
        ):
            result.tokens[name] = users.add(name, role, **USER_ADMIN)[1]
        yield result
    desk.ledger.close()


def set_cookie_headers(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def session_payload(cookie: str) -> dict[str, Any]:
    """What a session cookie carries (it is signed, not encrypted): name, issue, expiry."""
    body = cookie.split(".")[0]
    payload: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert set(payload) == {"n", "k", "e"}
    return payload


def no_session_set(response: httpx.Response) -> bool:
    return not any(h.startswith(f"{SESSION_COOKIE}=") for h in set_cookie_headers(response))


# --------------------------------------------------------------------------- login


def test_login_refuses_bad_tokens_names_and_csrf_without_a_session(web: Web) -> None:
    form = web.client.get("/login")
    assert form.status_code == 200
    (csrf_cookie,) = [h for h in set_cookie_headers(form) if h.startswith(f"{CSRF_COOKIE}=")]
    assert "httponly" in csrf_cookie.lower() and "samesite=strict" in csrf_cookie.lower()
    assert 'name="csrf"' in form.text and 'name="next" value="/dashboard"' in form.text

    other = web.tokens["auditor"]
    attempts = [
        (web.login("auditor", token="ldg_0123456789abcdef_" + "A" * 43), 401),  # forged token
        (web.login("auditor", token="not a token"), 401),
        (web.login("王工", token=other), 401),  # a real token, another user's name
        (web.login("nobody", token=other), 401),
        (web.login("auditor", csrf="wrong"), 403),
        (web.login("auditor", csrf=Signer().csrf_token("x")), 403),  # another key's token
    ]
    for response, status in attempts:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert no_session_set(response)
    assert "用户不存在或令牌错误" in attempts[0][0].text
    assert SESSION_COOKIE not in web.client.cookies

    csrf = web.csrf()
    web.client.cookies.delete(CSRF_COOKIE)  # a field without its cookie
    lone = web.client.post("/login", data={"name": "auditor", "token": other, "csrf": csrf})
    assert lone.status_code == 403 and no_session_set(lone)
    missing = web.client.post("/login", data={"name": "auditor", "token": other})
    assert missing.status_code == 403 and no_session_set(missing)  # no CSRF field at all
    assert SESSION_COOKIE not in web.client.cookies
    assert web.client.get("/dashboard").status_code == 303


def test_a_good_login_sets_an_http_only_session_and_no_page_shows_the_token(
    web: Web,
) -> None:
    response = web.login("auditor", next="/dashboard/quality")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/quality"
    (session,) = [h for h in set_cookie_headers(response) if h.startswith(f"{SESSION_COOKIE}=")]
    attributes = [part.strip().lower() for part in session.split(";")]
    # Lax: a link from a mail or WeCom opens the page logged in; no GET changes anything
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "max-age=43200" in attributes and "path=/" in attributes
    token = web.tokens["auditor"]
    secret = token.split("_")[-1]
    assert token not in session and secret not in session
    assert session_payload(web.client.cookies[SESSION_COOKIE])["n"] == "auditor"

    for path in (
        "/dashboard",
        "/dashboard/quality",
        "/dashboard/list?metric=respond&outcome=met",
        f"/dashboard/tickets/{web.numbers['first']}",
        f"/dashboard/tickets/{web.numbers['first']}/dossier.html",
        "/login",
    ):
        text = web.page(path).text
        assert token not in text and secret not in text, path


def test_pages_without_a_session_go_to_the_login_form(web: Web) -> None:
    response = web.client.get("/dashboard", params={"period": "week"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/dashboard%3Fperiod%3Dweek"
    for path in (
        "/dashboard/quality",
        f"/dashboard/tickets/{web.numbers['first']}",
        "/dashboard/list?metric=respond",
    ):
        assert web.client.get(path).status_code == 303, path
    htmx = web.client.get(
        "/dashboard", headers={"HX-Request": "true", "HX-Target": "panels"}
    )  # a panel refresh after the session ended: htmx follows HX-Redirect
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"] == "/login?next=/dashboard"
    assert web.client.get("/").headers["location"] == "/dashboard"
    # the login form carries the page back, once logged in
    form = web.client.get("/login", params={"next": "/dashboard/quality"})
    assert 'name="next" value="/dashboard/quality"' in form.text


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com/x",
        "http:/evil.com",
        "javascript:alert(1)",
        "/\\evil.com",  # browsers read a backslash as a slash
        "/\\/evil.com",
    ],
)
def test_next_never_leaves_the_site(web: Web, target: str) -> None:
    response = web.login("auditor", next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    switched = web.client.get("/lang/en", params={"next": target})
    assert switched.headers["location"] == "/dashboard"
    form = web.client.get("/login", params={"next": target})
    assert 'name="next" value="/dashboard"' in form.text


def test_revoking_a_user_or_reissuing_the_token_ends_the_session(web: Web) -> None:
    web.login_as("总工办")
    assert web.client.get("/dashboard").status_code == 200
    # at the same instant: the token's key changed
    _, fresh = web.users.reissue("总工办", **USER_ADMIN)
    ended = web.client.get("/dashboard")
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    web.tokens["总工办"] = fresh
    web.login_as("总工办")
    assert web.client.get("/dashboard").status_code == 200
    web.users.revoke("总工办", **USER_ADMIN)
    assert web.client.get("/dashboard").status_code == 303
    refused = web.login("总工办")  # a revoked user cannot log in again either
    assert refused.status_code == 401 and no_session_set(refused)


def test_forged_tampered_or_expired_session_cookies_are_refused(web: Web) -> None:
    web.login_as("王工")
    genuine = web.client.cookies[SESSION_COOKIE]
    body, mac = genuine.split(".")
    payload = session_payload(genuine)
    promoted = base64.urlsafe_b64encode(orjson.dumps({**payload, "n": "auditor"})).decode()
    auditor = web.users.get("auditor")
    other_key = Signer().session_cookie("auditor", auditor.token_key, web.desk.clock.now())
    for forged in (
        f"{promoted.rstrip('=')}.{mac}",  # the engineer's signature on the auditor's name
        other_key,  # signed with another server's key
        f"{body}.{mac[:-2]}AA",
        "garbage",
        "a.b.c",
        f"{body}.",
    ):
        web.client.cookies.set(SESSION_COOKIE, forged)
        assert web.client.get("/dashboard").status_code == 303, forged
    web.client.cookies.set(SESSION_COOKIE, genuine)
    assert web.client.get("/dashboard").status_code == 200
    web.desk.later(12 * 60 + 1)  # sessions last 12 hours
    assert web.client.get("/dashboard").status_code == 303


def test_logging_out_needs_the_csrf_token(web: Web) -> None:
    web.login_as("auditor")
    page = web.page("/dashboard").text
    found = CSRF_FIELD.search(page)
    assert found is not None and 'action="/logout"' in page
    assert web.client.post("/logout", data={}).status_code == 403
    refused = web.client.post("/logout", data={"csrf": "forged"})
    assert refused.status_code == 403 and not set_cookie_headers(refused)
    assert web.client.get("/dashboard").status_code == 200  # still logged in
    response = web.client.post("/logout", data={"csrf": found[1]})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    (cleared,) = [h for h in set_cookie_headers(response) if h.startswith(f"{SESSION_COOKIE}=")]
    assert "max-age=0" in cleared.lower()
    assert SESSION_COOKIE not in web.client.cookies
    assert web.client.get("/dashboard").status_code == 303


# --------------------------------------------------------------------------- pages


def test_pages_are_utf8_html_with_a_csp_and_only_local_links(web: Web) -> None:
    web.login_as("auditor")
    paths = [
        "/dashboard",
        "/dashboard?period=week",
        "/dashboard?period=custom&from=2026-10-01&to=2026-10-09&contract=seed-002",
        "/dashboard?period=custom&from=2026-10-09&to=2026-10-01",  # back to front: this month
        "/dashboard/quality",
        "/dashboard/list?metric=arrive&outcome=missed",
        f"/dashboard/tickets/{web.numbers['first']}",
        "/login",
    ]
    for path in paths:
        response = web.page(path)
        assert response.headers["content-type"] == "text/html; charset=utf-8", path
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert response.headers["x-content-type-options"] == "nosniff"
        text = response.text
        assert "http://" not in text and "https://" not in text, path
        links = LINKS.findall(text)
        assert links or path.startswith("/dashboard/list"), path
        for link in links:
            assert not link.startswith("//") and ":" not in link.split("?")[0], (path, link)
    overview = web.page("/dashboard").text
    assert '<script src="/static/vendor/echarts.min.js">' in overview
    assert '<script src="/static/vendor/htmx-2.0.11.min.js">' in overview
    for chart in ("chart-daily", "chart-engineers", "chart-contracts"):
        assert f'id="{chart}-options"' in overview


def test_htmx_requests_get_only_the_block_they_target(web: Web) -> None:
    web.login_as("auditor")
    fragments = {
        ("/dashboard?period=week", "panels"): '<div id="panels"',
        ("/dashboard", "list"): '<section id="list"',
        ("/dashboard/quality", "panels"): '<div id="panels"',
        ("/dashboard/list?metric=respond", "list"): '<section id="list"',
    }
    for (path, target), start in fragments.items():
        text = web.page(path, headers={"HX-Request": "true", "HX-Target": target}).text
        assert text.lstrip().startswith(start), (path, text[:80])
        assert "<html" not in text and "<form" not in text and "<header" not in text
    # opened as a page of its own (a new tab, or back from the login form), the list route
    # is the overview with the list filled in; an unknown target gets the page
    whole = web.page("/dashboard/list?metric=respond&outcome=missed").text
    assert "<html" in whole and '<div id="panels"' in whole and 'id="list-table"' in whole
    full = web.page("/dashboard", headers={"HX-Request": "true", "HX-Target": "header"})
    assert full.text.lstrip().startswith("<!doctype html>")
    assert "<html" in web.page("/dashboard", headers={"HX-Target": "panels"}).text


def test_the_language_cookie_switches_the_labels(web: Web) -> None:
    web.login_as("auditor")
    chinese = web.page("/dashboard").text
    assert '<html lang="zh-CN">' in chinese
    assert "响应达标率" in chinese and "Respond compliance" not in chinese
    switched = web.client.get("/lang/en", params={"next": "/dashboard?period=week"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/dashboard?period=week"
    (cookie,) = [h for h in set_cookie_headers(switched) if h.startswith(f"{LANG_COOKIE}=en")]
    assert "httponly" in cookie.lower()
    english = web.page("/dashboard").text
    assert '<html lang="en">' in english
    assert "Respond compliance" in english and "响应达标率" not in english
    assert "Log out" in web.page("/dashboard/quality").text
    web.client.get("/lang/fr")  # unknown: back to Chinese
    assert web.client.cookies[LANG_COOKIE] == "zh"
    assert "响应达标率" in web.page("/dashboard").text


def test_an_engineer_sees_only_their_own_tickets(web: Web) -> None:
    first, second, third = (web.numbers[k] for k in ("first", "second", "third"))
    web.login_as("王工")
    overview = web.page("/dashboard").text
    assert "共报修 1 张工单" in overview  # 2026-10 has three tickets; one is 王工's
    assert first in overview and second not in overview and third not in overview
    assert "/dashboard/quality" not in overview  # no link to a page the role may not see
    listed = web.page("/dashboard/list").text
    assert first in listed and second not in listed and third not in listed
    unassigned = web.page("/dashboard/list?engineer=").text
    assert second not in unassigned
    assert web.page(f"/dashboard/tickets/{first}").status_code == 200
    for ref in (third, second, "T-2026-999999"):
        for path in (f"/dashboard/tickets/{ref}", f"/dashboard/tickets/{ref}/dossier.html"):
            response = web.client.get(path)
            assert response.status_code == 404, path
            assert "工单不存在" in response.text and ref not in response.text.split("<main>")[1]
    quality = web.client.get("/dashboard/quality")
    assert quality.status_code == 403 and "无权查看此页面" in quality.text

    web.login_as("总工办")
    everything = web.page("/dashboard/list").text
    assert all(number in everything for number in (first, second, third))
    assert "共报修 3 张工单" in web.page("/dashboard").text
    assert web.page(f"/dashboard/tickets/{third}").status_code == 200
    quality_page = web.page("/dashboard/quality").text
    assert "各客户季度满意度" in quality_page and 'id="actions-kpis"' in quality_page
    assert web.client.get("/dashboard/tickets/T-2026-999999").status_code == 404


def test_the_list_refuses_bad_parameters_with_a_plain_message(web: Web) -> None:
    web.login_as("auditor")
    for query, message in (
        ("metric=Speed!", "unknown metric 'Speed!'"),
        ("outcome=late", "unknown outcome 'late'"),
        ("day=2026-13-01", "day '2026-13-01' is not a date"),
        ("level=department_manager&age=2d", "unknown age '2d'"),
    ):
        response = web.client.get(f"/dashboard/list?{query}")
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert message in response.text and "Traceback" not in response.text
    too_long = web.client.get("/dashboard/list", params={"day": "2026-10-01T00:00"})
    assert too_long.status_code == 422 and "Traceback" not in too_long.text
    # an unreadable period falls back to this month rather than failing
    fallback = web.page("/dashboard?period=fortnight&from=x").text
    assert "2026-10-01 – 2026-10-31" in fallback


def test_the_ticket_page_links_its_dossier_and_static_files_are_served(web: Web) -> None:
    web.login_as("auditor")
    first = web.numbers["first"]
    page = web.page(f"/dashboard/tickets/{first}").text
    link = f'href="/dashboard/tickets/{first}/dossier.html"'
    assert link in page and 'id="timeline"' in page
    # reported, responded, dispatched, arrived, resolved, signed, closed: a row each
    assert page.count("<tr class=") == 7
    dossier = web.page(f"/dashboard/tickets/{first}/dossier.html")
    assert dossier.headers["content-type"] == "text/html; charset=utf-8"
    assert dossier.headers["content-disposition"] == f'inline; filename="dossier-{first}.html"'
    assert first in dossier.text and "<html" in dossier.text

    htmx = web.page("/static/vendor/htmx-2.0.11.min.js")
    assert 'version:"2.0.11"' in htmx.text
    echarts = web.page("/static/vendor/echarts.min.js")
    assert "echarts" in echarts.text and len(echarts.content) > 500_000
    assert "drawCharts" in web.page("/static/dashboard.js").text
    assert web.page("/static/dashboard.css").headers["content-type"].startswith("text/css")
    for escape in (
        "/static/%2e%2e/web.py",
        "/static/..%2fweb.py",
        "/static/vendor/%2e%2e/%2e%2e/web.py",
    ):
        assert web.client.get(escape).status_code == 404, escape  # the package's source


def test_a_page_catches_up_with_events_recorded_after_the_last_load(web: Web) -> None:
    web.login_as("auditor")
    second = web.numbers["second"]
    assert "共报修 3 张工单" in web.page("/dashboard").text
    pending = web.page("/dashboard/list?metric=respond&outcome=pending").text
    assert second in pending
    web.desk.later(2)
    web.desk.do("respond", ticket=second)  # within its 5 minutes
    web.desk.report(severity="general", device="对讲主机")
    assert "共报修 4 张工单" in web.page("/dashboard").text
    met = web.page("/dashboard/list?metric=respond&outcome=met").text
    assert second in met
    panel = web.page("/dashboard", headers={"HX-Request": "true", "HX-Target": "panels"}).text
    assert "共报修 4 张工单" in panel


def test_an_engineer_name_with_markup_is_escaped_everywhere(web: Web) -> None:
    number = web.desk.report(severity="general", device="门禁").number
    web.desk.do("respond", ticket=number)
    web.desk.do("dispatch", ticket=number, engineer=EVIL)
    web.login_as("auditor")
    for path in ("/dashboard", "/dashboard/list", f"/dashboard/tickets/{number}"):
        text = web.page(path).text
        assert EVIL not in text and "<script>alert" not in text, path
        assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text, path
    overview = web.page("/dashboard").text
    in_json = EVIL.replace("<", "\\u003c")  # in the chart options
    assert in_json in overview
    engineer_list = web.page("/dashboard/list", params={"engineer": EVIL}).text
    assert number in engineer_list and EVIL not in engineer_list


def test_pages_survive_odd_periods_and_a_failing_database_with_a_page_not_json(web: Web) -> None:
    web.login_as("auditor")
    for query in ("from=0001-01-01&to=0001-01-05", "from=9999-12-20&to=9999-12-31"):
        for path in ("/dashboard", "/dashboard/list"):
            response = web.page(f"{path}?period=custom&{query}")
            assert response.status_code == 200, (path, query)  # this month instead
    with web.desk.ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE supervision_events"))  # a broken read model
    broken = web.client.get("/dashboard")
    assert broken.status_code == 503
    assert broken.headers["content-type"] == "text/html; charset=utf-8"
    assert "数据库暂时不可用" in broken.text and "supervision_events" not in broken.text
    refresh = web.client.get("/dashboard", headers={"HX-Request": "true", "HX-Target": "panels"})
    assert refresh.status_code == 503 and "Traceback" not in refresh.text


def test_an_oversized_login_form_is_a_413_page_in_the_users_language(web: Web) -> None:
    huge = "x" * (1024 * 1024 + 1)  # over Starlette's 1 MB a form field
    for language, says in (("zh", "提交的内容过大"), ("en", "too large")):
        web.client.cookies.set(LANG_COOKIE, language)
        response = web.login("auditor", token=huge)
        assert response.status_code == 413, response.text[:200]
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert says in response.text and "Traceback" not in response.text
        assert no_session_set(response)
    web.client.cookies.delete(LANG_COOKIE)
    web.login_as("auditor")  # the form still works


def test_an_htmx_target_the_page_does_not_have_gets_the_whole_page(web: Web) -> None:
    web.login_as("auditor")
    for target in ("list", "header"):  # "list" is the overview's panel, not the quality page's
        response = web.page(
            "/dashboard/quality", headers={"HX-Request": "true", "HX-Target": target}
        )
        assert response.text.lstrip().startswith("<!doctype html>"), target
        assert '<div id="panels"' in response.text


def test_the_ticket_page_names_events_and_durations_in_the_chosen_language(web: Web) -> None:
    web.login_as("auditor")
    path = f"/dashboard/tickets/{web.numbers['first']}"
    chinese = web.page(path).text
    timeline = chinese[chinese.index('id="timeline"') :]
    assert "<td>已报修</td>" in timeline and "<td>已派工</td>" in timeline
    assert "<td>Dispatched</td>" not in timeline and "<td>Reported</td>" not in timeline
    sla_table = chinese[chinese.index('id="sla"') : chinese.index('id="timeline"')]
    assert re.search(r"<td>\d+ (天|小时|分钟)( \d+ (小时|分钟))?</td>", sla_table), sla_table
    assert not re.search(r"<td>\d+</td></tr>", sla_table)  # no bare minute counts
    web.client.get("/lang/en")
    english = web.page(path).text
    assert "<td>dispatched</td>" in english[english.index('id="timeline"') :]
    assert re.search(r"<td>\d+ (days?|hours?|minutes?)", english[english.index('id="sla"') :])


def test_contracts_are_shown_by_name_with_their_id(web: Web) -> None:
    web.login_as("auditor")
    name = "禹州市看守所智慧监所项目"  # examples/contracts/seed-002.toml
    overview = web.page("/dashboard").text
    assert f'<option value="seed-002" >{name} (seed-002)</option>' in overview
    ticket = web.page(f"/dashboard/tickets/{web.numbers['first']}").text
    assert f"<dd>{name} (seed-002)</dd>" in ticket
    listed = web.page("/dashboard/list", params={"contract": "seed-002"}).text
    assert f'<td title="seed-002">{name}</td>' in listed
