"""Declared metrics end to end on both databases: the seed contracts (examples/contracts)
load, the new progress commands (diagnose, propose, start-repair, temporary-measure, file-form,
change-contact) record their events through the real CLI and ``ticket show`` judges the
declared clocks (a filed form naming its scan: a signed form attached to the ticket); a
contract naming an unknown event records nothing."""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path

from tests.e2e.test_cli import REPORT_ARGS
from tests.e2e.test_contracts import fresh_cli, write
from tests.e2e.test_quality_cli import refused
from tests.evidence_stores import SAMPLES, png

SEEDS = sorted((Path(__file__).parents[2] / "examples" / "contracts").glob("seed-*.toml"))
ENGINEER = {"LEDGER_ACTOR": "王工", "LEDGER_ROLE": "engineer"}
DESK = {"LEDGER_ACTOR": "李娜", "LEDGER_ROLE": "dispatcher"}


def test_the_progress_commands_feed_the_declared_metrics(db_url: str, tmp_path: Path) -> None:
    cli = fresh_cli(db_url)
    cli.env["LEDGER_EVIDENCE"] = str(tmp_path / "evidence")
    cli.run("contract", "load", *map(str, SEEDS))
    number = cli.json(*REPORT_ARGS, **DESK)["number"]
    steps = [
        ("ticket", "diagnose", number, "--report", "电源模块损坏", "--at", "2026-10-08T09:30"),
        ("ticket", "propose", number, "--solution", "更换电源", "--at", "2026-10-08T09:40"),
        ("ticket", "start-repair", number, "--at", "2026-10-08T09:45"),
        (
            "ticket",
            "temporary-measure",
            number,
            "--measure",
            "启用备用门禁",
            "--at",
            "2026-10-08T10:00",
        ),
    ]
    for step in steps:
        cli.run(*step, **ENGINEER)
    cli.run(
        "ticket",
        "resolve",
        number,
        "--summary",
        "远程重启",
        "--mode",
        "remote",
        "--at",
        "2026-10-08T10:30",
        **ENGINEER,
    )
    cli.run("ticket", "sign", number, "--signer", "张三", "--at", "2026-10-08T10:40", **DESK)
    photo, form = tmp_path / "现场.png", tmp_path / "服务单.pdf"
    photo.write_bytes(png(red=40, size=24))
    form.write_bytes(SAMPLES["application/pdf"])
    cli.run("ticket", "attach", number, str(photo), "--kind", "photo", **ENGINEER)
    cli.run("ticket", "attach", number, str(form), "--kind", "signed-form", **DESK)
    # The form's scan must be a signed form (or its fax) attached to the ticket.
    filing = ("ticket", "file-form", number, "--form", "FWD-1", "--evidence-sha256")
    assert "has no evidence file abababababab…: attach the signed form's scan first" in refused(
        cli, *filing, "ab" * 32, **DESK
    )
    assert "现场.png is a photo, not a signed form (fax, signed-form)" in refused(
        cli, *filing, sha256(photo.read_bytes()).hexdigest(), **DESK
    )
    cli.run(*filing, sha256(form.read_bytes()).hexdigest(), **DESK)
    cli.run(
        "ticket",
        "change-contact",
        number,
        "--contact-name",
        "刘工",
        "--contact-phone",
        "13900000000",
        "--changed-at",
        "2026-10-08T08:00",
        **DESK,
    )
    history = cli.run("ticket", "history", number, "--json").stdout
    for event in (
        "DiagnosisReported",
        "SolutionProposed",
        "RepairStarted",
        "TemporaryMeasureTaken",
        "ServiceFormFiled",
        "ContactChanged",
    ):
        assert event in history, event
    shown = cli.json("ticket", "show", number)
    verdicts = {t["metric"]: t["status"] for t in shown["sla"]}
    # Seed 002 (v2): fixed 1 h 30 min after the report, so no unit was owed.
    assert verdicts["replacement"] == "n/a" and verdicts["resolve"] == "met"

    assert "already filed" in refused(cli, "ticket", "file-form", number, "--form", "FWD-2", **DESK)
    for args in (("ticket", "start-repair", "--help"), ("ticket", "change-contact", "--help")):
        assert "--at" in cli.run(*args).stdout


def test_a_contract_naming_an_unknown_event_records_nothing(db_url: str, tmp_path: Path) -> None:
    cli = fresh_cli(db_url)
    before = cli.event_count()
    text = (
        SEEDS[4]
        .read_text(encoding="utf-8")
        .replace('stop = "ServiceFormFiled"', 'stop = "FormFiled"')
    )
    bad = cli.run("contract", "load", str(write(tmp_path / "bad.toml", text)), ok=False)
    assert bad.returncode == 2
    assert 'metrics.form_filed.stop: "FormFiled" is not a ticket event' in bad.stderr
    assert "nothing recorded" in bad.stderr
    assert cli.event_count() == before
