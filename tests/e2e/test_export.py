"""``ledger export``: one ticket's audit dossier (JSON, HTML, PDF), on both databases."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import reportlab
from PIL import Image

from ledger.reports import dossier_render, dossier_words
from ledger.storage.chain import CHAIN_TABLE
from tests.e2e.test_verify import NOW, id_column, one, run, sql, take, unguard
from tests.e2e.test_verify import key as key
from tests.support import SHANGHAI, Desk, open_desk


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


def test_the_html_dossier_reads_as_a_person_would(desk: Desk, tmp_path: Path) -> None:
    html_file = tmp_path / "T-2026-000001.html"
    run(desk, "export", "--ticket", "T-2026-000001", "--out", str(html_file))
    html = html_file.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in html
    assert "审计档案 · T-2026-000001" in html
    assert html.count("<tr class=") == 7  # one timeline row per event
    assert "补录滞后 40 分钟" in html  # the back-dated arrival
    # the same words and values as the PDF: no Python reprs, times to the minute
    for raw in ("None", "{&#39;", "+08:00", "T09:", ">closed<", ">met<", ">Arrived<"):
        assert raw not in html, raw
    for shown in (
        "<td>到达现场</td>",
        "<td>已关闭</td>",
        "联系人：张三<br>",
        "签字方式：客户本人签字",
    ):
        assert shown in html, shown
    assert "<tr><th>项目</th><th>内容</th></tr>" in html
    assert all(e["event_hash"] in html for e in dossier(desk)["timeline"])
    english = run(desk, "export", "--ticket", "T-2026-000001", "--lang", "en").stdout
    assert "Audit dossier · T-2026-000001" in english


def poppler(tool: str, *args: str) -> str:
    """The output of a poppler-utils tool (Debian's ``poppler-utils``: installed by .ci/run;
    without it these checks are skipped, except on CI)."""
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} not found: install Debian's poppler-utils", pytrace=False)
        pytest.skip(f"{tool} not found: install Debian's poppler-utils")
    done = subprocess.run([tool, *args], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout


def pdf_dossier(desk: Desk, tmp_path: Path, lang: str = "zh") -> Path:
    out = tmp_path / f"T-2026-000001.{lang}.pdf"
    args = ("--format", "pdf", "--lang", lang, "--out", str(out))
    run(desk, "export", "--ticket", "T-2026-000001", *args)
    assert out.read_bytes().startswith(b"%PDF-")
    return out


MINUTE = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b")


def test_the_pdf_dossier_embeds_its_chinese_font_and_reads_as_a_person_would(
    desk: Desk, tmp_path: Path
) -> None:
    pdf = pdf_dossier(desk, tmp_path)
    # Every font is embedded (a subset): the Chinese shows wherever the file is opened.
    fonts = poppler("pdffonts", str(pdf)).splitlines()[2:]
    assert fonts and any("WenQuanYi" in line for line in fonts), fonts
    assert all(line.split()[-5:-3] == ["yes", "yes"] for line in fonts), fonts  # emb, sub
    # Made at the export's time (the injected clock), in the user's zone.
    info = poppler("pdfinfo", "-isodates", str(pdf))
    created = re.search(r"^CreationDate:\s+(\S+)", info, re.M)
    assert created, info
    made = datetime.fromisoformat(created.group(1).replace("Z", "+00:00"))
    assert made == datetime.fromisoformat(NOW).replace(tzinfo=SHANGHAI)

    text = poppler("pdftotext", "-layout", str(pdf), "-")
    data = dossier(desk)
    # Values as a person reads them: no Python reprs, no None, no ISO seconds or offsets.
    for raw in ("None", "{'", "':", "True", "False", "+08:00", "T09:", "closed", "met"):
        assert raw not in text, raw
    # Statuses, metrics, severities, event names and fields in the document's language.
    for shown in ("已关闭", "紧急", "达标", "超时", "响应", "到场", "修复", "报修", "到达现场"):
        assert shown in text, shown
    assert "客户签字确认" in text and "处理结果：更换电源模块" in text and "方式：现场" in text
    assert "补录滞后 40 分钟" in text and "李娜 (调度)" in text
    assert "联系人: 张三" in text or "联系人：张三" in text  # the contact, key: value
    # The ticket table has a real header row.
    assert re.search(r"项目\s+内容", text), text
    assert "— | —" not in text and not re.search(r"—\s+—\s*$", text, re.M)
    # Each time to the minute, in Shanghai, whole on one line (never wrapped mid-value).
    for e in data["timeline"]:
        for field in ("occurred_at", "recorded_at"):
            local = datetime.fromisoformat(e[field]).astimezone(SHANGHAI)
            assert local.strftime("%Y-%m-%d %H:%M") in text, (field, e[field])
    assert len(MINUTE.findall(text)) >= 2 * len(data["timeline"])
    # Each hash prints on two lines of 32 digits.
    for e in data["timeline"]:
        assert e["event_hash"][:32] in text and e["event_hash"][32:] in text

    # The first page, drawn, is not blank: its top third holds dark pixels, and so does
    # the place of the title's four Chinese characters (16 pt, from the 10 mm margins).
    prefix = tmp_path / "page"
    poppler("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(prefix))
    [page] = tmp_path.glob("page*.png")
    image = Image.open(page).convert("L")
    width, height = image.size
    pt = 60 / 72  # pixels per point
    margin = round(10 * 72 / 25.4 * pt)
    title = (margin, margin, margin + round(4 * 16 * pt), margin + round(22 * pt))

    def dark(box: tuple[int, int, int, int]) -> int:
        return sum(image.crop(box).histogram()[:128])  # pixels darker than mid-grey

    assert dark((0, 0, width, height // 3)) > 500
    assert dark(title) > 100, dark(title)

    english = poppler("pdftotext", "-layout", str(pdf_dossier(desk, tmp_path, "en")), "-")
    assert "Audit dossier" in english and "closed" in english and "met" in english
    assert "None" not in english and "{'" not in english
    assert re.search(r"field\s+value", english) and "Customer signed" in english
    assert "李娜 (dispatcher)" in english and "signed by the customer · 张三" in english


def test_dossier_values_read_as_a_person_would_in_either_language() -> None:
    """What the PDF and HTML show for each kind of value (the words reused from the
    reports' and the dashboard's tables)."""
    zh, en = dossier_words.Shown("zh"), dossier_words.Shown("en")
    escalated = {
        "from_level": "engineer",
        "to_level": "department_manager",
        "reason": "未接听",
        "note": None,
        "contact": {"name": "张三", "phone": None},
        "due_at": "2026-10-08T17:00:00+08:00",
        "target": "8h",
    }
    assert zh.details(escalated) == [
        "原级别：工程师",
        "升至：部门经理",
        "原因：未接听",
        "联系人：张三",
        "应完成：2026-10-08 17:00",
        "时限：8小时",
    ]
    assert en.details({"mode": "on-site", "note": None}) == ["mode: on-site"]
    assert [zh.target(t) for t in ("30m", "1h30m", "1 day", "2 workdays", "same-day")] == [
        "30分钟",
        "1小时30分钟",
        "1天",
        "2个工作日",
        "当天",
    ]
    assert [zh.event(e) for e in ("Reported", "CustomerSigned", "InspectionNoticeIssued")] == [
        "报修",
        "客户签字确认",
        "发出检查单",
    ]
    assert en.event("CustomerSigned") == "Customer signed"
    assert [zh.status(x) for x in ("met", "breached", "overdue", "pending")] == [
        "达标",
        "超时",
        "逾期未完成",
        "进行中",
    ]
    assert (zh.word("role:quality"), en.word("role:quality")) == ("质量部", "quality")
    linked = [
        ("visits", "kind", "ticket_audit"),
        ("visits", "status", "conducted"),
        ("visits", "audit", "failed"),
        ("visits", "band", "very_satisfied"),
        ("actions", "stage", "result_recorded"),
        ("actions", "verified_effective", True),
        ("complaints", "status", "received"),
        ("complaints", "category", "non_quality"),
        ("complaints", "received_at", "2026-10-08T09:30:59+08:00"),
    ]
    assert [zh.row_value(*row) for row in linked] == [
        "服务单审核回访",
        "已回访",
        "审核未通过",
        "很满意",
        "已记录结果",
        "是",
        "已受理",
        "人为因素",
        "2026-10-08 09:30",
    ]
    assert [en.row_value(*row) for row in linked][:6] == [
        "ticket audit",
        "conducted",
        "failed",
        "very satisfied",
        "result recorded",
        "yes",
    ]
    assert zh.row_value("visits", "audit", None) == "" and en.value(40.0) == "40"


def test_a_pdf_without_its_font_is_refused_without_output(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-font.ttc"
    monkeypatch.setenv(dossier_render.FONT_ENV, str(missing))
    out = tmp_path / "dossier.pdf"
    args = ("--format", "pdf", "--out", str(out))
    result = run(desk, "export", "--ticket", "T-2026-000001", *args, code=1)
    assert "no-such-font.ttc" in result.stderr and "fonts-wqy-microhei" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()
    # a TrueType font without Chinese would draw blanks: refused too
    latin = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
    monkeypatch.setenv(dossier_render.FONT_ENV, str(latin))
    result = run(desk, "export", "--ticket", "T-2026-000001", *args, code=1)
    assert "Vera.ttf has no Chinese characters" in result.stderr and not out.exists()


def test_bad_export_requests_are_refused_without_output(desk: Desk, tmp_path: Path) -> None:
    # (a PDF without --out goes to stdout, refused only on a terminal: test_cli.py)
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
