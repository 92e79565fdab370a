"""The browser tests' shared moves; the browser itself (Debian's Chromium) is launched by the
fixtures in tests/e2e/conftest.py. :class:`Browse` logs users in
through the login form and records every request, console error and page error, so a test
can assert that nothing left the server (the pages work with no internet access) and
nothing went wrong. Screenshots go to ``test-artifacts/`` and, for the docs, ``docs/img/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, expect

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
DOCS_IMG = REPO / "docs" / "img"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}


def on_a_phone(geolocation: dict[str, float]) -> dict[str, Any]:
    """Context options of a phone (375×812, touch) that grants its location."""
    return {
        "viewport": PHONE,
        "is_mobile": True,
        "has_touch": True,
        "geolocation": geolocation,
        "permissions": ["geolocation"],
    }


@dataclass
class Browse:
    """Contexts on one server whose users log in through the form a page redirects to, and
    whose every request, console error or warning and page error is recorded."""

    origin: str
    tokens: dict[str, str]
    new_context: Callable[..., BrowserContext]
    viewport: dict[str, int] = field(default_factory=lambda: DESKTOP)
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    """URLs a test asks for expecting an error status (their console line is due)."""
    cutting_short: bool = False
    """Inside :meth:`navigations_cut_short`: a load the browser abandons is expected."""

    def context(self, **options: Any) -> BrowserContext:
        context = self.new_context(
            **{"viewport": self.viewport, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
            | options
        )
        context.on("request", lambda r: self.requests.append(r.url))
        context.on("requestfailed", self._failed)
        context.on("console", self._console)
        context.on("weberror", lambda e: self.problems.append(f"page error: {e.error}"))
        return context

    @contextmanager
    def navigations_cut_short(self) -> Iterator[None]:
        """A block in which the user starts a navigation before the last one is done (a
        double click on a form's button): what the browser abandons then
        (``net::ERR_ABORTED``) is the user's doing, not the page's."""
        self.cutting_short = True
        try:
            yield
        finally:
            self.cutting_short = False

    def _failed(self, request: Request) -> None:
        if not (self.cutting_short and request.failure == "net::ERR_ABORTED"):
            self.problems.append(f"failed: {request.url} {request.failure}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        url = message.location.get("url", "")
        if url in self.refused and "the server responded with a status of" in message.text:
            return
        if "willReadFrequently" in message.text:  # the tests' own pixel reads, not the page's
            return
        self.problems.append(f"console {message.type}: {message.text} ({url})")

    def login(self, name: str, path: str, **options: Any) -> Page:
        """A new context (``options`` over the defaults) whose user ``name`` has logged in on
        the way to ``path``."""
        page = self.context(**options).new_page()
        page.goto(self.url(path))
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.fill("input[name=name]", name)
        page.fill("input[name=token]", self.tokens[name])
        page.click("form[action='/login'] button[type=submit]")
        expect(page).to_have_url(self.url(path))
        return page

    def url(self, path: str) -> str:
        return self.origin + path

    def refuse(self, path: str) -> str:
        """The URL of a page or form expected to answer with an error status."""
        url = self.url(path)
        self.refused.add(url)
        return url

    def assert_clean(self) -> None:
        """Every request went to the server itself, and nothing went wrong on the way.

        Only ``http://127.0.0.1:<port>/`` is allowed: no CDN, no font service, no other
        scheme. (``data:`` and ``blob:`` URLs never reach the ``request`` event, Chromium
        reports network fetches only; they are read in the page and leave nothing.)"""
        assert self.requests, "no request was recorded"
        elsewhere = [url for url in self.requests if not url.startswith(self.origin + "/")]
        assert elsewhere == []
        assert self.problems == [], self.problems


def screenshot(page: Page, name: str, *, full_page: bool = True, docs: bool = True) -> None:
    """A screenshot in test-artifacts/, copied to docs/img/ for the docs (unless ``docs`` is
    false)."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    page.screenshot(path=str(shot), full_page=full_page)
    assert shot.stat().st_size > 10_000
    if docs:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMG / name)


def draw_signature(page: Page) -> None:
    """A zigzag of strokes across ``#signature-pad`` with the mouse (scrolled into view
    first), the way a customer signs with a finger."""
    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.1 * w, y + 0.6 * h)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x + (0.1 + 0.04 * step) * w, y + (0.6 - 0.3 * (step % 2)) * h, steps=2)
    page.mouse.up()


def tap(page: Page, step: str, recorded: str) -> None:
    """One tap on the phone's step button; waits until the page, reloaded once the phone's
    queue has sent it, shows the event ``recorded`` on top of the timeline."""
    page.click(f"button[data-step={step}]")
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", recorded)
    expect(page.locator("#queue-status")).to_have_text(re.compile("全部已发送"))


def work_to_resolved(page: Page, summary: str, photo: Path) -> None:
    """The engineer's phone on a dispatched ticket: respond, set off, arrive, then resolve
    with ``summary`` and ``photo`` chosen in the camera input."""
    tap(page, "respond", "Responded")
    tap(page, "set_off", "EngineerSetOff")
    tap(page, "arrive", "Arrived")
    page.fill("form[data-step=resolve] textarea[name=summary]", summary)
    page.set_input_files("form[data-step=resolve] input[name=photos]", str(photo))
    page.click("form[data-step=resolve] button[type=submit]")
    expect(page.locator(".timeline li").first).to_have_attribute("data-type", "Resolved")
