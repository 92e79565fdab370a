"""The engineer's phone (issue 16) in a real browser at 375×812: Debian's Chromium driven by
pytest-playwright against ``ledger serve`` on a ledger that records the real time (the
browser's steps carry the phone's own clock).

The engineer responds, sets off and arrives (with the phone's location), resolves with a
photo from the camera input, the customer signs on the canvas (mouse strokes): the ledger
then holds the events, the PNG evidence and the signature naming it, and ``ledger verify``
passes. Offline, two steps wait in the page's queue and are recorded once each, with the
moments they happened, when the network returns; sending a queued entry again records
nothing new. A role that may not take a step does not see it, and is refused if it posts
it anyway. Screenshots go to docs/img/.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.test_cli import ADMIN, Cli
from tests.e2e.test_dashboard_browser import (  # noqa: F401  (fixtures: the browser)
    DOCS_IMG,
    _free_port,
    base_url,
    browser_type_launch_args,
)
from tests.evidence_stores import png
from tests.support import SEED_CONTRACTS

PHONE = {"width": 375, "height": 812}
ENGINEER = "王工"
QUALITY = "质量部周"
HERE = {"latitude": 34.1557, "longitude": 113.4703, "accuracy": 15}
DESK = {"LEDGER_ACTOR": "李娜", "LEDGER_ROLE": "dispatcher"}


@dataclass(frozen=True)
class Served:
    origin: str
    cli: Cli
    tokens: dict[str, str]

    def ticket(self, *, resolved: bool = False) -> str:
        """A new ticket dispatched to the engineer (resolved on site, when asked)."""
        number: str = self.cli.json(
            "ticket", "report", "--contract", "seed-002", "--contact-name", "张三",
            "--contact-phone", "13800138001", "--site", "看守所监控中心", "--device", "门禁控制器",
            "--severity", "emergency", "--description", "门禁控制器无法开机", **DESK,
        )["number"]  # fmt: skip
        self.cli.run("ticket", "dispatch", number, "--engineer", ENGINEER, **DESK)
        return number

    def history(self, number: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.cli.json("ticket", "history", number)
        return events


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("phone")
    cli = Cli(f"sqlite:///{workdir}/ledger.db")
    cli.env.pop("LEDGER_NOW", None)
    cli.run("init")
    cli.run("contract", "load", *(str(path) for path in SEED_CONTRACTS), **ADMIN)
    tokens = {
        name: cli.json("user", "add", name, "--role", role, **ADMIN)["token"]
        for name, role in ((ENGINEER, "engineer"), (QUALITY, "quality"))
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
        yield Served(origin, cli, tokens)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.seek(0)
        output = log.read()
        log.close()
    assert "Traceback" not in output, output


@pytest.fixture
def phone(served: Served, new_context: Callable[..., BrowserContext]) -> Callable[[str], Page]:
    """A phone-sized context logged in as ``name``, its geolocation at :data:`HERE`."""

    def login(name: str) -> Page:
        context = new_context(
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            geolocation={"latitude": HERE["latitude"], "longitude": HERE["longitude"]},
            permissions=["geolocation"],
        )
        page = context.new_page()
        page.goto(served.origin + "/workbench/phone")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.fill("input[name=name]", name)
        page.fill("input[name=token]", served.tokens[name])
        page.click("form[action='/login'] button[type=submit]")
        expect(page).to_have_url(served.origin + "/workbench/phone")
        return page

    return login


def _types(history: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in history]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _tap(page: Page, step: str, recorded: str) -> None:
    """Tap a step and wait until the page, reloaded once the queue is sent, shows it."""
    page.click(f"button[data-step={step}]")
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", recorded)
    expect(page.locator("#queue-status")).to_have_text(re.compile("全部已发送"))


def _sign(page: Page) -> None:
    pad = page.locator("#signature-pad")
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + 120)
    page.mouse.down()
    for x, y in ((80, 40), (130, 130), (180, 50), (240, 120), (300, 60)):
        page.mouse.move(box["x"] + x, box["y"] + y, steps=5)
    page.mouse.up()


def test_the_engineer_works_a_ticket_from_the_phone(
    served: Served, phone: Callable[[str], Page], tmp_path: Path
) -> None:
    number = served.ticket()
    page = phone(ENGINEER)
    expect(page.locator(".phone-tickets")).to_contain_text(number)
    page.screenshot(path=str(DOCS_IMG / "workbench-phone-list.png"))
    page.click(f"text={number}")
    expect(page.locator("h1")).to_contain_text(number)
    page.screenshot(path=str(DOCS_IMG / "workbench-phone-ticket.png"))

    _tap(page, "respond", "Responded")
    _tap(page, "set_off", "EngineerSetOff")
    _tap(page, "arrive", "Arrived")
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(png(red=10, size=8))
    page.fill("form[data-step=resolve] textarea[name=summary]", "更换电源模块")
    page.set_input_files("form[data-step=resolve] input[name=photos]", str(photo))
    page.click("form[data-step=resolve] button[type=submit]")
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", "Resolved")
    expect(page.locator("#signature-pad")).to_be_visible()
    _sign(page)
    page.screenshot(path=str(DOCS_IMG / "workbench-phone-signature.png"))
    page.fill("form[data-step=sign] input[name=signer]", "张三")
    page.click("form[data-step=sign] button[type=submit]")
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", "CustomerSigned")
    page.screenshot(path=str(DOCS_IMG / "workbench-phone-timeline.png"), full_page=True)

    history = served.history(number)
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
    assert len(served.history(number)) == len(history)
    served.cli.run("verify")


def test_the_engineer_suspends_with_a_reason(served: Served, phone: Callable[[str], Page]) -> None:
    number = served.ticket()
    page = phone(ENGINEER)
    page.goto(f"{served.origin}/workbench/phone/{number}")
    page.fill("form[data-step=suspend] input[name=reason]", "等客户断电")
    page.click("form[data-step=suspend] button[type=submit]")
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", "Suspended")
    expect(page.locator("button[data-step=resume]")).to_be_visible()
    expect(page.locator("button[data-step=arrive]")).to_have_count(0)
    suspended = served.history(number)[-1]
    assert (suspended["type"], suspended["data"]["reason"]) == ("Suspended", "等客户断电")


def test_offline_steps_are_recorded_once_with_the_moments_they_happened(
    served: Served, phone: Callable[[str], Page]
) -> None:
    number = served.ticket()
    page = phone(ENGINEER)
    page.goto(f"{served.origin}/workbench/phone/{number}")
    page.context.set_offline(True)
    page.click("button[data-step=set_off]")
    page.click("button[data-step=arrive]")
    status = page.locator("#queue-status")
    expect(status).to_contain_text("离线")
    expect(status).to_contain_text("待发送：2 条")
    expect(status.locator("li.queued")).to_have_count(2)
    page.screenshot(path=str(DOCS_IMG / "workbench-phone-offline.png"))
    queued = page.evaluate("Phone.all()")
    assert [q["step"] for q in queued] == ["set_off", "arrive"]
    assert served.history(number)[-1]["type"] == "Dispatched"  # nothing reached the ledger

    page.context.set_offline(False)
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", "Arrived")
    expect(page.locator("#queue-status")).to_contain_text("全部已发送")
    history = served.history(number)
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
    assert _types(served.history(number))[2:] == ["EngineerSetOff", "Arrived"]


def test_a_step_the_role_may_not_take_is_not_shown_and_refused_if_posted(
    served: Served, phone: Callable[[str], Page]
) -> None:
    number = served.ticket()
    page = phone(QUALITY)
    page.goto(f"{served.origin}/workbench/phone/{number}")
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
    assert served.history(number)[-1]["type"] == "Dispatched"
