"""``ledger export``: one ticket's audit dossier (JSON, HTML, PDF), on both databases."""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.storage.chain import CHAIN_TABLE
from tests.e2e.test_verify import id_column, one, run, sql, take, unguard
from tests.e2e.test_verify import key as key
from tests.support import Desk, open_desk


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    """A ticket worked to its close, its arrival told 40 minutes late (back-dated), plus a
    return visit on it; and a second ticket so the chain interleaves."""
    desk = open_desk(db_url)
    number = desk.report().number
    other = desk.report(device="摄像机").number
    desk.later(2)
    desk.do("respond", ticket=number)
    desk.do("dispatch", ticket=number, engineer="王工")
    desk.later(60)
    arrived = desk.clock.now()
    desk.later(40)
    desk.do("arrive", ticket=number, at=arrived.isoformat(), actor="王工", role="engineer")
    desk.later(30)
    desk.do("resolve", ticket=number, summary="更换电源模块", mode="on-site")
    desk.do("sign", ticket=number, kind="customer", signer="张三")
    desk.do("respond", ticket=other)
    desk.do("close", ticket=number)
    yield desk
    desk.ledger.close()


def dossier(desk: Desk, *args: str, code: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        run(
            desk, "export", "--ticket", "T-2026-000001", "--format", "json", *args, code=code
        ).stdout
    )
    return data


def chain_hashes(desk: Desk) -> dict[int, str]:
    rows = sql(desk, f"SELECT position, event_hash FROM {CHAIN_TABLE}")
    return {r[0]: bytes(r[1]).hex() for r in rows}


def test_the_json_dossier_holds_timeline_verdicts_signature_and_hashes(
    desk: Desk, tmp_path: Path, key: Path
) -> None:
    digest = take(desk, tmp_path / "digest.json", "--key", str(key))
    data = dossier(desk, "--digest", str(digest))

    assert data["format"] == "ledger-dossier-v1"
    assert data["ticket"]["number"] == "T-2026-000001"
    assert data["ticket"]["status"] == "closed"
    assert data["ticket"]["signature"]["signer"] == "张三"
    timeline = data["timeline"]
    assert [e["version"] for e in timeline] == list(range(1, data["ticket"]["version"] + 1))
    assert [e["type"] for e in timeline][:2] == ["Reported", "Responded"]
    # Each event's hash is its stored chain link; positions increase along the log.
    hashes = chain_hashes(desk)
    assert all(hashes[e["position"]] == e["event_hash"] for e in timeline)
    assert [e["position"] for e in timeline] == sorted(e["position"] for e in timeline)
    assert all(e["link_ok"] for e in timeline)
    # The arrival told 40 min late is flagged; nothing else is.
    assert [(e["type"], e["lag_minutes"]) for e in timeline if e["backdated"]] == [
        ("Arrived", 40.0)
    ]
    assert {s["metric"] for s in data["sla"]} >= {"respond", "arrive", "resolve"}
    integrity = data["integrity"]
    assert integrity["ok"] is True
    assert integrity["digests"] == [
        {
            "file": str(digest),
            "position": len(hashes),
            "head_hash": hashes[len(hashes)],
            "created_at": integrity["digests"][0]["created_at"],
            "signed": True,
            "ok": True,
            "message": "the log extends this digest",
        }
    ]
    assert "whole chain not re-walked" in integrity["summary"]
    whole = dossier(desk, "--verify-log")["integrity"]
    assert whole["whole_log"] == {"ok": True, "events": len(hashes), "problems": []}


def test_a_tampered_event_of_the_ticket_fails_the_dossier(desk: Desk) -> None:
    timeline = dossier(desk)["timeline"]
    arrival = next(e for e in timeline if e["type"] == "Arrived")
    unguard(desk)
    column, table = id_column(desk), desk.ledger.location.events_table
    notification = one(
        desk,
        f"SELECT notification_id FROM {CHAIN_TABLE} WHERE position = :p",
        p=arrival["position"],
    )[0]
    state = bytes(one(desk, f"SELECT state FROM {table} WHERE {column} = :n", n=notification)[0])
    forged = state.replace("王工".encode(), "赵工".encode())  # who arrived, rewritten
    assert forged != state
    sql(desk, f"UPDATE {table} SET state = :s WHERE {column} = :n", s=forged, n=notification)

    data = dossier(desk, code=1)
    integrity = data["integrity"]
    assert integrity["ok"] is False
    assert integrity["failing_versions"] == [arrival["version"]]
    failing = next(e for e in data["timeline"] if e["version"] == arrival["version"])
    assert failing["link_ok"] is False
    assert f"position {arrival['position']}" in failing["link_problem"]
    assert f"failing: version {arrival['version']}" in integrity["summary"]
    assert failing["actor"] == "赵工"  # the dossier shows what is stored, and that it fails


def test_a_digest_the_log_no_longer_extends_is_reported(desk: Desk, tmp_path: Path) -> None:
    digest = take(desk, tmp_path / "digest.json")
    document = json.loads(digest.read_text())
    document["head_hash"] = "00" * 32
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))
    data = dossier(desk, "--digest", str(forged), code=1)
    [checked] = data["integrity"]["digests"]
    assert checked["ok"] is False
    assert "history rewritten" in checked["message"]


def test_html_and_pdf_dossiers(desk: Desk, tmp_path: Path) -> None:
    html_file = tmp_path / "T-2026-000001.html"
    run(desk, "export", "--ticket", "T-2026-000001", "--out", str(html_file))
    html = html_file.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in html
    assert "审计档案 · T-2026-000001" in html
    assert html.count("<tr class=") == 7  # one timeline row per event
    assert "补录滞后 40.0 min" in html  # the back-dated arrival
    assert all(e["event_hash"] in html for e in dossier(desk)["timeline"])
    english = run(desk, "export", "--ticket", "T-2026-000001", "--lang", "en").stdout
    assert "Audit dossier · T-2026-000001" in english

    pdf_file = tmp_path / "T-2026-000001.pdf"
    run(desk, "export", "--ticket", "T-2026-000001", "--format", "pdf", "--out", str(pdf_file))
    pdf = pdf_file.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    text = b"".join(_streams(pdf))
    timeline = dossier(desk)["timeline"]
    for e in timeline:  # each hash prints in Courier, on two lines of 32 digits
        assert e["event_hash"][:32].encode() in text and e["event_hash"][32:].encode() in text


def _streams(pdf: bytes) -> Iterator[bytes]:
    """The PDF's content streams, decoded (reportlab writes ASCII85 over Flate)."""
    for match in re.finditer(rb"stream\r?\n(.*?)~>\s*endstream", pdf, re.S):
        yield zlib.decompress(base64.a85decode(match.group(1)))


def test_bad_export_requests_are_refused_without_output(desk: Desk, tmp_path: Path) -> None:
    pdf = run(desk, "export", "--ticket", "T-2026-000001", "--format", "pdf", code=2)
    assert "a PDF needs --out FILE" in pdf.output
    existing = tmp_path / "there.html"
    existing.write_text("keep me")
    again = run(desk, "export", "--ticket", "T-2026-000001", "--out", str(existing), code=2)
    assert "already exists" in again.output
    assert existing.read_text() == "keep me"
    unknown = run(desk, "export", "--ticket", "T-2026-999999", code=2)
    assert "T-2026-999999" in unknown.output
    missing = run(
        desk, "export", "--ticket", "T-2026-000001", "--digest", str(tmp_path / "no.json"), code=2
    )
    assert "no.json" in missing.output
