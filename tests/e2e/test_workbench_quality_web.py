"""The quality / 总工办 pages over HTTP (FastAPI's TestClient on ``create_app``), on SQLite
and PostgreSQL: the return-visit card box by box (with the scale its live total reads), the
corrective-action card step by step, the complaint form, the audit of a service form; a
form the role may not submit is not drawn and is refused when posted anyway; errors by
field in Chinese; a form submitted twice records once."""

from __future__ import annotations

import html
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from ledger.commands.users import Users
from ledger.domain.values import Role
from ledger.web import create_app
from ledger.workbench.quality import satisfaction_scale
from tests.support import SHANGHAI, USER_ADMIN, Desk, open_desk

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*data-command="([a-z_]+)"')
KEY = re.compile(r'data-command="([a-z_]+)".*?name="idempotency_key" value="([^"]+)"', re.S)
BANDS = re.compile(r'data-bands="([^"]+)"')

QUALITY = "质量部王"
CHIEF = "总工办-刘总"
DISPATCHER = "李娜"
MANAGER = "周经理"
CUSTOMER = "禹州市公安局-张三"
USERS = {
    QUALITY: Role.QUALITY,
    CHIEF: Role.CHIEF_ENGINEER_OFFICE,
    DISPATCHER: Role.DISPATCHER,
    MANAGER: Role.DEPARTMENT_MANAGER,
    CUSTOMER: Role.CUSTOMER,
}


@dataclass
class Site:
    desk: Desk
    client: TestClient
    ticket: str
    tokens: dict[str, str] = field(default_factory=dict)

    def login_as(self, name: str) -> None:
        self.client.cookies.clear()
        found = CSRF_FIELD.search(self.client.get("/login").text)
        assert found is not None
        form = {"name": name, "token": self.tokens[name], "csrf": found[1], "next": "/workbench"}
        assert self.client.post("/login", data=form).status_code == 303

    def page(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.text

    def forms(self, path: str) -> dict[str, str]:
        """The forms a page draws: command → where it posts."""
        return {command: action for action, command in FORM.findall(self.page(path))}

    def submit(
        self, path: str, command: str, fields: dict[str, str], *, key: str | None = None
    ) -> httpx.Response:
        """Fill in ``command``'s form on the page at ``path`` and post it, as a browser does
        (its CSRF token and the idempotency key it was rendered with)."""
        text = self.page(path)
        actions = {c: a for a, c in FORM.findall(text)}
        assert command in actions, (command, sorted(actions))
        keys = dict(KEY.findall(text))
        csrf = CSRF_FIELD.search(text)
        assert csrf is not None
        data = {"csrf": csrf[1], "idempotency_key": key or keys[command], **fields}
        return self.client.post(html.unescape(actions[command]), data=data)

    def history(self, number: str) -> list[str]:
        return [type(e).__name__ for e in self.desk.ledger.quality.history(number)]


@pytest.fixture
def site(db_url: str) -> Iterator[Site]:
    desk = open_desk(db_url)
    number = desk.report().number
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    app = create_app(db_url, clock=desk.clock, tz=SHANGHAI)
    with TestClient(app, follow_redirects=False) as client:
        result = Site(desk, client, number)
        for name, role in USERS.items():
            result.tokens[name] = users.add(name, role, **USER_ADMIN)[1]
        yield result
    desk.ledger.close()


def _recorded(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:800]
    return response.headers["location"].split("?")[0]


def _schedule_audit(site: Site) -> str:
    """The quality department schedules the audit of the ticket's service form; its card."""
    site.login_as(QUALITY)
    response = site.submit(
        "/workbench/quality/visits/new",
        "visit_schedule",
        {"ticket": site.ticket, "form": "phone", "visitor": QUALITY},
    )
    return _recorded(response)


def test_the_return_visit_card_box_by_box(site: Site) -> None:
    card = _schedule_audit(site)
    number = card.rsplit("/", 1)[1]
    assert number.startswith("V-2026-")
    assert set(site.forms(card)) == {"visit_conduct", "visit_cancel"}
    site.desk.later(30)
    _recorded(
        site.submit(
            card, "visit_conduct", {"content": "电话回访：服务及时", "customer_opinion": "满意"}
        )
    )

    page = site.page(card)
    # The project manager's opinion is the managers' to give: not drawn for quality.
    assert set(site.forms(card)) == {"visit_score", "visit_sign", "visit_audit"}
    # The live total's scale is the domain's, embedded as data.
    embedded = json.loads(html.unescape(BANDS.search(page)[1]))  # type: ignore[index]
    assert embedded == satisfaction_scale().as_data("zh")
    assert 'data-count="4"' in page and 'name="correction_reason"' not in page

    _recorded(
        site.submit(
            card,
            "visit_score",
            {
                "engineering_quality": "90",
                "progress": "80",
                "service": "85",
                "performance_capability": "70",
            },
        )
    )
    page = site.page(card)
    assert 'id="recorded-total">81.25<' in page and 'data-band="very_satisfied"' in page
    assert "很满意" in page
    _recorded(site.submit(card, "visit_sign", {"signer": "张三"}))
    _recorded(site.submit(card, "visit_audit", {"verdict": "pass", "note": "签字齐全"}))
    assert "visit_audit" not in site.forms(card)

    site.login_as(MANAGER)
    assert "visit_chief_review" not in site.forms(card)
    _recorded(site.submit(card, "visit_review", {"opinion": "同意"}))
    site.login_as(CHIEF)
    assert set(site.forms(card)) == {"visit_score", "visit_chief_review"}
    _recorded(site.submit(card, "visit_chief_review", {"opinion": "归档"}))
    assert site.history(number) == [
        "VisitScheduled",
        "VisitConducted",
        "SatisfactionScored",
        "VisitCustomerSigned",
        "AuditPassed",
        "ManagerReviewed",
        "ChiefEngineerReviewed",
    ]


def test_errors_are_shown_by_field_in_chinese_and_nothing_is_recorded(site: Site) -> None:
    card = _schedule_audit(site)
    number = card.rsplit("/", 1)[1]
    _recorded(site.submit(card, "visit_conduct", {"content": "现场回访"}))
    response = site.submit(
        card, "visit_score", {"engineering_quality": "101", "progress": "八十", "service": "85"}
    )
    assert response.status_code == 422
    text = response.text
    for name in ("engineering_quality", "progress", "performance_capability"):
        assert f'data-error-for="{name}"' in text, name
    assert 'data-error-for="service"' not in text
    assert "必填" in text  # D was left out
    assert "不能大于 100。" in text and "请填写整数。" in text
    assert 'value="101"' in text and 'value="八十"' in text  # what was typed stays
    assert site.history(number) == ["VisitScheduled", "VisitConducted"]

    fail = site.submit(card, "visit_audit", {"verdict": "fail"})
    assert fail.status_code == 422
    assert "请检查" in fail.text  # the form's Chinese lead-in
    assert site.history(number) == ["VisitScheduled", "VisitConducted"]


def _twice(site: Site, path: str, command: str, fields: dict[str, str]) -> list[httpx.Response]:
    """The form drawn once, posted twice as drawn (a double click, a resubmit after a
    reload): the same CSRF token and idempotency key."""
    text = site.page(path)
    action = html.unescape({c: a for a, c in FORM.findall(text)}[command])
    csrf = CSRF_FIELD.search(text)
    assert csrf is not None
    data = {"csrf": csrf[1], "idempotency_key": dict(KEY.findall(text))[command], **fields}
    return [site.client.post(action, data=data) for _ in range(2)]


def test_a_form_submitted_twice_records_once(site: Site) -> None:
    card = _schedule_audit(site)
    number = card.rsplit("/", 1)[1]
    first, again = _twice(site, card, "visit_conduct", {"content": "电话回访"})
    assert _recorded(first) == _recorded(again) == card
    assert site.history(number) == ["VisitScheduled", "VisitConducted"]

    fields = {"ticket": site.ticket, "visitor": QUALITY}
    one, two = _twice(site, "/workbench/quality/visits/new", "visit_schedule", fields)
    assert _recorded(one) == _recorded(two) == "/workbench/quality/visits/V-2026-000002"
    assert site.desk.ledger.quality.history("V-2026-000002")  # recorded, once:
    assert site.client.get("/workbench/quality/visits/V-2026-000003").status_code == 404


def test_a_forbidden_form_is_not_shown_and_refused_when_posted(site: Site) -> None:
    card = _schedule_audit(site)
    number = card.rsplit("/", 1)[1]
    _recorded(site.submit(card, "visit_conduct", {"content": "电话回访"}))
    # The hotline makes visits too, but only the quality department audits a service form.
    site.login_as(DISPATCHER)
    forms = site.forms(card)
    assert "visit_score" in forms and "visit_audit" not in forms
    page = site.page(card)
    csrf = CSRF_FIELD.search(page)
    assert csrf is not None
    refused = site.client.post(
        f"{card}/visit_audit",
        data={"csrf": csrf[1], "idempotency_key": "wb-forged", "verdict": "pass"},
    )
    assert refused.status_code == 403
    assert "无权" in refused.text
    assert site.history(number) == ["VisitScheduled", "VisitConducted"]
    # A customer sees no card at all, and no quality list.
    site.login_as(CUSTOMER)
    assert site.client.get(card).status_code == 404
    assert 'id="open-actions"' not in site.page("/workbench/quality")
    # Without the page's CSRF token nothing is even tried.
    site.login_as(QUALITY)
    forged = site.client.post(f"{card}/visit_audit", data={"verdict": "pass"})
    assert forged.status_code == 403
    assert site.history(number) == ["VisitScheduled", "VisitConducted"]


def test_the_corrective_action_card_step_by_step(site: Site) -> None:
    site.login_as(QUALITY)
    card = _recorded(
        site.submit(
            "/workbench/quality/actions/new",
            "action_raise",
            {
                "source": "ticket",
                "links": site.ticket,
                "department": "技术部",
                "content": "服务单未签字即关闭",
            },
        )
    )
    steps = [
        ("action_analyse", {"cause": "未培训"}),
        (
            "action_plan",
            {
                "corrective": "补签",
                "preventive": "培训",
                "responsible": "王工",
                "due_on": "2026-10-20",
            },
        ),
        ("action_implement", {"description": "已培训"}),
        ("action_result", {"result": "全部补签"}),
        ("action_verify", {"effective": "true", "comment": "抽查合格"}),
        ("action_close", {}),
    ]
    for command, fields in steps:
        assert list(site.forms(card)) == [command], command  # only the next box
        _recorded(site.submit(card, command, fields))
    assert site.forms(card) == {}
    assert "已关闭" in site.page(card)


def test_the_complaint_form_for_a_customer_and_its_card_for_quality(site: Site) -> None:
    site.login_as(CUSTOMER)
    assert 'data-nav="quality"' in site.page("/workbench")
    response = site.submit(
        "/workbench/quality/complaints/new",
        "complaint_receive",
        {
            "about": "ticket",
            "reference": site.ticket,
            "category": "non_quality",
            "content": "工程师迟到",
        },
    )
    assert response.status_code == 200 and "已记录：C-2026-0001" in response.text
    missing = site.submit(
        "/workbench/quality/complaints/new", "complaint_receive", {"about": "ticket"}
    )
    assert missing.status_code == 422
    assert 'data-error-for="reference"' in missing.text and "必填" in missing.text

    site.login_as(QUALITY)
    card = "/workbench/quality/complaints/C-2026-0001"
    assert "工程师迟到" in site.page(card)
    _recorded(
        site.submit(
            card, "complaint_analyse", {"cause": "路况", "department": "服务部", "ours": "false"}
        )
    )
    _recorded(site.submit(card, "complaint_resolve", {"handling": "致歉", "result": "客户接受"}))
    _recorded(site.submit(card, "complaint_close", {}))
    assert "已关闭" in site.page(card)
