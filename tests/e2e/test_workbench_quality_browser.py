"""The quality / 总工办 pages in a real browser (Debian's Chromium, as the dashboard's tests):
the return-visit card's live total and band as the scores are typed, compared with the
domain's rule; the customer's signature drawn on the canvas and kept as evidence; errors
beside their fields in Chinese; a double click recording once; a form the role may not
submit not drawn and refused when posted anyway; screenshots (desktop and phone) for
docs/workbench.md. Nothing is asked of any host but the server, and no page script fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from ledger.domain.satisfaction import satisfaction_band, satisfaction_total
from tests.e2e.browser import PHONE, Browse, draw_signature, screenshot
from tests.e2e.serving import add_users, served
from tests.e2e.test_cli import Cli, make_cli

QUALITY = "质量部王"
DISPATCHER = "李娜"
CUSTOMER = "禹州市公安局-张三"
USERS = {QUALITY: "quality", DISPATCHER: "dispatcher", CUSTOMER: "customer"}


@dataclass(frozen=True)
class Site:
    origin: str
    cli: Cli
    ticket: str
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("workbench-quality")
    cli = make_cli(f"sqlite:///{workdir}/ledger.db")
    ticket = cli.json(
        "ticket", "report", "--contract", "seed-002", "--customer", "禹州市公安局",
        "--contact-name", "张三", "--contact-phone", "13800138001", "--site", "看守所监控中心",
        "--device", "门禁控制器", "--severity", "emergency", "--description", "门禁控制器无法开机",
    )["number"]  # fmt: skip
    tokens = add_users(cli, USERS)
    with served(cli.env, workdir / "serve.log") as origin:
        yield Site(origin, cli, ticket, tokens)


@pytest.fixture
def browse(site: Site, new_context: Callable[..., BrowserContext]) -> Browse:
    return Browse(site.origin, site.tokens, new_context)


def submit(page: Page, command: str) -> None:
    page.click(f"#form-{command} button[type=submit]")


def schedule_visit(page: Page, site: Site) -> str:
    page.goto(f"{site.origin}/workbench/quality/visits/new?ticket={site.ticket}")
    expect(page.locator("#form-visit_schedule [name=visitor]")).to_have_value(QUALITY)
    page.select_option("#form-visit_schedule [name=form]", "on-site")
    submit(page, "visit_schedule")
    expect(page).to_have_url(re.compile(r"/workbench/quality/visits/V-2026-\d+\?done="))
    return page.locator("#record-number").inner_text()


def visit_events(site: Site, number: str) -> list[str]:
    return [e["type"] for e in site.cli.json("visit", "history", number)]


def shown(total: Decimal) -> str:
    """A total as the card's script writes it (no trailing zeros)."""
    return f"{total.normalize():f}"


def test_the_return_visit_card_live_total_and_signature(site: Site, browse: Browse) -> None:
    page = browse.login(QUALITY, "/workbench/quality")
    number = schedule_visit(page, site)
    page.fill("#form-visit_conduct [name=content]", "现场回访：门禁已修复，运行正常")
    page.fill("#form-visit_conduct [name=customer_opinion]", "响应及时")
    submit(page, "visit_conduct")
    expect(page.locator("#done")).to_be_visible()

    total, band = page.locator("#live-total"), page.locator("#live-band")
    expect(total).to_have_text("—")
    for scores in (
        [40, 41, 40, 40],
        [40, 41, 41, 40],
        [60, 60, 61, 61],
        [100, 0, 55, 7],
        [90, 80, 85, 70],
    ):
        for name, score in zip(
            ("engineering_quality", "progress", "service", "performance_capability"),
            scores,
            strict=True,
        ):
            page.fill(f"#form-visit_score [name={name}]", str(score))
        exact = satisfaction_total(*scores)
        expect(total).to_have_text(shown(exact))
        expect(band).to_have_text(satisfaction_band(exact).zh)
        expect(band).to_have_attribute("data-band", satisfaction_band(exact).value)
    page.locator("#form-visit_sign [name=signer]").fill("张三")
    draw_signature(page)
    screenshot(page, "workbench-quality-visit.png")  # the scores typed, the live total shown
    page.fill("#form-visit_score [name=progress]", "")
    expect(total).to_have_text("—")
    page.fill("#form-visit_score [name=progress]", "80")
    submit(page, "visit_score")
    expect(page.locator("#recorded-total")).to_have_text("81.25")
    expect(page.locator("#recorded-band")).to_have_text("很满意")

    page.fill("#form-visit_sign [name=signer]", "张三")
    draw_signature(page)
    submit(page, "visit_sign")
    expect(page.locator("#recorded-signer")).to_have_text("张三")
    signature = page.locator("img[data-signature]")
    expect(signature).to_be_visible()
    # the image is decoded after it is shown: wait for it, then read its size
    page.wait_for_function("document.querySelector('img[data-signature]').complete")
    assert page.evaluate("document.querySelector('img[data-signature]').naturalWidth") == 600
    assert visit_events(site, number)[-2:] == ["EvidenceAttached", "VisitCustomerSigned"]
    attached = site.cli.json("visit", "show", number)["evidence"]
    assert [(e["kind"], e["media_type"]) for e in attached] == [("signature", "image/png")]

    phone = browse.login(QUALITY, f"/workbench/quality/visits/{number}", viewport=PHONE)
    expect(phone.locator("#recorded-band")).to_have_text("很满意")
    screenshot(phone, "workbench-quality-visit-phone.png")
    browse.assert_clean()


def test_errors_by_field_and_a_double_click_recording_once(site: Site, browse: Browse) -> None:
    page = browse.login(QUALITY, "/workbench/quality")
    number = schedule_visit(page, site)
    browse.refuse(f"/workbench/quality/visits/{number}/visit_conduct")  # answers 422
    submit(page, "visit_conduct")  # nothing typed
    error = page.locator("#form-visit_conduct [data-error-for=content]")
    expect(error).to_have_text("必填。")
    assert visit_events(site, number) == ["VisitScheduled"]

    page.fill("#form-visit_conduct [name=content]", "电话回访")
    with browse.navigations_cut_short():  # the second click abandons the first's page
        page.dblclick("#form-visit_conduct button[type=submit]")
        expect(page).to_have_url(re.compile(r"\?done=visit_conduct$"))
        expect(page.locator("#form-visit_score")).to_be_visible()
        page.wait_for_load_state("networkidle")
    assert visit_events(site, number) == ["VisitScheduled", "VisitConducted"]
    browse.assert_clean()


def test_a_forbidden_form_is_not_drawn_and_refused_if_posted(site: Site, browse: Browse) -> None:
    quality = browse.login(QUALITY, "/workbench/quality")
    number = schedule_visit(quality, site)
    quality.fill("#form-visit_conduct [name=content]", "电话回访")
    submit(quality, "visit_conduct")
    expect(quality.locator("#form-visit_audit")).to_be_visible()

    card = f"/workbench/quality/visits/{number}"
    desk = browse.login(DISPATCHER, card)
    expect(desk.locator("#form-visit_score")).to_be_visible()
    expect(desk.locator("#form-visit_audit")).to_have_count(0)
    csrf = desk.locator("#form-visit_score [name=csrf]").get_attribute("value")
    refused = desk.request.post(
        f"{site.origin}{card}/visit_audit",
        form={"csrf": csrf or "", "idempotency_key": "wb-forged", "verdict": "pass"},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "无权" in refused.text()
    assert visit_events(site, number) == ["VisitScheduled", "VisitConducted"]


def test_the_action_card_and_the_complaint_form(site: Site, browse: Browse) -> None:
    page = browse.login(QUALITY, "/workbench/quality/actions/new")
    page.select_option("#form-action_raise [name=source]", "ticket")
    page.fill("#form-action_raise [name=links]", site.ticket)
    page.fill("#form-action_raise [name=department]", "技术部")
    page.fill("#form-action_raise [name=content]", "门禁电源模块批次质量问题")
    submit(page, "action_raise")
    expect(page).to_have_url(re.compile(r"/workbench/quality/actions/CA-2026-\d+\?done="))
    page.fill("#form-action_analyse [name=cause]", "供应商批次不良")
    submit(page, "action_analyse")
    expect(page.locator("#form-action_plan")).to_be_visible()
    expect(page.locator("[data-box=action_analyse].done")).to_be_visible()
    screenshot(page, "workbench-quality-action.png")
    phone = browse.login(QUALITY, page.url.split("?")[0].removeprefix(site.origin), viewport=PHONE)
    screenshot(phone, "workbench-quality-action-phone.png")

    customer = browse.login(CUSTOMER, "/workbench/quality/complaints/new", viewport=PHONE)
    customer.select_option("#form-complaint_receive [name=about]", "ticket")
    customer.fill("#form-complaint_receive [name=reference]", site.ticket)
    customer.select_option("#form-complaint_receive [name=category]", "non_quality")
    customer.fill("#form-complaint_receive [name=content]", "工程师未按约定时间到场")
    screenshot(customer, "workbench-quality-complaint-phone.png")
    submit(customer, "complaint_receive")
    expect(customer.locator("#done")).to_contain_text("C-2026-")
    desk = browse.login(QUALITY, "/workbench/quality")
    expect(desk.locator("#open-complaints")).to_contain_text("C-2026-")
    screenshot(desk, "workbench-quality.png")
    browse.assert_clean()
