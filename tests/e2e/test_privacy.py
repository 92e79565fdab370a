"""Erasing a data subject by crypto-shredding (docs/privacy.md, issue 20), through the real
CLI on both databases and through the API: after the erasure no byte of the person's data is
left in the database (file and WAL on SQLite, every table on PostgreSQL), the evidence store,
the feed or an export; verify passes; reports are unchanged but for the erased fields."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from ledger.bootstrap import Ledger
from ledger.commands.users import Users
from ledger.domain.privacy import ERASED, ERASED_EN
from ledger.domain.values import Role
from ledger.storage.evidence import EvidenceSettings
from tests.e2e.test_cli import ADMIN, REPORT_ARGS, Cli, make_cli
from tests.evidence_stores import png
from tests.support import SHANGHAI, USER_ADMIN, open_desk

NAME = "欧阳锋"
PHONE = "13912345678"
SIGNER = "慕容复"
SIGNATURE = png(red=7)
PERSONAL = [NAME.encode(), PHONE.encode(), SIGNER.encode()]
"""The plaintext that must be gone after the erasure (UTF-8 and JSON-escaped below)."""
ENGINEER = {"LEDGER_ACTOR": "王工", "LEDGER_ROLE": "engineer"}


def traces(data: bytes) -> list[bytes]:
    """Which of the person's values occur in ``data``, as UTF-8 or ``\\uXXXX``-escaped."""
    forms = {form for v in PERSONAL for form in (v, json.dumps(v.decode())[1:-1].encode())}
    return sorted(form for form in forms if form in data)


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    c = make_cli(db_url)
    c.env["LEDGER_EVIDENCE"] = str(tmp_path / "evidence")
    return c


def signed_ticket(cli: Cli, tmp_path: Path) -> str:
    """A ticket whose contact is NAME/PHONE, signed by SIGNER with a signature image, closed."""
    number: str = cli.json(
        "ticket",
        "report",
        "--contract",
        "seed-002",
        "--customer",
        "禹州市公安局",
        "--contact-name",
        NAME,
        "--contact-phone",
        PHONE,
        "--site",
        "看守所监控中心",
        "--device",
        "门禁控制器",
        "--severity",
        "emergency",
        "--description",
        "门禁控制器无法开机",
        "--at",
        "2026-10-08T09:00",
    )["number"]
    cli.run("ticket", "dispatch", number, "--engineer", "王工", "--at", "2026-10-08T09:05")
    cli.run("ticket", "arrive", number, "--at", "2026-10-08T09:20", **ENGINEER)
    cli.run(
        "ticket", "resolve", number, "--summary", "换板", "--at", "2026-10-08T10:00", **ENGINEER
    )
    cli.run("ticket", "sign", number, "--signer", SIGNER, "--at", "2026-10-08T10:05", **ENGINEER)
    image = tmp_path / "signature.png"
    image.write_bytes(SIGNATURE)
    cli.run("ticket", "attach", number, str(image), "--kind", "signature", **ENGINEER)
    cli.run("ticket", "close", number, "--at", "2026-10-08T11:00")
    return number


def database_bytes(cli: Cli, tmp_path: Path) -> bytes:
    """Every byte the database holds: the SQLite file and its WAL, or every PostgreSQL
    table's rows as text."""
    if cli.db.startswith("sqlite"):
        path = Path(cli.db.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    engine = create_engine(cli.db.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names()
            rows = [
                str(row).encode()
                for name in names
                for row in conn.execute(text(f'SELECT t::text FROM "{name}" t'))
            ]
    finally:
        engine.dispose()
    return b"\n".join(rows)


def outside_bytes(cli: Cli, tmp_path: Path, number: str) -> bytes:
    """What leaves the database: the evidence store, the feed, a ticket's export."""
    store = b"".join(p.read_bytes() for p in (tmp_path / "evidence").rglob("*") if p.is_file())
    feed = cli.run("feed").stdout.encode()
    out = tmp_path / "export.json"
    cli.run("export", "--ticket", number, "--format", "json", "--out", str(out), "--force")
    return store + feed + out.read_bytes()


def erase(cli: Cli, *how: str) -> Any:
    return cli.json(
        "privacy", "erase", *how, "--reason", "本人要求删除（个人信息保护法第四十七条）", **ADMIN
    )


def without_erased(data: Any) -> Any:
    """``data`` with the erased and the person's values blanked (what may differ)."""
    text_form = json.dumps(data, ensure_ascii=False, sort_keys=True)
    for value in (ERASED, NAME, PHONE, SIGNER):
        text_form = text_form.replace(value, "<personal>")
    return json.loads(text_form)


def test_erasure_leaves_no_plaintext_and_verify_passes(cli: Cli, tmp_path: Path) -> None:
    number = signed_ticket(cli, tmp_path)
    before_show = cli.json("ticket", "show", number)
    before_sla = cli.json("report", "sla")
    assert before_show["contact"] == {"name": NAME, "phone": PHONE}
    assert before_show["signature"]["signer"] == SIGNER
    assert traces(outside_bytes(cli, tmp_path, number))  # the search below can find them
    assert SIGNATURE in outside_bytes(cli, tmp_path, number)

    erased = erase(cli, "--phone", PHONE) + erase(cli, "--name", SIGNER)
    assert [e["recorded"] and e["key_destroyed"] for e in erased] == [True, True]
    # the signature image goes with the first of its ticket's subjects erased
    assert [len(e["files_deleted"]) for e in erased] == [1, 0]

    after_show = cli.json("ticket", "show", number)
    assert after_show["contact"] == {"name": ERASED, "phone": ERASED}
    assert after_show["signature"]["signer"] == ERASED
    assert without_erased(after_show) == without_erased(before_show)
    assert cli.json("report", "sla") == before_sla
    assert traces(database_bytes(cli, tmp_path)) == []
    outside = outside_bytes(cli, tmp_path, number)
    assert traces(outside) == []
    assert SIGNATURE not in outside

    verified = cli.run("verify")
    assert "keys: every encrypted personal field has its key" in verified.stdout
    assert "or erased with its data subject" in verified.stdout
    english = tmp_path / "dossier.html"
    cli.run("export", "--ticket", number, "--format", "html", "--lang", "en", "--out", str(english))
    assert ERASED_EN in english.read_text() and traces(english.read_bytes()) == []


def test_erasing_twice_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    signed_ticket(cli, tmp_path)
    [first] = erase(cli, "--phone", PHONE)
    events = cli.event_count()
    subject = first["subject_id"]
    again = erase(cli, "--subject", subject)
    assert again == [
        {"subject_id": subject, "recorded": False, "key_destroyed": False, "files_deleted": []}
    ]
    assert cli.event_count() == events
    exported = json.loads(cli.run("privacy", "export", "--subject", subject).stdout)
    assert exported["key"] == "erased" and exported["erased"] is not None
    assert {v for r in exported["records"] for v in r["fields"].values()} == {ERASED}


def test_export_lists_what_the_ledger_holds_about_a_person(cli: Cli, tmp_path: Path) -> None:
    number = signed_ticket(cli, tmp_path)
    [found] = cli.json("privacy", "subjects", "--phone", "139-1234 5678")
    assert found["key"] == "active" and found["events"] == 1
    exported = json.loads(cli.run("privacy", "export", "--subject", found["subject_id"]).stdout)
    [record] = exported["records"]
    assert record["record"] == number and record["event"] == "Reported"
    assert record["fields"] == {"contact.name": NAME, "contact.phone": PHONE}
    assert record["encrypted"] is True
    assert exported["evidence_files"]  # the signature image of its ticket
    unknown = cli.run("privacy", "export", "--subject", "s-" + "0" * 24, ok=False)
    assert unknown.returncode != 0 and "no data subject" in unknown.stderr
    refused = cli.run("privacy", "erase", "--phone", PHONE, "--reason", "x", ok=False)
    assert refused.returncode != 0 and "privacy_erase" in refused.stderr


def test_a_lost_key_store_is_reported_not_read_as_erased(cli: Cli, tmp_path: Path) -> None:
    number = signed_ticket(cli, tmp_path)
    engine = create_engine(cli.db.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE privacy_keys"))
    engine.dispose()
    verified = cli.run("verify", ok=False)
    assert verified.returncode != 0
    assert "the privacy key store (table privacy_keys) is missing" in verified.stdout
    shown = cli.run("ticket", "show", number, ok=False)
    assert shown.returncode != 0
    assert "restore it from its backup" in shown.stderr
    assert ERASED not in shown.stdout
    events = cli.event_count()
    another = cli.run(*REPORT_ARGS, ok=False)  # no plaintext written, no key made anew
    assert another.returncode != 0 and "before recording anything" in another.stderr
    assert cli.event_count() == events


def test_the_retention_sweep_erases_what_is_due_once(cli: Cli, tmp_path: Path) -> None:
    signed_ticket(cli, tmp_path)
    early = cli.json("privacy", "sweep", "--keep-years", "3", "--now", "2029-10-08T10:00", **ADMIN)
    assert early["erased"] == [] and early["kept"] == 2
    due = cli.json("privacy", "sweep", "--keep-years", "3", "--now", "2029-10-08T12:00", **ADMIN)
    assert len(due["erased"]) == 2 and all(e["recorded"] for e in due["erased"])
    again = cli.json("privacy", "sweep", "--keep-years", "3", "--now", "2029-10-08T12:00", **ADMIN)
    assert again["erased"] == [] and again["kept"] == 0
    listed = cli.json("report", "audit", **ADMIN)
    assert [e["basis"] for e in listed["erasures"]] == ["retention", "retention"]
    cli.run("verify")


# --------------------------------------------------------------------------- the API


@pytest.fixture
def api(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Any, dict[str, str], str]]:
    from fastapi.testclient import TestClient

    from ledger.web import create_app

    desk = open_desk(sqlite_url)
    number = desk.report(contact_name=NAME, contact_phone=PHONE).number
    users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
    tokens = {
        "admin": users.add("管理员", Role.ADMIN, **USER_ADMIN)[1],
        "auditor": users.add("审计", Role.AUDITOR, **USER_ADMIN)[1],
    }
    app = create_app(lambda: Ledger.open(sqlite_url, clock=desk.clock, tz=SHANGHAI))
    app.state.evidence_settings = EvidenceSettings(str(tmp_path / "evidence"))
    with TestClient(app) as client:
        yield client, tokens, number
    desk.ledger.close()


def test_the_api_exports_and_erases_for_the_administrator_only(api: Any) -> None:
    client, tokens, number = api

    def auth(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}"}

    found = client.get("/privacy/subjects", params={"phone": PHONE}, headers=auth("admin"))
    assert found.status_code == 200, found.text
    subject = found.json()[0]["subject_id"]
    assert re.fullmatch(r"s-[0-9a-f]{24}", subject)
    for path in ("/privacy/subjects?phone=1", f"/privacy/subjects/{subject}"):
        assert client.get(path, headers=auth("auditor")).status_code == 403
    denied = client.post(
        f"/privacy/subjects/{subject}/erase", json={"reason": "x"}, headers=auth("auditor")
    )
    assert denied.status_code == 403
    exported = client.get(f"/privacy/subjects/{subject}", headers=auth("admin")).json()
    assert exported["records"][0]["fields"]["contact.phone"] == PHONE

    done = client.post(
        f"/privacy/subjects/{subject}/erase", json={"reason": "本人要求"}, headers=auth("admin")
    )
    assert done.status_code == 200 and done.json()["recorded"] is True
    again = client.post(
        f"/privacy/subjects/{subject}/erase", json={"reason": "本人要求"}, headers=auth("admin")
    )
    assert again.json()["recorded"] is False
    shown = client.get(f"/tickets/{number}", headers=auth("auditor")).json()
    assert shown["contact"] == {"name": ERASED, "phone": ERASED}
    unknown = client.get("/privacy/subjects/s-" + "0" * 24, headers=auth("admin"))
    assert unknown.status_code == 404
    swept = client.post("/privacy/sweep", json={"dry_run": True}, headers=auth("admin"))
    assert swept.status_code == 200 and swept.json()["dry_run"] is True
