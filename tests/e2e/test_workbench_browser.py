"""The desk's workbench pages in a real browser (Debian's Chromium, desktop 1280×800)
against ``ledger serve``: the hotline reports a fault through the intake form (the promise
follows the severity, a bad phone is refused beside its field in Chinese), dispatches from
the ticket page, attaches a photo and sees its preview, adds a work note; the queues count
down; search finds the ticket by a Chinese word; an auditor sees no button. The browser,
the login and the screenshots: tests/e2e/browser.py.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.browser import Browse, screenshot
from tests.e2e.serving import Site, site
from tests.e2e.test_cli import ADMIN, Cli
from tests.support import SEED_CONTRACTS

NOW = "2026-10-08T09:00+08:00"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``ledger serve`` on a ledger with the seed contracts, at :data:`NOW`."""
    workdir = tmp_path_factory.mktemp("workbench")
    cli = Cli(f"sqlite:///{workdir}/ledger.db")
    cli.env["LEDGER_NOW"] = NOW
    cli.run("init", "--fixed-clock")
    cli.run("contract", "load", *(str(p) for p in SEED_CONTRACTS), **ADMIN)
    with site(cli, workdir, {"李娜": "dispatcher", "审计员": "auditor"}) as served:
        yield served


@pytest.fixture
def browse(desk: Site, new_context: Callable[..., BrowserContext]) -> Browse:
    return Browse(desk.origin, desk.tokens, new_context)


def test_the_hotline_reports_dispatches_attaches_and_notes(
    browse: Browse, desk: Site, tmp_path: Path
) -> None:
    browse.refuse("/workbench/intake")  # the refused intake form answers 422 on purpose
    page = browse.login("李娜", "/workbench/intake")
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
    screenshot(page, "workbench-intake.png")
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
    screenshot(page, "workbench-ticket.png")

    # A call taken at 08:55:30, entered now (09:00): 90 % of its 5 minutes to answer used,
    # at risk (the sweep's 80 %), its countdown running.
    late = desk.cli.json(
        "ticket", "report", "--contract", "seed-002", "--customer", "禹州市公安局",
        "--contact-name", "王五", "--contact-phone", "13900139002", "--site", "禹州市看守所",
        "--device", "对讲主机", "--severity", "emergency", "--description", "对讲主机无声音",
        "--at", "2026-10-08T08:55:30+08:00",
    )["number"]  # fmt: skip
    page.goto(browse.url("/workbench/queues?tab=at_risk"))
    row = page.locator(f"tr[data-number='{late}']")
    expect(row.locator("[data-sla]")).to_have_attribute("data-sla", "at_risk")
    expect(page.locator("tr[data-number='T-2026-000001']")).to_have_count(0)  # 0 % used
    expect(row.locator(".countdown")).to_contain_text("分钟")  # the page script's countdown
    screenshot(page, "workbench-queues.png")

    page.goto(browse.url("/workbench/search?q=无法开机"))
    expect(page.locator("#results tr[data-number='T-2026-000001']")).to_have_count(1)
    browse.assert_clean()


def test_an_auditor_sees_no_button(browse: Browse) -> None:
    page = browse.login("审计员", "/workbench/tickets/T-2026-000001")
    expect(page.locator("#actions form")).to_have_count(0)
    expect(page.locator("#actions")).to_contain_text("您的角色目前不能对此工单进行任何操作。")
    expect(page.locator("#wb-nav a[data-nav=intake]")).to_have_count(0)


def test_the_intake_warns_of_duplicates_from_the_server_and_asks_to_confirm(
    browse: Browse,
) -> None:
    browse.refuse("/workbench/intake")  # the unconfirmed duplicate answers 422 on purpose
    page = browse.login("李娜", "/workbench/intake?contract=seed-002")
    listed = page.locator("#open-tickets li[data-number='T-2026-000001']")
    expect(listed).to_be_visible()  # the same customer's open ticket, before typing
    expect(listed.locator("[data-same-device]")).to_have_count(0)
    page.fill("#report input[name=contact_name]", "张三")
    page.fill("#report input[name=site]", "禹州市看守所监控中心")
    phone = page.locator("#report input[name=contact_phone]")
    expect(phone).to_have_value("13800138001")  # the remembered contact's
    page.fill("#report input[name=device]", "门禁控制器")
    page.fill("#report textarea[name=description]", "门禁控制器又无法开机")  # device: change
    expect(listed.locator("[data-same-device]")).to_have_text("同一设备")  # the fragment
    page.click("#report button[type=submit]")
    expect(page.locator("#form-message")).to_contain_text("勾选“不是重复”再提交")
    error = page.locator("label[data-field=not_duplicate] .field-error")
    expect(error).to_have_text("如确需新建工单，请勾选。")
    expect(page.locator("#report input[name=device]")).to_have_value("门禁控制器")
    screenshot(page, "workbench-intake-duplicates.png")
    page.check("#open-tickets input[name=not_duplicate]")
    page.click("#report button[type=submit]")
    expect(page).to_have_url(re.compile(r"/workbench/tickets/T-2026-\d{6}\?done=report"))
    browse.assert_clean()
