"""Smoke test of the benchmark harness (bench/, issue 6): the seeded generator, and a tiny
run on SQLite that prints one JSON document holding every metric, each a positive number.
Not a timing test: no figure is compared with a target here."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from bench.generate import SIZES, Size, history, write_history
from ledger.projections import all_projections
from tests.nats_server import find_nats_server

REPO = Path(__file__).parents[2]

METRICS = (
    "import.import_events_per_s",
    "import.with_projections_events_per_s",
    "raw_insert.raw_insert_rows_per_s",
    "import_vs_raw_insert",
    "import_with_projections_vs_raw_insert",
    "command_latency_ms.p50",
    "command_latency_ms.p99",
    "history_ms.p50",
    "history_ms.p99",
    "show_ms.p50",
    "show_ms.p99",
    "rebuild.all.rebuild_events_per_s",
    "rebuild.all.scan_decode_events_per_s",
    "rebuild.all.vs_scan_decode",
    "rebuild.all.peak_rss_mb",
    "rebuild.peak_rss_mb",
    "verify.verify_events_per_s",
    "verify.raw_sha256_events_per_s",
    "verify.vs_raw_sha256",
    "feed.feed_events_per_s",
    "cold_start.python_pass_ms",
    "cold_start.help_ms",
    "cold_start.ticket_show_json_ms",
    "api.server_cpu_ms_per_request",
    "api.in_process_cpu_ms",
    "api.server_cpu_vs_in_process",
    "rebuild.min_vs_scan_decode",
    "report_sla.us_per_ticket",
    "http_writes.in_process_commands_per_s",
    "http_writes.clients_1.commands_per_s",
    "http_writes.clients_1.latency_ms.p99",
    "http_writes.clients_8.commands_per_s",
    "http_writes.clients_8.vs_in_process",
    "relay_nats.relay_events_per_s",
    "relay_nats.raw_events_per_s",
    "relay_nats.relay_vs_raw",
    "relay_nats.lag_ms.p99",
    "notify.latency_ms.p50",
    "notify.latency_ms.p99",
    "notify.raw_post_ms.p50",
    "workbench_pages.floor_ms.p50",
    "workbench_pages.pages.queue.p99",
    "workbench_pages.pages.search.p99",
    "workbench_pages.pages.ticket.p99",
    "workbench_pages.pages.phone_list.p99",
    "workbench_pages.pages.quality_card.p99",
    "workbench_pages.pages.quality_lists.p99",
    "workbench_pages.slowest_p99_ms",
)
PER_PROJECTION = (
    "rebuild_events_per_s",
    "scan_events_per_s",
    "scan_decode_events_per_s",
    "vs_scan_decode",
    "peak_rss_mb",
)
TARGETS = {
    "import_vs_raw_insert",
    "command_p99_ms",
    "rebuild_vs_scan_decode",
    "history_ms",
    "verify_vs_raw_sha256",
    "rebuild_peak_rss_mb",
    "cli_help_ms",
    "cli_ticket_show_ms",
    "api_cpu_vs_in_process",
    "rebuild_each_vs_scan_decode",
    "report_sla_us_per_ticket",
    "workbench_page_p99_ms",
}


def dig(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


def generated(size: str, seed: int) -> bytes:
    out = io.BytesIO()
    write_history(out, SIZES[size], seed)
    return out.getvalue()


def test_generator_is_seeded() -> None:
    first = generated("tiny", 7)
    assert first == generated("tiny", 7)
    assert first != generated("tiny", 8)


def test_generator_mixes_the_whole_service_and_refers_only_backwards() -> None:
    lines = [orjson.loads(line) for line in generated("small", 2026).splitlines()]
    made: set[str] = set()
    for line in lines:
        for key in ("ticket", "visit", "action", "complaint"):
            if key in line:
                assert line[key] in made, line
        if "ref" in line:
            made.add(line["ref"])
    commands = {line["command"] for line in lines}
    assert {
        "report",
        "escalate",
        "suspend",
        "replace",
        "reopen",
        "cancel",
        "visit_audit",
        "action_verify",
        "complaint_close",
    } <= commands
    contracts = {line["contract"] for line in lines if line["command"] == "report"}
    assert contracts == {f"seed-00{i}" for i in range(5)}
    months = {line["at"][:7] for line in lines if line["command"] == "report"}
    assert len(months) >= SIZES["small"].months


def test_tiny_run_prints_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--size",
            "tiny",
            "--db",
            "sqlite",
            "--seed",
            "11",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,  # a loaded CI machine; the tiny run itself takes ~1 min
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == document
    assert not (tmp_path / "work").exists()
    assert document["size"]["name"] == "tiny"
    assert document["seed"] == 11
    assert document["machine"]["cores"] >= 1
    assert document["machine"]["sqlite"]

    db = document["databases"]["sqlite"]
    relayed = find_nats_server() is not None  # else the relay's figures say why they are missing
    for path in METRICS:
        if path.startswith("relay_nats.") and not relayed:
            assert "nats-server" in db["relay_nats"]["skipped"]
            continue
        value = dig(db, path)
        assert isinstance(value, int | float) and value > 0, (path, value)
    projections = db["rebuild"]["projections"]
    assert set(projections) == {p.name for p in all_projections()}
    for name, figures in projections.items():
        for key in PER_PROJECTION:
            assert figures[key] > 0, (name, key, figures[key])

    imported = db["import"]
    assert imported["rejected"] == 0
    assert imported["applied"] == imported["lines"] == document["history"]["lines"]
    assert imported["events"] > imported["lines"]  # a report also issues its number
    assert db["verify"]["ok"] and db["verify"]["same_head_hash"]
    assert db["feed"]["events"] == db["verify"]["events"]  # the whole log, once
    if relayed:
        assert db["relay_nats"]["events"] == db["feed"]["events"]  # the relay took it all

    targets = document["targets"]
    assert targets["database"] == "sqlite"
    assert set(db["targets"]) == TARGETS
    for name in TARGETS:
        assert targets[name] == db["targets"][name]
        assert isinstance(targets[name]["met"], bool)
        assert targets[name]["value"] == dig(db, targets[name]["from"])


def test_blocks_before_a_warranty_get_work_contact_sheets_before_dispatch() -> None:
    """Moved back two years, the demo's month falls before some seed contracts' warranties
    (examples/contracts): those tickets are out of contract, and each gets its work contact
    sheet after its response, before any dispatch (else the import refuses it)."""
    starts = {
        "seed-000": "2026-03-15",
        "seed-001": "2026-01-10",
        "seed-002": "2024-06-01",
        "seed-003": "2025-09-01",
        "seed-004": "2025-05-20",
    }
    lines = list(history(Size("two-years", tickets=96, months=24)))
    by_ticket: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        ref = str(line.get("ref") or line.get("ticket") or "")
        by_ticket.setdefault(ref, []).append(line)
    sheets = {str(line["ticket"]) for line in lines if line["command"] == "contact_sheet"}
    for ref, ticket in by_ticket.items():
        if not ticket or ticket[0]["command"] != "report":
            continue
        contract, day = ticket[0]["contract"], str(ticket[0]["at"])[:10]
        outside = day < starts[str(contract)]
        assert (ref in sheets) is outside, (ref, contract, day)
        commands = [line["command"] for line in ticket]
        if outside and "dispatch" in commands:
            assert commands.index("respond") < commands.index("contact_sheet")
            assert commands.index("contact_sheet") < commands.index("dispatch")
    assert sheets


def test_a_childs_peak_memory_is_its_own_not_its_parents() -> None:
    """The bench's jobs run in child processes that report their peak memory: the figure is
    the child's own high-water mark (``ru_maxrss`` would report the parent's size at the
    fork, 1.2 GB on the PostgreSQL medium run)."""
    grown = bytearray(400 * 2**20)
    grown[::4096] = b"\x01" * len(range(0, len(grown), 4096))  # resident, not only reserved
    code = "from bench.child import _rss_mb; print(_rss_mb())"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert 5 < float(out.stdout) < 200  # the interpreter and the bench's imports
    del grown
