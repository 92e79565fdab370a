"""The browser of the browser tests: Debian's Chromium, driven by pytest-playwright.

Chromium is ``/usr/bin/chromium`` (Debian's ``chromium`` package; never ``playwright
install``). Without it the browser tests are skipped, unless ``LEDGER_REQUIRE_BROWSER=1``
(CI), in which case they fail. The tests' shared moves (login, screenshot, signature):
tests/e2e/browser.py. Fixtures here, not in a plugin, so that they override
pytest-playwright's own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

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
