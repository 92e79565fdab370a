"""A service department's whole day in the browser, without the CLI (issue 16), against one
``ledger serve`` on the real clock:

the hotline reports a fault through the intake form on a desktop → the dispatcher assigns
it from the unassigned queue → the engineer, on a phone (375×812, location granted),
responds, sets off, arrives, resolves with a photo from the camera, and the customer signs
on the canvas → the quality department records the return visit (conducted, scored with the
live total, the service form's audit passed) → the chief engineer's office opens the
dashboard, whose ticket timeline and quality page agree with the ledger's own history, and
``ledger verify`` finds the whole log intact → the dossier shows the customer's signature.

The CLI is only the test's witness (history, verify); every record is made in the browser.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.serving import served
from tests.e2e.test_cli import ADMIN, Cli
from tests.e2e.test_dashboard_browser import (  # noqa: F401  (the browser fixtures)
    ARTIFACTS,
    DOCS_IMG,
    base_url,
    browser_type_launch_args,
)
from tests.evidence_stores import png
from tests.support import SEED_CONTRACTS

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
SITE = {"latitude": 34.1557, "longitude": 113.4703}
HOTLINE = "李娜"
DISPATCHER = "张调度"
ENGINEER = "王工"
QUALITY = "质量部-陈敏"
CHIEF = "总工办-刘总"
USERS = {
    HOTLINE: "dispatcher",
    DISPATCHER: "dispatcher",
    ENGINEER: "engineer",
    QUALITY: "quality",
    CHIEF: "chief_engineer_office",
}


@dataclass(frozen=True)
class Day:
    origin: str
    cli: Cli
    tokens: dict[str, str]

    def history(self, number: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.cli.json("ticket", "history", number)
        return events


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    workdir = tmp_path_factory.mktemp("day")
    cli = Cli(f"sqlite:///{workdir}/ledger.db")
    cli.env.pop("LEDGER_NOW", None)  # the real clock: the day as it happens
    cli.run("init")
    cli.run("contract", "load", *(str(path) for path in SEED_CONTRACTS), **ADMIN)
    tokens = {
        name: cli.json("user", "add", name, "--role", role, **ADMIN)["token"]
        for name, role in USERS.items()
    }
    with served(cli.env, workdir / "serve.log") as origin:
        yield Day(origin, cli, tokens)


@dataclass
class People:
    day: Day
    new_context: Callable[..., BrowserContext]
    errors: list[str]
    requests: list[str]

    def login(self, name: str, path: str, *, phone: bool = False) -> Page:
        options: dict[str, Any] = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
        if phone:
            options |= {
                "viewport": PHONE,
                "is_mobile": True,
                "has_touch": True,
                "geolocation": SITE,
                "permissions": ["geolocation"],
            }
        else:
            options["viewport"] = DESKTOP
        context = self.new_context(**options)
        context.on("request", lambda r: self.requests.append(r.url))
        context.on("weberror", lambda e: self.errors.append(str(e.error)))
        page = context.new_page()
        page.goto(self.day.origin + path)
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.fill("input[name=name]", name)
        page.fill("input[name=token]", self.day.tokens[name])
        page.click("form[action='/login'] button[type=submit]")
        expect(page).to_have_url(self.day.origin + path)
        return page


@pytest.fixture
def people(day: Day, new_context: Callable[..., BrowserContext]) -> People:
    return People(day, new_context, [], [])


def _tap(page: Page, step: str, recorded: str) -> None:
    """One tap on the phone; the page shows the step once the phone's queue has sent it."""
    page.click(f"button[data-step={step}]")
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", recorded)
    expect(page.locator("#queue-status")).to_have_text(re.compile("全部已发送"))


def _draw(page: Page) -> None:
    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + 0.6 * box["height"])
    page.mouse.down()
    for step in range(1, 9):
        x = box["x"] + 30 + step * 0.1 * box["width"]
        y = box["y"] + (0.3 if step % 2 else 0.7) * box["height"]
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def test_a_service_departments_day_in_the_browser(people: People, tmp_path: Path) -> None:
    day = people.day

    # 1. The hotline takes the call, on a desktop.
    hotline = people.login(HOTLINE, "/workbench/intake")
    hotline.fill("#find-contract input[name=q]", "看守所")
    hotline.click("#find-contract button[type=submit]")
    hotline.click("a[data-contract='seed-002']")
    expect(hotline.locator("#warranty")).to_have_text("在保修期内")
    hotline.select_option("#severity", "emergency")
    expect(hotline.locator("#promise")).to_contain_text("响应 5 分钟")
    hotline.fill("#report input[name=contact_name]", "张三")
    hotline.fill("#report input[name=contact_phone]", "13800138001")
    hotline.fill("#report input[name=site]", "禹州市看守所监控中心")
    hotline.fill("#report input[name=device]", "门禁控制器")
    hotline.fill("#report textarea[name=description]", "门禁控制器无法开机")
    hotline.click("#report button[type=submit]")
    expect(hotline).to_have_url(re.compile(r"/workbench/tickets/T-\d{4}-\d{6}"))
    number = re.search(r"T-\d{4}-\d{6}", hotline.url)[0]  # type: ignore[index]

    # 2. The dispatcher assigns it from the unassigned queue, in one click.
    desk = people.login(DISPATCHER, "/workbench/queues?tab=unassigned")
    row = desk.locator(f"tr[data-number='{number}']")
    row.locator("input[name=engineer]").fill(ENGINEER)
    row.locator("button[type=submit]").click()
    expect(desk).to_have_url(re.compile(rf"/workbench/tickets/{number}\?done=dispatch"))
    expect(desk.locator("#timeline tr[data-type=Dispatched]")).to_have_count(1)

    # 3. The engineer works it on the phone; the customer signs on the screen.
    phone = people.login(ENGINEER, "/workbench/phone", phone=True)
    expect(phone.locator(".phone-tickets")).to_contain_text(number)
    phone.click(f"text={number}")
    expect(phone.locator("h1")).to_contain_text(number)
    _tap(phone, "respond", "Responded")
    _tap(phone, "set_off", "EngineerSetOff")
    _tap(phone, "arrive", "Arrived")
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(png(red=10, size=8))
    phone.fill("form[data-step=resolve] textarea[name=summary]", "更换电源模块，设备恢复正常")
    phone.set_input_files("form[data-step=resolve] input[name=photos]", str(photo))
    phone.click("form[data-step=resolve] button[type=submit]")
    expect(phone.locator(".timeline li").first).to_have_attribute("data-type", "Resolved")
    _draw(phone)
    phone.fill("form[data-step=sign] input[name=signer]", "张三")
    phone.click("form[data-step=sign] button[type=submit]")
    expect(phone.locator(".timeline li").first).to_have_attribute("data-type", "CustomerSigned")

    # 4. The quality department's return visit: the audit of the service form.
    quality = people.login(QUALITY, f"/workbench/quality/visits/new?ticket={number}")
    quality.click("#form-visit_schedule button[type=submit]")
    expect(quality).to_have_url(re.compile(r"/workbench/quality/visits/V-\d{4}-\d{6}\?done="))
    visit = quality.locator("#record-number").inner_text()
    quality.fill("#form-visit_conduct [name=content]", "电话回访：门禁已恢复，工程师到场及时")
    quality.fill("#form-visit_conduct [name=customer_opinion]", "满意")
    quality.click("#form-visit_conduct button[type=submit]")
    for name, score in (
        ("engineering_quality", 95),
        ("progress", 90),
        ("service", 92),
        ("performance_capability", 88),
    ):
        quality.fill(f"#form-visit_score [name={name}]", str(score))
    expect(quality.locator("#live-total")).to_have_text("91.25")
    expect(quality.locator("#live-band")).to_have_text("很满意")
    quality.click("#form-visit_score button[type=submit]")
    expect(quality.locator("#recorded-total")).to_have_text("91.25")
    quality.check("#form-visit_audit input[name=verdict][value=pass]")
    quality.fill("#form-visit_audit [name=note]", "服务单客户已签字")
    quality.click("#form-visit_audit button[type=submit]")
    expect(quality.locator("#recorded-audit")).to_contain_text("通过")

    # The ledger holds the day, each fact once.
    history = day.history(number)
    types = Counter(e["type"] for e in history)
    assert [e["type"] for e in history if e["type"] != "EvidenceAttached"] == [
        "Reported",
        "Dispatched",
        "Responded",
        "EngineerSetOff",
        "Arrived",
        "Resolved",
        "CustomerSigned",
    ]
    assert types["EvidenceAttached"] == 2  # the photo and the signature
    assert {e["actor"] for e in history} == {HOTLINE, DISPATCHER, ENGINEER}
    visit_events = [e["type"] for e in day.cli.json("visit", "history", visit)]
    assert visit_events == ["VisitScheduled", "VisitConducted", "SatisfactionScored", "AuditPassed"]

    # 5. The chief engineer's office: the dashboard agrees with the ledger, verify too.
    chief = people.login(CHIEF, f"/dashboard/tickets/{number}")
    rows = chief.locator("#timeline tbody tr")
    expect(rows).to_have_count(len(history))
    versions = [int(rows.nth(i).locator("td").first.inner_text()) for i in range(len(history))]
    assert versions == [e["version"] for e in history]
    expect(chief.locator("#timeline tbody tr.bad")).to_have_count(0)  # every chain link holds
    positions = [
        int(rows.nth(i).locator("td.hash").inner_text().strip()) for i in range(len(history))
    ]
    verified = day.cli.run("verify", "--json")
    verdict = json.loads(verified.stdout)
    assert verified.returncode == 0 and verdict["ok"] is True
    assert verdict["events"] == day.cli.event_count()
    assert max(positions) <= verdict["head"]["position"]

    # 6. The dossier shows the customer's signature: the picture drawn on the phone.
    chief.goto(f"{day.origin}/dashboard/tickets/{number}/dossier.html")
    expect(chief.locator("body")).to_contain_text("张三")
    figures = chief.locator("figure.evidence")
    expect(figures.filter(has_text="signature")).to_have_count(1)
    signature = figures.filter(has_text="signature").locator("img")
    expect(signature).to_be_visible()
    assert chief.evaluate("img => img.naturalWidth", signature.element_handle()) > 0
    ARTIFACTS.mkdir(exist_ok=True)
    chief.screenshot(path=str(ARTIFACTS / "workbench-day-dossier.png"), full_page=True)

    assert [url for url in people.requests if not url.startswith(day.origin + "/")] == []
    assert people.errors == []
