"""Notification latency (issue 17): an event recorded → the signed webhook received by a
local receiver, with the notifier running as ``ledger notify run`` does (a thread here:
LISTEN/NOTIFY on PostgreSQL, its default 0.5 s poll on SQLite). The raw baseline in the
same run is one signed POST of the same size to the same receiver."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from typing import Any

from ledger.bootstrap import Ledger
from ledger.commands.notify_rules import NotificationRules, parse_rules
from ledger.commands.registry import parse_command
from ledger.domain.values import Role
from ledger.notify.notifier import Notifier
from ledger.timeutil import zone
from tests.receivers import Receiver, wait_for

SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
SECRET_ENV = "LEDGER_BENCH_WEBHOOK_SECRET"
TZ = zone("Asia/Shanghai")
REPORT = {
    "command": "report",
    "actor": "bench",
    "role": "dispatcher",
    "contract": "seed-003",
    "customer": "某县档案馆",
    "contact_name": "张三",
    "contact_phone": "13800138001",
    "site": "档案馆机房",
    "device": "扫描仪",
    "severity": "general",
    "description": "bench: notification latency",
}


def _ms_samples(samples: list[float]) -> dict[str, float]:
    from bench.run import distribution

    return distribution(samples)


def measure_notify(url: str, samples: int = 40) -> dict[str, Any]:
    os.environ[SECRET_ENV] = SECRET
    receiver = Receiver("webhook", SECRET).start()
    try:
        with Ledger.open(url, tz=TZ) as ledger:
            rules = parse_rules(
                {
                    "channels": {
                        "bench": {"kind": "webhook", "url": receiver.url, "secret_env": SECRET_ENV}
                    },
                    "outbound": {"allow": ["127.0.0.1"]},
                    "rules": [
                        {
                            "name": "bench",
                            "events": ["ledger.ticket.reported.*"],
                            "channels": ["bench"],
                        }
                    ],
                }
            )
            NotificationRules(ledger.app, ledger.clock).load(rules, actor="bench", role=Role.ADMIN)
            notifier = Notifier(
                ledger.engine,
                ledger.app,
                ledger.app.mapper,  # type: ignore[arg-type]
                ledger.location.events_table,
                TZ,
            )
            notifier.decide()  # catch up with the history first (not timed)
            stop = threading.Event()
            thread = threading.Thread(target=notifier.run, args=(stop,))
            thread.start()
            latencies: list[float] = []
            try:
                for i in range(samples + 1):
                    wanted = len(receiver.received) + 1
                    ledger.tickets.execute(parse_command(dict(REPORT), TZ), retries=3)
                    committed = time.time()
                    if not wait_for(lambda n=wanted: len(receiver.received) >= n, 30, 0.002):
                        raise RuntimeError("a notification did not arrive in 30 s")
                    if i:  # the first warms up
                        latencies.append(max(0.0, receiver.received[-1].at - committed) * 1000)
            finally:
                stop.set()
                thread.join(timeout=120)
        raw = _raw_posts(receiver, samples)
    finally:
        receiver.stop()
    result = _ms_samples(latencies)
    return {
        "latency_ms": result,
        "raw_post_ms": raw,
        "vs_raw_post_p50": round(raw["p50"] / result["p50"], 4) if result["p50"] else None,
        "wake": "LISTEN/NOTIFY" if url.startswith("postgresql") else "poll 0.5 s",
    }


def _raw_posts(receiver: Receiver, samples: int) -> dict[str, float]:
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    body = json.dumps({"type": "ledger.ticket.reported.v1", "data": REPORT}, ensure_ascii=False)
    took = []
    for i in range(samples):
        now = datetime.now(UTC)
        headers = {
            "webhook-id": f"raw-{i}",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(SECRET).sign(f"raw-{i}", now, body),
            "Content-Type": "application/json",
        }
        start = time.perf_counter()
        request = urllib.request.Request(receiver.url, body.encode(), headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        took.append((time.perf_counter() - start) * 1000)
    return _ms_samples(took)
