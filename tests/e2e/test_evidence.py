"""Evidence files end to end: ``ledger ticket|visit|action attach`` on SQLite and PostgreSQL,
the API's upload and download (and who is refused), ``ledger verify`` catching a changed
byte, a deleted file and a swapped file on a local folder and on S3 (moto in server mode),
the feed carrying the metadata only, and the dossier drawing the signature."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from starlette.exceptions import StarletteDeprecationWarning

from ledger.bootstrap import Ledger
from ledger.cli import cli as ledger_cli
from ledger.commands.evidence import EvidenceService
from ledger.commands.users import Users
from ledger.domain.values import Role
from ledger.storage.evidence import EvidenceSettings, open_setting
from ledger.web import create_app
from tests.e2e.test_cli import Cli, make_cli
from tests.e2e.test_export import poppler
from tests.e2e.test_quality_cli import ENGINEER, QUALITY, closed_ticket, refused
from tests.evidence_stores import SAMPLES, StoreCase, png, s3_endpoint, store_case
from tests.support import SHANGHAI, USER_ADMIN, Desk, open_desk

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = ["s3_endpoint", "store_case"]  # fixtures

PHOTO = png(red=30, size=24)
FORM = SAMPLES["application/pdf"]


def write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


# --------------------------------------------------------------------------- the CLI


def test_attach_through_the_cli(db_url: str, tmp_path: Path) -> None:
    cli: Cli = make_cli(db_url)
    cli.env["LEDGER_EVIDENCE"] = str(tmp_path / "evidence")
    ticket = closed_ticket(cli)  # dispatched to 王工, signed, closed
    photo = write(tmp_path, "现场照片.png", PHOTO)
    shown = cli.json("ticket", "attach", ticket, photo, "--kind", "photo", **ENGINEER)
    digest = hashlib.sha256(PHOTO).hexdigest()
    assert shown["ticket"] == ticket
    assert {k: shown["attachment"][k] for k in ("sha256", "size", "media_type", "file_name")} == {
        "sha256": digest,
        "size": len(PHOTO),
        "media_type": "image/png",
        "file_name": "现场照片.png",
    }
    assert shown["attachment"]["attached_by"] == "王工" and shown["attachment"]["version"] == 7
    form = write(tmp_path, "scan-0001", FORM)  # no extension: the bytes say PDF
    said = cli.run(
        "ticket", "attach", ticket, form, "--kind", "signed-form", "--name", "服务单.pdf"
    )
    assert said.stdout == (
        f"{ticket} 已附证据文件 服务单.pdf (签字服务单, application/pdf, {len(FORM)} 字节, "
        f"sha256 {hashlib.sha256(FORM).hexdigest()}) (版本 8)\n"
    )
    stored = tmp_path / "evidence" / "sha256" / digest[:2] / digest
    assert stored.read_bytes() == PHOTO

    # Refused, nothing recorded: the role, the bytes, the size, the same file again,
    # another engineer, no such ticket.
    assert "attach needs role" in refused(
        cli, "ticket", "attach", ticket, photo, "--kind", "photo", LEDGER_ROLE="auditor"
    )
    fake = write(tmp_path, "photo.jpg", b"MZ\x90\x00 not a picture")
    assert "photo.jpg is of no allowed type" in refused(
        cli, "ticket", "attach", ticket, fake, "--kind", "photo"
    )
    big = write(tmp_path, "big.txt", b"x" * 64)
    assert "big.txt is 64 bytes: over the evidence limit of 50 bytes" in refused(
        cli, "ticket", "attach", ticket, big, "--kind", "other", LEDGER_EVIDENCE_MAX_BYTES="50"
    )
    assert f"ticket {ticket} already has this file (现场照片.png" in refused(
        cli, "ticket", "attach", ticket, photo, "--kind", "photo"
    )
    assert "is dispatched to 王工: engineer 赵工 may not attach a file" in refused(
        cli, "ticket", "attach", ticket, big, "--kind", "other", LEDGER_ACTOR="赵工",
        LEDGER_ROLE="engineer",
    )  # fmt: skip
    assert "a customer attaches only" in refused(
        cli, "ticket", "attach", ticket, big, "--kind", "photo", LEDGER_ROLE="customer"
    )
    assert "no ticket T-2026-000099" in refused(
        cli, "ticket", "attach", "T-2026-000099", photo, "--kind", "photo"
    )

    # A return visit's signed card, a corrective action's report.
    cli.run("visit", "schedule", "--ticket", ticket, "--visitor", "周质检", **QUALITY)
    card = write(tmp_path, "回访卡.png", png(red=99))
    visit = cli.json("visit", "attach", "V-2026-000001", card, "--kind", "signed-form", **QUALITY)
    assert visit["visit"] == "V-2026-000001" and visit["attachment"]["kind"] == "signed-form"
    raised = cli.json(
        "action", "raise", "--content", "签字单不清晰", "--source", "internal_audit",
        "--department", "质量部", **QUALITY,
    )  # fmt: skip
    report = write(tmp_path, "report.txt", "整改报告：已培训\n".encode())
    action = cli.json("action", "attach", raised["number"], report, "--kind", "report", **QUALITY)
    assert action["attachment"]["media_type"] == "text/plain; charset=utf-8"
    assert [e["file_name"] for e in cli.json("visit", "show", "V-2026-000001")["evidence"]] == [
        "回访卡.png"
    ]
    assert [e["kind"] for e in cli.json("ticket", "show", ticket)["evidence"]] == [
        "photo",
        "signed-form",
    ]

    # An import line cannot carry a file.
    line = {"command": "attach", "ticket": ticket, "kind": "photo", "sha256": "a" * 64}
    lines = tmp_path / "attach.jsonl"
    lines.write_text(json.dumps(line) + "\n")
    imported = cli.run("import", str(lines), ok=False)
    assert imported.returncode == 2
    assert "an import line cannot carry" in imported.stdout + imported.stderr

    # The feed carries what the log records: the hash, never the bytes.
    feed = [
        json.loads(x)
        for x in cli.run("feed", "--type", "*.evidence_attached.*").stdout.split("\n")
        if x
    ]
    assert [e["type"] for e in feed] == [
        "ledger.ticket.evidence_attached.v1",
        "ledger.ticket.evidence_attached.v1",
        "ledger.visit.evidence_attached.v1",
        "ledger.corrective_action.evidence_attached.v1",
    ]
    assert feed[0]["data"]["sha256"] == digest and "content" not in json.dumps(feed[0]["data"])
    assert cli.run("verify").stdout.count("ok      evidence") == 1


def test_the_default_store_and_postgresql_needing_one(db_url: str, tmp_path: Path) -> None:
    cli = make_cli(db_url)
    number = cli.json("ticket", "report", "--contract", "seed-002", "--contact-name", "张三",
                      "--contact-phone", "13800138001", "--site", "s", "--device", "d",
                      "--description", "x", "--at", "2026-10-08T09:00")["number"]  # fmt: skip
    photo = write(tmp_path, "p.png", PHOTO)
    if db_url.startswith("sqlite"):
        cli.run("ticket", "attach", number, photo, "--kind", "photo")
        database = Path(db_url.removeprefix("sqlite:///"))
        assert list((database.parent / "ledger.db.evidence").rglob("*.*")) == []  # no temp
        assert (
            len([p for p in (database.parent / "ledger.db.evidence").rglob("*") if p.is_file()])
            == 1
        )
    else:
        message = refused(cli, "ticket", "attach", number, photo, "--kind", "photo")
        assert "no evidence store configured" in message and "LEDGER_EVIDENCE" in message
        cli.run("--evidence", str(tmp_path / "files"), "ticket", "attach", number, photo,
                "--kind", "photo")  # fmt: skip
        assert len(list((tmp_path / "files").rglob("*.png"))) == 0  # stored by hash, no name
        assert len([p for p in (tmp_path / "files").rglob("*") if p.is_file()]) == 1


# --------------------------------------------------------------------------- verify


def test_verify_catches_a_changed_byte_a_deleted_file_and_a_swapped_file(
    store_case: StoreCase, sqlite_url: str, tmp_path: Path
) -> None:
    desk = open_desk(sqlite_url)
    store = store_case.open()
    number = desk.report().number
    service = EvidenceService(store, desk.ledger.tickets, desk.ledger.quality)
    files = {"form.pdf": FORM, "签字.png": png(red=1), "photo.png": png(red=2)}
    for name, data in files.items():
        desk.later(1)
        service.attach("ticket", number, data, file_name=name, evidence_kind="photo",
                       actor="李娜", role=Role.DISPATCHER)  # fmt: skip
    desk.ledger.close()
    env = {"LEDGER_EVIDENCE": store_case.setting}

    def verify() -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(ledger_cli, ["--db", sqlite_url, "verify", "--json"], env=env)
        return result.exit_code, json.loads(result.stdout)

    code, verdict = verify()
    assert code == 0 and verdict["checks"]["evidence"] == {"ok": True, "problems": 0}

    sha = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    changed = bytearray(FORM)
    changed[10] ^= 0x01
    store_case.overwrite(sha["form.pdf"], bytes(changed))  # one byte
    store_case.delete(sha["签字.png"])
    store_case.overwrite(sha["photo.png"], png(red=3))  # another valid picture in its place
    code, verdict = verify()
    assert code == 1 and verdict["checks"]["evidence"] == {"ok": False, "problems": 3}
    messages = [p["message"] for p in verdict["problems"] if p["check"] == "evidence"]
    assert [p["subject"] for p in verdict["problems"]] == [f"ticket {number}"] * 3
    assert f"evidence file form.pdf (sha256 {sha['form.pdf']})" in messages[0]
    assert f"(ticket {number} version 2) has changed" in messages[0]
    assert hashlib.sha256(bytes(changed)).hexdigest() in messages[0]
    assert f"evidence file 签字.png (sha256 {sha['签字.png']})" in messages[1]
    assert "is missing from the evidence store" in messages[1]
    assert "photo.png" in messages[2] and "has changed" in messages[2]
    text = CliRunner().invoke(ledger_cli, ["--db", sqlite_url, "verify"], env=env)
    assert text.exit_code == 1 and "FAILED  evidence: evidence file form.pdf" in text.stdout


# --------------------------------------------------------------------------- the API


@dataclass
class Api:
    desk: Desk
    client: TestClient
    ticket: str
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def upload(
        self, user: str, path: str, data: bytes, name: str = "现场.png", kind: str = "photo"
    ) -> httpx.Response:
        return self.client.post(
            path,
            headers=self.headers(user),
            files={"file": (name, data, "application/octet-stream")},
            data={"kind": kind},
        )


@pytest.fixture
def api(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    desk = open_desk(sqlite_url)
    number = desk.report().number
    desk.later(3)
    desk.do("dispatch", ticket=number, engineer="王工")
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    app = create_app(lambda: Ledger.open(sqlite_url, clock=desk.clock, tz=SHANGHAI))
    app.state.evidence_settings = EvidenceSettings(str(tmp_path / "evidence"), max_bytes=4096)
    with TestClient(app) as client:
        result = Api(desk, client, number)
        for name, role in (
            ("王工", Role.ENGINEER),
            ("赵工", Role.ENGINEER),
            ("周质检", Role.QUALITY),
            ("审计", Role.AUDITOR),
        ):
            result.tokens[name] = users.add(name, role, **USER_ADMIN)[1]
        yield result
    desk.ledger.close()


def test_an_engineer_uploads_a_photo_and_an_auditor_downloads_it(api: Api) -> None:
    path = f"/tickets/{api.ticket}/attachments"
    answer = api.upload("王工", path, PHOTO, "现场照片 1.png")
    assert answer.status_code == 201, answer.text
    digest = hashlib.sha256(PHOTO).hexdigest()
    body = answer.json()
    assert body["ticket"] == api.ticket
    assert body["attachment"] | {"attached_at": None, "recorded_at": None} == {
        "sha256": digest,
        "size": len(PHOTO),
        "media_type": "image/png",
        "file_name": "现场照片 1.png",
        "kind": "photo",
        "attached_by": "王工",  # the token's user, in the user's role
        "role": "engineer",
        "attached_at": None,
        "recorded_at": None,
        "version": 3,
    }
    assert answer.headers["Location"].endswith(f"{path}/{digest}")

    listed = api.client.get(path, headers=api.headers("审计"))
    assert listed.status_code == 200 and [f["sha256"] for f in listed.json()] == [digest]
    got = api.client.get(f"{path}/{digest}", headers=api.headers("审计"))
    assert got.status_code == 200 and got.content == PHOTO
    assert got.headers["content-type"] == "image/png"
    assert got.headers["etag"] == f'"{digest}"'
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"____ 1.png\"; filename*=UTF-8''" + quote("现场照片 1.png", safe="")
    )
    again = api.client.get(
        f"{path}/{digest}", headers=api.headers("审计") | {"If-None-Match": f'"{digest}"'}
    )
    assert again.status_code == 304 and again.content == b""
    mine = api.client.get(f"{path}/{digest}", headers=api.headers("王工"))
    assert mine.status_code == 200 and mine.content == PHOTO


def test_who_is_refused_and_why(api: Api) -> None:
    path = f"/tickets/{api.ticket}/attachments"
    events = api.desk.ledger.event_count()
    cases = [
        (api.upload("审计", path, PHOTO), 403, "attach needs role"),  # auditors never write
        (api.upload("赵工", path, PHOTO), 422, "is dispatched to 王工"),
        (api.upload("王工", path, b"MZ\x90\x00 binary"), 415, "of no allowed type"),
        (api.upload("王工", path, b"y" * 5000, "big.txt"), 413, "over the evidence limit of 4096"),
        (api.upload("王工", path, PHOTO, kind="selfie"), 422, ""),
        (api.upload("王工", "/tickets/T-2026-000099/attachments", PHOTO), 404, "no ticket"),
    ]
    for answer, status, detail in cases:
        assert answer.status_code == status, answer.text
        assert detail in json.dumps(answer.json(), ensure_ascii=False)
    assert cases[1][0].json()["type"].endswith("rule-violation")  # as every write's refusal
    assert api.desk.ledger.event_count() == events  # nothing recorded
    no_token = api.client.post(path, files={"file": ("a.png", PHOTO)}, data={"kind": "photo"})
    assert no_token.status_code == 401

    assert api.upload("王工", path, PHOTO).status_code == 201
    digest = hashlib.sha256(PHOTO).hexdigest()
    other = api.client.get(f"{path}/{digest}", headers=api.headers("赵工"))
    assert other.status_code == 403  # not their ticket
    assert api.client.get(path, headers=api.headers("赵工")).status_code == 403
    missing = api.client.get(f"{path}/{'0' * 64}", headers=api.headers("审计"))
    assert missing.status_code == 404


def test_visits_and_actions_take_attachments_too(api: Api) -> None:
    quality = api.desk.ledger.quality
    from ledger.commands.registry import parse_quality_command

    def q(command: str, **fields: Any) -> str:
        data = {"command": command, "actor": "周质检", "role": "quality", **fields}
        return quality.execute(parse_quality_command(data, SHANGHAI)).record.number

    visit = q("visit_schedule", contract="seed-002", visitor="周质检")
    action = q("action_raise", content="内审", source="internal_audit", department="质量部")
    for path in (f"/visits/{visit}/attachments", f"/actions/{action}/attachments"):
        answer = api.upload("周质检", path, FORM, "卡.pdf", "signed-form")
        assert answer.status_code == 201, answer.text
        listed = api.client.get(path, headers=api.headers("审计")).json()
        assert [f["file_name"] for f in listed] == ["卡.pdf"]
    assert api.upload("审计", f"/visits/{visit}/attachments", PHOTO).status_code == 403


# --------------------------------------------------------------------------- the dossier


def test_the_dossier_draws_the_signature_and_lists_every_file(
    sqlite_url: str, tmp_path: Path
) -> None:
    desk = open_desk(sqlite_url)
    number = desk.report().number
    store = open_setting(str(tmp_path / "evidence"))
    service = EvidenceService(store, desk.ledger.tickets, desk.ledger.quality)
    signature = png(red=200, size=32)
    service.attach("ticket", number, signature, file_name="签名.png", evidence_kind="signature",
                   actor="张三", role=Role.CUSTOMER)  # fmt: skip
    service.attach("ticket", number, FORM, file_name="服务单.pdf", evidence_kind="signed-form",
                   actor="李娜", role=Role.DISPATCHER)  # fmt: skip
    desk.ledger.close()
    env = {"LEDGER_EVIDENCE": str(tmp_path / "evidence"), "LEDGER_TZ": "Asia/Shanghai"}
    html = tmp_path / "d.html"
    pdf = tmp_path / "d.pdf"
    for fmt, out in (("html", html), ("pdf", pdf)):
        done = CliRunner().invoke(
            ledger_cli,
            ["--db", sqlite_url, "export", "--ticket", number, "--format", fmt, "--out", str(out)],
            env=env,
        )
        assert done.exit_code == 0, done.output
    page = html.read_text()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="签名.png">', page)
    import base64

    assert [base64.b64decode(i) for i in images] == [signature]
    for data in (signature, FORM):
        assert hashlib.sha256(data).hexdigest() in page
    assert "1 个证据文件" not in page and "2 个证据文件中 2 个与记录的 SHA-256 一致" in page
    listed = poppler("pdfimages", "-list", str(pdf))
    assert re.search(r"^\s+1\s+0 image\s+32\s+32\s+rgb", listed, re.MULTILINE), listed
    text = re.sub(r"\s+", "", poppler("pdftotext", "-raw", str(pdf), "-"))
    for data in (signature, FORM):
        assert hashlib.sha256(data).hexdigest() in text

    # A file changed behind the ledger's back: the dossier says so, and fails.
    path = store.path_of(hashlib.sha256(FORM).hexdigest())  # type: ignore[attr-defined]
    path.chmod(0o644)
    path.write_bytes(FORM + b" ")
    done = CliRunner().invoke(
        ledger_cli,
        ["--db", sqlite_url, "export", "--ticket", number, "--out", str(html), "--force"],
        env=env,
    )
    assert done.exit_code == 1 and "已改动" in html.read_text()
