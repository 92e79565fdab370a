"""The engineer's phone (issue 16) in a real browser at 375×812: Debian's Chromium driven by
pytest-playwright against ``ledger serve`` on a ledger that records the real time (the
browser's steps carry the phone's own clock).

The engineer responds, sets off and arrives (with the phone's location), resolves with a
photo from the camera input, the customer signs on the canvas (mouse strokes): the ledger
then holds the events, the PNG evidence and the signature naming it, and ``ledger verify``
passes. Offline, two steps wait in the page's queue and are recorded once each, with the
moments they happened, when the network returns; sending a queued entry again records
nothing new. A role that may not take a step does not see it, and is refused if it posts
it anyway. Screenshots go to docs/img/; the browser and its shared moves: tests/e2e/browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.browser import Browse, draw_signature, on_a_phone, screenshot, work_to_resolved
from tests.e2e.serving import Site, real_clock_cli, site
from tests.evidence_stores import png

ENGINEER = "王工"
QUALITY = "质量部周"
HERE = {"latitude": 34.1557, "longitude": 113.4703}
DESK = {"LEDGER_ACTOR": "李娜", "LEDGER_ROLE": "dispatcher"}


def _dispatched_ticket(site: Site) -> str:
    """A new ticket dispatched to the engineer."""
    number: str = site.cli.json(
        "ticket", "report", "--contract", "seed-002", "--contact-name", "张三",
        "--contact-phone", "13800138001", "--site", "看守所监控中心", "--device", "门禁控制器",
        "--severity", "emergency", "--description", "门禁控制器无法开机", **DESK,
    )["number"]  # fmt: skip
    site.cli.run("ticket", "dispatch", number, "--engineer", ENGINEER, **DESK)
    return number


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("phone")
    with site(real_clock_cli(workdir), workdir, {ENGINEER: "engineer", QUALITY: "quality"}) as s:
        yield s


@pytest.fixture
def phone(ledger: Site, new_context: Callable[..., BrowserContext]) -> Callable[[str], Page]:
    """A phone-sized context logged in as ``name``, its geolocation at :data:`HERE`."""
    browse = Browse(ledger.origin, ledger.tokens, new_context)
    return lambda name: browse.login(name, "/workbench/phone", **on_a_phone(HERE))


def _types(history: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in history]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_engineer_works_a_ticket_from_the_phone(
    ledger: Site, phone: Callable[[str], Page], tmp_path: Path
) -> None:
    number = _dispatched_ticket(ledger)
    page = phone(ENGINEER)
    expect(page.locator(".phone-tickets")).to_contain_text(number)
    screenshot(page, "workbench-phone-list.png", full_page=False)
    page.click(f"text={number}")
    expect(page.locator("h1")).to_contain_text(number)
    screenshot(page, "workbench-phone-ticket.png", full_page=False)

    photo = tmp_path / "现场照片.png"
    photo.write_bytes(png(red=10, size=8))
    work_to_resolved(page, "更换电源模块", photo)
    expect(page.locator("#signature-pad")).to_be_visible()
    draw_signature(page)
    screenshot(page, "workbench-phone-signature.png", full_page=False)
    page.fill("form[data-step=sign] input[name=signer]", "张三")
    page.click("form[data-step=sign] button[type=submit]")
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", "CustomerSigned")
    screenshot(page, "workbench-phone-timeline.png")

    history = ledger.history(number)
    assert _types(history)[2:] == [
        "Responded",
        "EngineerSetOff",
        "Arrived",
        "EvidenceAttached",
        "Resolved",
        "EvidenceAttached",
        "CustomerSigned",
    ]
    by_type = {e["type"]: e for e in history}
    for step in ("EngineerSetOff", "Arrived"):
        location = by_type[step]["data"]["location"]
        assert (location["latitude"], location["longitude"]) == (34.1557, 113.4703)
    photo_file, signature = [e["data"] for e in history if e["type"] == "EvidenceAttached"]
    assert (photo_file["kind"], photo_file["media_type"]) == ("photo", "image/png")
    assert (signature["kind"], signature["media_type"]) == ("signature", "image/png")
    signed = by_type["CustomerSigned"]["data"]
    assert (signed["signer"], signed["evidence_sha256"]) == ("张三", signature["sha256"])
    assert by_type["Resolved"]["data"]["summary"] == "更换电源模块"
    assert all(e["actor"] == ENGINEER and e["role"] == "engineer" for e in history[2:])

    # The photo sent again under a key (a queue replayed): answered again, attached once.
    again = page.evaluate(
        """async ([number, bytes]) => {
            const form = new FormData();
            const blob = new Blob([new Uint8Array(bytes)], {type: "image/png"});
            form.append("file", blob, "again.png");
            form.append("kind", "photo");
            const r = await fetch("/tickets/" + number + "/attachments", {method: "POST",
              credentials: "same-origin", body: form,
              headers: {"Idempotency-Key": "replayed-photo",
                        "X-CSRF-Token": Workbench.csrfToken()}});
            return {status: r.status, replayed: r.headers.get("Idempotent-Replayed"),
                    sha256: (await r.json()).attachment.sha256};
        }""",
        [number, list(photo.read_bytes())],
    )
    assert again == {"status": 200, "replayed": "true", "sha256": photo_file["sha256"]}
    assert len(ledger.history(number)) == len(history)
    ledger.cli.run("verify")


def test_the_engineer_suspends_with_a_reason(ledger: Site, phone: Callable[[str], Page]) -> None:
    number = _dispatched_ticket(ledger)
    page = phone(ENGINEER)
    page.goto(f"{ledger.origin}/workbench/phone/{number}")
    page.fill("form[data-step=suspend] input[name=reason]", "等客户断电")
    page.click("form[data-step=suspend] button[type=submit]")
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", "Suspended")
    expect(page.locator("button[data-step=resume]")).to_be_visible()
    expect(page.locator("button[data-step=arrive]")).to_have_count(0)
    suspended = ledger.history(number)[-1]
    assert (suspended["type"], suspended["data"]["reason"]) == ("Suspended", "等客户断电")


def test_offline_steps_are_recorded_once_with_the_moments_they_happened(
    ledger: Site, phone: Callable[[str], Page]
) -> None:
    number = _dispatched_ticket(ledger)
    page = phone(ENGINEER)
    page.goto(f"{ledger.origin}/workbench/phone/{number}")
    page.context.set_offline(True)
    page.click("button[data-step=set_off]")
    page.click("button[data-step=arrive]")
    status = page.locator("#queue-status")
    expect(status).to_contain_text("离线")
    expect(status).to_contain_text("待发送：2 条")
    expect(status.locator("li.queued")).to_have_count(2)
    screenshot(page, "workbench-phone-offline.png", full_page=False)
    queued = page.evaluate("Phone.all()")
    assert [q["step"] for q in queued] == ["set_off", "arrive"]
    assert ledger.history(number)[-1]["type"] == "Dispatched"  # nothing reached the ledger

    page.context.set_offline(False)
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", "Arrived")
    expect(page.locator("#queue-status")).to_contain_text("全部已发送")
    history = ledger.history(number)
    assert _types(history)[2:] == ["EngineerSetOff", "Arrived"]
    for event, entry in zip(history[2:], queued, strict=True):
        queued_at = _when(entry["occurredAt"].replace("Z", "+00:00")).replace(microsecond=0)
        assert _when(event["occurred_at"]) == queued_at  # (history shows whole seconds)
        assert _when(event["recorded_at"]) >= _when(event["occurred_at"])

    # The same entry sent again (a queue replayed twice): answered again, recorded once.
    again = page.evaluate(
        """async (entry) => {
            const r = await fetch(entry.url, {method: "POST", credentials: "same-origin",
              headers: {"Content-Type": "application/json", "Idempotency-Key": entry.key,
                        "X-CSRF-Token": Workbench.csrfToken()},
              body: JSON.stringify(Object.assign({occurred_at: entry.occurredAt}, entry.body))});
            return {status: r.status, replayed: r.headers.get("Idempotent-Replayed")};
        }""",
        queued[1],
    )
    assert again == {"status": 200, "replayed": "true"}
    assert _types(ledger.history(number))[2:] == ["EngineerSetOff", "Arrived"]


def test_a_step_the_role_may_not_take_is_not_shown_and_refused_if_posted(
    ledger: Site, phone: Callable[[str], Page]
) -> None:
    number = _dispatched_ticket(ledger)
    page = phone(QUALITY)
    page.goto(f"{ledger.origin}/workbench/phone/{number}")
    expect(page.locator("h1")).to_contain_text(number)
    expect(page.locator("button[data-step=arrive]")).to_have_count(0)
    expect(page.locator("button[data-step=set_off]")).to_have_count(0)
    refused = page.evaluate(
        """async (number) => {
            const r = await fetch("/tickets/" + number + "/arrive", {method: "POST",
              credentials: "same-origin", body: "{}",
              headers: {"Content-Type": "application/json",
                        "X-CSRF-Token": Workbench.csrfToken()}});
            return {status: r.status, body: await r.text()};
        }""",
        number,
    )
    assert refused["status"] == 403
    assert "arrive needs role" in refused["body"]
    assert ledger.history(number)[-1]["type"] == "Dispatched"


def test_the_phone_counts_down_to_each_tickets_next_due_promise(
    ledger: Site, phone: Callable[[str], Page]
) -> None:
    """The list and the ticket show the next promise (what, due when, minutes left) and the
    desktop's countdown runs it in the page: the page's clock run on past the due time
    turns it overdue without a reload."""
    number = _dispatched_ticket(ledger)  # an emergency: respond within 5 minutes of the report
    page = phone(ENGINEER)
    page.clock.install()
    page.reload()
    due = page.locator(f".phone-tickets li:has-text('{number}') .due[data-metric=respond]")
    expect(due).to_contain_text(re.compile(r"响应 · 期限 \d{4}-\d\d-\d\d \d\d:\d\d"))
    expect(due.locator(".countdown")).to_have_text(re.compile(r"^剩余 [0-5] 分钟$"))
    page.clock.fast_forward("10:00")
    expect(due.locator(".countdown")).to_have_text(re.compile(r"^已超时 [4-9] 分钟$"))

    page.goto(f"{ledger.origin}/workbench/phone/{number}")
    clock = page.locator("#sla-clock .due[data-metric=respond] .countdown")
    expect(clock).to_have_text(re.compile(r"^剩余 [0-5] 分钟$"))
    screenshot(page, "workbench-phone-countdown.png", full_page=False)
    page.clock.fast_forward("10:00")
    expect(clock).to_have_text(re.compile(r"^已超时 [4-9] 分钟$"))
    expect(clock).to_have_class(re.compile(r"\blate\b"))
