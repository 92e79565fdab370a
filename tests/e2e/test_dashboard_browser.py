"""The supervisor dashboard in a real browser: Debian's Chromium, driven by pytest-playwright,
against ``ledger serve`` on a ledger filled the way ``make demo`` fills it.

What a user sees and clicks: the login, the overview's tiles and drawn charts, the list
behind a tile and behind a chart bar, a ticket's timeline, the language switch, an
engineer's narrowed view, the logout. Every test also checks that the browser asked
nothing of any host but the server (the page must work with no internet access) and that
the console stayed free of errors.

Chromium is ``/usr/bin/chromium`` (Debian's ``chromium`` package; never ``playwright
install``). Without it these tests are skipped, unless ``LEDGER_REQUIRE_BROWSER=1`` (CI),
in which case they fail. Screenshots go to ``test-artifacts/`` and, for the README, to
``docs/img/``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, expect

from ledger.dashboard.charts import METRIC_COLOURS
from ledger.dashboard.words import word
from ledger.reports.common import EVENT_WORDS
from ledger.sessions import LANG_COOKIE, SESSION_COOKIE
from tests.e2e.test_cli import ADMIN, Cli
from tests.support import SEED_CONTRACTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE_BROWSER_ENV = "LEDGER_REQUIRE_BROWSER"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
DOCS_IMG = REPO / "docs" / "img"
DEMO_NOW = "2026-11-20T18:00+08:00"
"""The demo's "now" (examples/demo.sh): October's tickets are in this quarter."""
OVERVIEW = "/dashboard?period=quarter"
QUALITY = "质量部王"
ENGINEER = "刘工"
OTHER_ENGINEER = "周工"
VIEWPORT = {"width": 1400, "height": 1000}
MISSED_STATUSES = {"breached", "overdue"}
METRICS = ("respond", "arrive", "resolve")


# --------------------------------------------------------------------------- the browser


def _browser_required() -> bool:
    return os.environ.get(REQUIRE_BROWSER_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@pytest.fixture(scope="session")
def base_url() -> None:
    """No session-wide base URL (each module's server has its own port); this also keeps
    pytest-playwright's own fallback fixture, deprecated by pytest, from running."""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, headless, with nothing of its own phoning home. Without it the
    tests skip (or, with LEDGER_REQUIRE_BROWSER=1, fail) before any ledger is built: this
    session fixture is set up before the module's server."""
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} not found; install Debian's `chromium` package"
        if _browser_required():
            pytest.fail(
                f"a browser is required ({REQUIRE_BROWSER_ENV}=1): {message}", pytrace=False
            )
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


# --------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class Demo:
    """``ledger serve`` on the demo ledger, with its users and who handles which ticket."""

    origin: str
    tokens: dict[str, str]
    engineer_of: dict[str, str | None]
    cli: Cli

    def tickets_of(self, engineer: str) -> set[str]:
        return {number for number, name in self.engineer_of.items() if name == engineer}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fill_like_make_demo(cli: Cli, workdir: Path) -> None:
    """examples/demo.sh's ledger: the seed contracts, October's tickets, the sweep."""
    cli.run("init", "--fixed-clock")
    cli.run("contract", "load", *(str(path) for path in SEED_CONTRACTS), **ADMIN)
    script = REPO / "examples" / "demo_tickets.py"
    tickets = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60
    )
    lines = workdir / "tickets.jsonl"
    lines.write_text(tickets.stdout, encoding="utf-8")
    cli.run("import", str(lines))
    cli.run("sweep")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    workdir = tmp_path_factory.mktemp("dashboard")
    cli = Cli(f"sqlite:///{workdir}/ledger.db")
    cli.env["LEDGER_NOW"] = DEMO_NOW
    _fill_like_make_demo(cli, workdir)
    engineer_of = {t["number"]: t["engineer"] for t in cli.json("ticket", "list", "--all")}
    assert {ENGINEER, OTHER_ENGINEER} <= set(engineer_of.values())
    tokens = {
        name: cli.json("user", "add", name, "--role", role, **ADMIN)["token"]
        for name, role in ((QUALITY, "quality"), (ENGINEER, "engineer"))
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
            assert server.poll() is None, f"ledger serve exited: {_read(log)}"
            try:
                if httpx.get(f"{origin}/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"ledger serve did not start: {_read(log)}"
            time.sleep(0.1)
        yield Demo(origin, tokens, engineer_of, cli)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        output = _read(log)
        log.close()
    assert server.returncode == 0, output
    assert "Traceback" not in output, output


def _read(log: Any) -> str:
    log.flush()
    log.seek(0)
    return str(log.read())


# --------------------------------------------------------------------------- watching the browser


@dataclass
class Browse:
    """Logged-in browser contexts whose every request, console error and page error is
    recorded, so a test can assert that nothing left the server and nothing went wrong."""

    demo: Demo
    new_context: Callable[..., BrowserContext]
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    """Page URLs a test asks for expecting an error status (their console line is due)."""

    def context(self) -> BrowserContext:
        context = self.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
        context.on("request", self._request)
        context.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        context.on("console", self._console)
        context.on("weberror", lambda e: self.problems.append(f"page error: {e.error}"))
        return context

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        url = message.location.get("url", "")
        if url in self.refused and "the server responded with a status of" in message.text:
            return
        if "willReadFrequently" in message.text:  # the tests' own pixel reads, not the page's
            return
        self.problems.append(f"console {message.type}: {message.text} ({url})")

    def login(self, name: str, target: str = OVERVIEW) -> Page:
        """A new context whose user logs in through the form the dashboard redirects to."""
        page = self.context().new_page()
        page.goto(self.url(target))
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.fill("input[name=name]", name)
        page.fill("input[name=token]", self.demo.tokens[name])
        page.click("form[action='/login'] button[type=submit]")
        expect(page).to_have_url(self.url(target))
        return page

    def url(self, path: str) -> str:
        return self.demo.origin + path

    def refuse(self, path: str) -> str:
        """The URL of a page expected to answer with an error status."""
        url = self.url(path)
        self.refused.add(url)
        return url

    def assert_clean(self) -> None:
        """Every request went to the server itself, and nothing went wrong on the way.

        Only ``http://127.0.0.1:<port>/`` is allowed: no CDN, no font service, no other
        scheme. (``data:`` and ``blob:`` URLs never reach the ``request`` event, Chromium
        reports network fetches only; they are read in the page and leave nothing.)"""
        assert self.requests, "no request was recorded"
        elsewhere = [url for url in self.requests if not url.startswith(self.demo.origin + "/")]
        assert elsewhere == []
        assert self.problems == []


@pytest.fixture
def browse(demo: Demo, new_context: Callable[..., BrowserContext]) -> Browse:
    return Browse(demo, new_context)


# --------------------------------------------------------------------------- page helpers


def _count(text: str) -> int:
    """The number in a tile link such as "超时 12"."""
    found = re.search(r"\d+", text)
    assert found, text
    return int(found.group())


def _tile_counts(page: Page, metric: str) -> tuple[int, int]:
    tile = page.locator(f"#tile-{metric}")
    return _count(tile.locator("a.met").inner_text()), _count(tile.locator("a.missed").inner_text())


def _wait_drawn(page: Page, chart_id: str) -> None:
    """Wait until the chart's canvas has a size, its animation is over, and it holds
    painted pixels (not just the white background)."""
    page.wait_for_function(
        """(id) => {
            const el = document.getElementById(id);
            const canvas = el && el.querySelector("canvas");
            if (!canvas || canvas.width === 0 || canvas.height === 0) return false;
            const chart = echarts.getInstanceByDom(el);
            if (!chart || !chart.getZr().animation.isFinished()) return false;
            const context = canvas.getContext("2d");
            const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 0; i < pixels.length; i += 4 * 7) {
                if (pixels[i] < 200 || pixels[i + 1] < 200 || pixels[i + 2] < 200) painted++;
            }
            return painted > 100;
        }""",
        arg=chart_id,
    )


def _list_rows(page: Page) -> list[dict[str, Any]]:
    """The drill-down list's rows: ticket number, engineer, and the SLA status spans."""
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        "#list-table tbody tr",
        """rows => rows.map(row => ({
            number: row.querySelector("td a") ? row.querySelector("td a").textContent : null,
            engineer: row.children[5] ? row.children[5].textContent : null,
            statuses: Array.from(row.querySelectorAll("span.status")).map(s => ({
                cls: Array.from(s.classList).filter(c => c !== "status"),
                text: s.textContent,
            })),
        }))""",
    )
    return rows


def _ticket_numbers(page: Page) -> set[str]:
    numbers: list[str] = page.eval_on_selector_all(
        "a[href^='/dashboard/tickets/']", "links => links.map(a => a.textContent.trim())"
    )
    return set(numbers)


def _screenshot(page: Page, name: str) -> None:
    """A full-page screenshot in test-artifacts/, copied to docs/img/ for the README."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, DOCS_IMG / name)


# --------------------------------------------------------------------------- tests


def test_overview_shows_tiles_and_drawn_charts(browse: Browse) -> None:
    page = browse.login(QUALITY)
    session = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    for metric in METRICS:
        tile = page.locator(f"#tile-{metric}")
        expect(tile.locator("h2")).to_have_text(word("compliance", "zh", metric=word(metric, "zh")))
        expect(tile.locator(".big")).to_have_text(re.compile(r"^\d{1,3}\.\d%$"))
        met, missed = _tile_counts(page, metric)
        assert met + missed > 0, metric
    for chart_id in ("chart-daily", "chart-engineers", "chart-contracts"):
        _wait_drawn(page, chart_id)
    box = page.locator("#chart-daily canvas").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    expect(page.locator("#list .help")).to_have_text(word("list help", "zh"))
    _screenshot(page, "dashboard-overview.png")
    browse.assert_clean()


def test_a_missed_tile_lists_its_tickets(browse: Browse) -> None:
    page = browse.login(QUALITY)
    listed_any = False
    for metric in METRICS:
        _, missed = _tile_counts(page, metric)
        if missed == 0:
            continue
        page.click(f"#tile-{metric} a.missed")
        what = page.locator("#list .drill-what")
        expect(what).to_contain_text(f"{word(metric, 'zh')} {word('missed', 'zh')}")
        rows = _list_rows(page)
        # One target per metric per ticket: the tile counts exactly the tickets listed.
        assert len(rows) == missed, metric
        for row in rows:
            assert row["statuses"], row
            for status in row["statuses"]:
                assert set(status["cls"]) & MISSED_STATUSES, row
                assert status["text"].startswith(word(metric, "zh")), row
        listed_any = True
    assert listed_any, "the demo has no missed target in the quarter"
    expect(page).to_have_url(browse.url(OVERVIEW))  # swapped in place, not navigated
    browse.assert_clean()


def test_clicking_a_chart_bar_lists_its_tickets(browse: Browse) -> None:
    page = browse.login(QUALITY)
    _wait_drawn(page, "chart-engineers")
    page.locator("#chart-engineers").scroll_into_view_if_needed()
    bar: dict[str, Any] = page.evaluate(
        """([id, missedName]) => {
            const el = document.getElementById(id);
            const chart = echarts.getInstanceByDom(el);
            const option = chart.getOption();
            const index = option.series.findIndex(s => s.name === missedName);
            const values = option.series[index].data.map(v => typeof v === "object" ? v.value : v);
            const item = values.findIndex(v => v > 0);
            const layout = chart.getModel().getSeriesByIndex(index).getData().getItemLayout(item);
            const rect = el.querySelector("canvas").getBoundingClientRect();
            return {
                name: option.xAxis[0].data[item],
                missed: values[item],
                x: rect.left + layout.x + layout.width / 2,
                y: rect.top + layout.y + layout.height / 2,
            };
        }""",
        ["chart-engineers", word("missed", "zh")],
    )
    assert bar["missed"] > 0, bar
    page.mouse.click(bar["x"], bar["y"])
    what = page.locator("#list .drill-what")
    expect(what).to_contain_text(f"{word('missed', 'zh')} {word('engineer', 'zh')}: {bar['name']}")
    rows = _list_rows(page)
    # The bar counts missed targets (every metric); each listed ticket has at least one.
    assert 1 <= len(rows) <= bar["missed"]
    assert sum(len(row["statuses"]) for row in rows) == bar["missed"]
    for row in rows:
        assert row["engineer"] == bar["name"], row
        assert all(set(s["cls"]) & MISSED_STATUSES for s in row["statuses"]), row
    browse.assert_clean()


def test_a_ticket_page_shows_its_timeline(browse: Browse, demo: Demo) -> None:
    page = browse.login(QUALITY)
    link = page.locator("#breaches tbody a").first
    number = link.inner_text()
    link.click()
    expect(page).to_have_url(browse.url(f"/dashboard/tickets/{number}"))
    expect(page.locator("h1")).to_contain_text(number)
    history = demo.cli.json("ticket", "history", number)
    timeline = page.locator("#timeline tbody tr")
    expect(timeline).to_have_count(len(history))
    first = timeline.first.locator("td")
    expect(first.nth(0)).to_have_text("1")
    expect(first.nth(1)).to_have_text(EVENT_WORDS(history[0]["type"], "zh"))  # 已报修
    expect(first.nth(4)).to_have_text(history[0]["actor"])
    expect(page.locator("#sla tbody tr").first).to_be_visible()
    expect(page.locator("#sla span.status.breached, #sla span.status.overdue")).not_to_have_count(0)
    expect(page.locator("#integrity")).to_have_class("ok")
    _screenshot(page, "dashboard-ticket.png")
    browse.assert_clean()


def test_the_language_switch_turns_labels_to_english_and_back(browse: Browse) -> None:
    page = browse.login(QUALITY)
    heading = page.locator("#tile-respond h2")
    expect(heading).to_have_text(word("compliance", "zh", metric=word("respond", "zh")))
    page.click("#lang-switch")
    expect(page).to_have_url(browse.url(OVERVIEW))  # back on the same page and period
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(heading).to_have_text(word("compliance", "en", metric=word("respond", "en")))
    expect(page.locator("#lang-switch")).to_have_text(word("language", "en"))
    assert any(c["name"] == LANG_COOKIE and c["value"] == "en" for c in page.context.cookies())
    page.click("#lang-switch")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(heading).to_have_text(word("compliance", "zh", metric=word("respond", "zh")))
    browse.assert_clean()


def test_an_engineer_sees_only_their_own_tickets(browse: Browse, demo: Demo) -> None:
    own = demo.tickets_of(ENGINEER)
    page = browse.login(ENGINEER)
    expect(page.locator("header nav a[href='/dashboard/quality']")).to_have_count(0)
    assert _ticket_numbers(page) <= own
    listed = set()
    for metric in METRICS:
        page.click(f"#tile-{metric} a.met")
        expect(page.locator("#list .drill-what")).to_contain_text(word(metric, "zh"))
        rows = _list_rows(page)
        assert {row["engineer"] for row in rows} <= {ENGINEER}
        listed |= {row["number"] for row in rows}
    assert listed and listed <= own
    response = page.goto(browse.url(f"/dashboard/tickets/{min(own)}"))
    assert response is not None and response.status == 200
    expect(page.locator("#timeline tbody tr").first).to_be_visible()
    other = min(demo.tickets_of(OTHER_ENGINEER))
    response = page.goto(browse.refuse(f"/dashboard/tickets/{other}"))
    assert response is not None and response.status == 404
    expect(page.locator(".message .error")).to_have_text(word("not found", "zh"))
    expect(page.locator("body")).not_to_contain_text(other)
    response = page.goto(browse.refuse("/dashboard/quality"))
    assert response is not None and response.status == 403
    expect(page.locator(".message .error")).to_have_text(word("forbidden", "zh"))
    browse.assert_clean()


def test_logout_ends_the_session(browse: Browse) -> None:
    page = browse.login(QUALITY)
    page.click("form[action='/logout'] button[type=submit]")
    expect(page).to_have_url(browse.url("/login"))
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}
    page.goto(browse.url(OVERVIEW))
    expect(page).to_have_url(re.compile(r"/login\?next=/dashboard%3Fperiod%3Dquarter$"))
    expect(page.locator("#tile-respond")).to_have_count(0)
    browse.assert_clean()


ONE_DAY = "/dashboard?period=custom&from=2026-10-05&to=2026-10-05"
"""A one-day overview of the demo: one volume bar, and each metric's compliance as a single
point in the middle of it."""


def test_a_one_day_view_draws_the_compliance_point_over_the_volume_bar(browse: Browse) -> None:
    page = browse.login(QUALITY, ONE_DAY)
    _wait_drawn(page, "chart-daily")
    # The topmost line series with a point that day (a later series at the same value would
    # cover an earlier one), where ECharts puts it, and the canvas pixel there.
    seen: dict[str, Any] = page.evaluate(
        """() => {
            const el = document.getElementById("chart-daily");
            const chart = echarts.getInstanceByDom(el);
            const option = chart.getOption();
            const series = option.series;
            const bar = series.findIndex(s => s.type === "bar");
            const day = option.xAxis[0].data[0];
            const value = s => (s.data[0] && s.data[0].length ? s.data[0][1] : s.data[0]);
            let line = -1;
            series.forEach((s, i) => { if (s.type === "line" && value(s) != null) line = i; });
            const point = chart.convertToPixel({seriesIndex: line}, [day, value(series[line])]);
            const barTop = chart.convertToPixel({seriesIndex: bar}, [day, series[bar].data[0]]);
            const canvas = el.querySelector("canvas");
            const ratio = canvas.width / el.clientWidth;
            const pixel = canvas.getContext("2d").getImageData(
                Math.round(point[0] * ratio), Math.round(point[1] * ratio), 1, 1).data;
            return {
                line: series[line].name, point, barTop, rgb: Array.from(pixel).slice(0, 3),
            };
        }"""
    )
    colours = {word("compliance", "zh", metric=word(m, "zh")): METRIC_COLOURS[m] for m in METRICS}
    # the point lies on the bar (below its top, in canvas pixels)...
    assert (
        seen["point"][0] == pytest.approx(seen["barTop"][0])
        and seen["point"][1] > seen["barTop"][1]
    )
    # ... and the pixel there is the line's colour, not the bar's grey
    expected = [int(colours[seen["line"]][i : i + 2], 16) for i in (1, 3, 5)]
    assert all(abs(a - b) <= 16 for a, b in zip(seen["rgb"], expected, strict=True)), seen
    browse.assert_clean()
