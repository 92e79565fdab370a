"""The desk's workbench pages in a real browser (Debian's Chromium, desktop 1280×800)
against ``ledger serve``: the hotline reports a fault through the intake form (the promise
follows the severity, a bad phone is refused beside its field in Chinese), dispatches from
the ticket page, attaches a photo and sees its preview, adds a work note; the queues count
down; search finds the ticket by a Chinese word; an auditor sees no button. Launch flags,
the skip without Chromium and ``LEDGER_REQUIRE_BROWSER``: tests/e2e/test_dashboard_browser.py.
"""

from __future__ import annotations

import base64
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_cli import ADMIN, Cli
from tests.e2e.test_dashboard_browser import (  # noqa: F401 - fixtures: Chromium, no base URL
    ARTIFACTS,
    DOCS_IMG,
    _free_port,
    base_url,
    browser_type_launch_args,
)
from tests.support import SEED_CONTRACTS

DESKTOP = {"width": 1280, "height": 800}
NOW = "2026-10-08T09:00+08:00"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass(frozen=True)
class Served:
    origin: str
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("workbench")
    cli = Cli(f"sqlite:///{workdir}/ledger.db")
    cli.env["LEDGER_NOW"] = NOW
    cli.run("init", "--fixed-clock")
    cli.run("contract", "load", *(str(p) for p in SEED_CONTRACTS), **ADMIN)
    tokens = {
        name: cli.json("user", "add", name, "--role", role, **ADMIN)["token"]
        for name, role in (("李娜", "dispatcher"), ("审计员", "auditor"))
    }
    port = _free_port()
    log = (workdir / "serve.log").open("w+", encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--port", str(port), "--log-level", "warning"],
        env=cli.env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "ledger serve exited"
            try:
                if httpx.get(f"{origin}/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "ledger serve did not start"
            time.sleep(0.1)
        yield Served(origin, tokens)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.seek(0)
        output = log.read()
        log.close()
    assert "Traceback" not in output, output


def _login(browser: Browser, served: Served, name: str, target: str) -> Page:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        # the refused intake form answers 422 on purpose; any other error is a fault
        lambda m: (
            problems.append(m.text) if m.type == "error" and "status of 422" not in m.text else None
        ),
    )
    page.goto(served.origin + target)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=name]", name)
    page.fill("input[name=token]", served.tokens[name])
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url(served.origin + target)
    page.problems = problems  # type: ignore[attr-defined]
    return page


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / name), full_page=True)


def test_the_hotline_reports_dispatches_attaches_and_notes(
    browser: Browser, served: Served, tmp_path: Path
) -> None:
    page = _login(browser, served, "李娜", "/workbench/intake")
    page.fill("#find-contract input[name=q]", "看守所")
    page.click("#find-contract button[type=submit]")
    page.click("a[data-contract='seed-002']")
    expect(page.locator("#warranty")).to_have_text("在保修期内")
    page.select_option("#severity", "emergency")
    expect(page.locator("#promise")).to_have_text(
        "响应 5 分钟 · 到场 20 分钟 · 修复 4 小时 · 备机 8 小时后再 30 分钟"
    )
    page.fill("#report input[name=contact_name]", "张三")
    page.fill("#report input[name=contact_phone]", "abc")
    page.fill("#report input[name=site]", "禹州市看守所监控中心")
    page.fill("#report input[name=device]", "门禁控制器")
    page.fill("#report textarea[name=description]", "门禁控制器无法开机")
    page.click("#report button[type=submit]")
    error = page.locator("label[data-field=contact_phone] .field-error")
    expect(error).to_have_text("只能包含数字、空格和 + ( ) -（3 到 40 个字符）。")
    _shot(page, "workbench-intake.png")
    page.fill("#report input[name=contact_phone]", "13800138001")
    page.click("#report button[type=submit]")
    expect(page).to_have_url(re.compile(r"/workbench/tickets/T-2026-000001\?done=report"))

    page.fill("form[data-action=dispatch] input[name=engineer]", "王工")
    page.click("form[data-action=dispatch] button[type=submit]")
    expect(page.locator("#done")).to_have_text("已完成：派工。")
    expect(page.locator("#timeline tr[data-type=Dispatched]")).to_have_count(1)
    expect(page.locator("form[data-action=dispatch]")).to_have_count(1)  # re-assign stays

    photo = tmp_path / "现场.png"
    photo.write_bytes(PNG)
    page.set_input_files("#upload input[type=file]", str(photo))
    page.click("#upload button[type=submit]")
    expect(page.locator("#attachments img.preview")).to_have_count(1)
    expect(page.locator("#timeline tr[data-type=EvidenceAttached]")).to_have_count(1)

    page.fill("form[data-action=note] textarea[name=text]", "机房钥匙在值班室")
    page.click("form[data-action=note] button[type=submit]")
    expect(page.locator("#timeline tr[data-type=WorkNoteAdded]")).to_contain_text(
        "机房钥匙在值班室"
    )
    _shot(page, "workbench-ticket.png")

    page.goto(served.origin + "/workbench/queues?tab=at_risk")
    row = page.locator("tr[data-number='T-2026-000001']")
    expect(row.locator("[data-sla]")).to_have_attribute("data-sla", re.compile("at_risk|breached"))
    expect(row.locator(".countdown")).to_contain_text("分钟")  # the page script's countdown
    _shot(page, "workbench-queues.png")

    page.goto(served.origin + "/workbench/search?q=无法开机")
    expect(page.locator("#results tr[data-number='T-2026-000001']")).to_have_count(1)
    assert page.problems == []  # type: ignore[attr-defined]


def test_an_auditor_sees_no_button(browser: Browser, served: Served) -> None:
    page = _login(browser, served, "审计员", "/workbench/tickets/T-2026-000001")
    expect(page.locator("#actions form")).to_have_count(0)
    expect(page.locator("#actions")).to_contain_text("您的角色目前不能对此工单进行任何操作。")
    expect(page.locator("#wb-nav a[data-nav=intake]")).to_have_count(0)
