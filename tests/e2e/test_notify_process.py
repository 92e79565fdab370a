"""The notifier as its own process (``ledger notify run``) and inside ``ledger serve
--notify``: killed with SIGKILL in the middle of a delivery, nothing is lost and a message
is only ever repeated with its own id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.notify import log
from tests.e2e.test_docs_examples import free_port, wait_for_http
from tests.integration.test_notify import (
    DING_SECRET,
    FEISHU_SECRET,
    SEED_003,
    WEBHOOK_SECRET,
    load_rules,
    notifier,
    rules_for,
    sweep_at,
)
from tests.receivers import Receiver, wait_for
from tests.support import open_desk

REPO = Path(__file__).parents[2]


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    found = {
        "wecom": Receiver("wecom").start(),
        "ding": Receiver("dingtalk", DING_SECRET).start(),
        "feishu": Receiver("feishu", FEISHU_SECRET).start(),
        "hook": Receiver("webhook", WEBHOOK_SECRET).start(),
    }
    yield found
    for r in found.values():
        r.stop()


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return env | {
        "LEDGER_DB": url,
        "PYTHONPATH": str(REPO),
        "TEST_DING_SECRET": DING_SECRET,
        "TEST_FEISHU_SECRET": FEISHU_SECRET,
        "TEST_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


def test_sigkill_mid_delivery_loses_nothing_and_repeats_only_the_same_id(
    sqlite_url: str, receivers: dict[str, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (
        ("TEST_DING_SECRET", DING_SECRET),
        ("TEST_FEISHU_SECRET", FEISHU_SECRET),
        ("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ):
        monkeypatch.setenv(name, value)
    desk = open_desk(sqlite_url)
    r = receivers
    load_rules(desk, rules_for(r))
    for _ in range(3):
        desk.report(**SEED_003)
    sweep_at(desk, 16)  # 6 escalations × 4 channels = 24 messages
    hook = r["hook"]
    hook.hold, hook.hold_next = 5.0, 1  # the first webhook delivery hangs: kill it then
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger", "notify", "run", "--lease", "1", "--poll", "0.1"],
        env=_env(sqlite_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: len(hook.received) >= 1, timeout=30)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    # a new notifier: the claimed message is sent again once its lease ends
    again = notifier(desk, lease=1.0)

    def settled() -> bool:
        again.run_once()
        return log.counts(desk.ledger.engine) == {log.PENDING: 0, log.DELIVERED: 24, log.DEAD: 0}

    assert wait_for(settled, timeout=20)
    rows = log.list_deliveries(desk.ledger.engine)
    for receiver, channel in ((hook, "erp"), (r["wecom"], "ops-wecom")):
        expected = {d.message_id for d in rows if d.channel == channel}
        assert len(expected) == 6
        if receiver is hook:
            ids = Counter(m.headers["webhook-id"] for m in hook.received)
            assert set(ids) == expected  # every message arrived, none unknown
            assert max(ids.values()) <= 2  # the one cut short was repeated, with its id
            assert all(m.verified for m in hook.received)
        else:
            assert len(receiver.received) >= 6
    desk.ledger.close()


def test_serve_notify_runs_the_notifier_in_the_background(
    sqlite_url: str, receivers: dict[str, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _env(sqlite_url).items():
        if name.startswith("TEST_"):
            monkeypatch.setenv(name, value)
    desk = open_desk(sqlite_url)
    load_rules(desk, rules_for(receivers))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--port", str(port), "--notify"],
        env=_env(sqlite_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/openapi.json", proc) == 200  # type: ignore[arg-type]
        desk.report(**SEED_003)
        sweep_at(desk, 7)  # seed 003: the first level at +6 min (09:06), the second at +11
        assert wait_for(lambda: len(receivers["hook"].good) == 1, timeout=20)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    desk.ledger.close()
