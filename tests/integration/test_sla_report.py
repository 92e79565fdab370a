"""``ledger report sla`` and the SLA section of ``ledger ticket show``, on SQLite and
PostgreSQL: the numbers, the groupings, the files, the Chinese labels, the CLI."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from ledger.bootstrap import Ledger
from ledger.clock import FixedClock
from ledger.commands.contracts import parse_contract, read_toml
from ledger.domain.values import Role
from ledger.reports.sla import (
    ReportQuery,
    SlaReport,
    breaches_csv_path,
    report_json,
    sla_report,
    summary_table,
    write_csv,
    write_xlsx,
)
from tests.e2e.test_cli import REPORT_ARGS, Cli
from tests.support import SHANGHAI, Desk, load_seed_contracts, open_desk

SPRING_CONTRACT = """\
id = "test-spring"
name = "春节测试合同"
customer = "某县档案馆"
warranty = { start = 2023-06-01, years = 3 }
calendar = "business"
business_hours = { open = "08:00", close = "17:30", days = "cn-workdays" }

[targets.default]
respond = "30m"
resolve = "2 workdays"
"""
FRIDAY = datetime(2024, 2, 9, 16, 40, tzinfo=SHANGHAI)


SEED_002 = "禹州市看守所智慧监所项目 (seed-002)"
"""How the tables people read name seed 002 (its name, then its id)."""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def load_spring_contract(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "test-spring.toml"
    path.write_text(SPRING_CONTRACT, encoding="utf-8")
    ledger.contracts.load(parse_contract(read_toml(path)), actor="admin", role=Role.ADMIN)


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    d = open_desk(db_url)
    yield d
    d.ledger.close()


def build(desk: Desk, **query: Any) -> SlaReport:
    return sla_report(desk.ledger, ReportQuery(**query))


def report(desk: Desk, **query: Any) -> dict[str, Any]:
    return report_json(build(desk, **query))


# --------------------------------------------------------------------------- numbers


def test_spring_festival_worked_example(db_url: str, tmp_path: Path) -> None:
    """Issue 3: reported Friday 2024-02-09 16:40 under business hours 08:00–17:30 with
    resolve = "2 workdays". Feb 10–17 are off and Sunday Feb 18 is worked, so the fix is due
    Monday Feb 19 at 17:30 (not Feb 20)."""
    desk = open_desk(db_url, at=FRIDAY)
    try:
        load_spring_contract(desk.ledger, tmp_path)
        t = desk.report(contract="test-spring", customer="某县档案馆", severity="general")
        assert t.reported_at == FRIDAY
        desk.clock.set(at("2024-02-19 17:00"))
        pending = report(desk, date_from=date(2024, 2, 9), date_to=date(2024, 2, 9))
        assert pending["total"]["tickets"] == 1
        assert pending["total"]["pending"] == 1  # resolve, due at 17:30 today
        assert [(b["metric"], b["due_at"]) for b in pending["breaches"]] == [
            ("respond", "2024-02-09T17:10:00+08:00")  # 50 minutes of business time were left
        ]
        desk.clock.set(at("2024-02-20 10:00"))
        late = report(desk, contract="test-spring")
        resolve = next(b for b in late["breaches"] if b["metric"] == "resolve")
        assert resolve["due_at"] == "2024-02-19T17:30:00+08:00"
        assert (resolve["status"], resolve["breach_minutes"]) == ("overdue", 120)  # 08:00–10:00
        assert late["total"]["met_pct"] == 0.0
        assert report(desk, date_from=date(2024, 2, 10))["total"]["tickets"] == 0
    finally:
        desk.ledger.close()


def test_met_percent_median_and_p90(desk: Desk) -> None:
    tickets = [desk.report(severity="general") for _ in range(5)]  # 09:00, respond 5m
    for t in tickets:
        desk.later(2)
        desk.do("respond", ticket=t.number)  # after 2, 4, 6, 8, 10 minutes
    total = report(desk)["total"]
    assert (total["tickets"], total["met"], total["breached"]) == (5, 2, 3)
    assert total["met_pct"] == 40.0  # arrive and resolve are still pending: not counted
    assert total["pending"] == 15 and total["targets"] == 20  # arrive, resolve, replacement
    assert total["minutes"]["respond"] == {"median": 6.0, "p90": 10.0, "count": 5}
    assert total["minutes"]["resolve"] == {"median": None, "p90": None, "count": 0}
    assert total["metrics"]["respond"]["met_pct"] == 40.0
    assert total["metrics"]["arrive"]["met_pct"] is None


def test_grouping_by_engineer_and_month(desk: Desk) -> None:
    for engineer in ("王工", "刘工", None, "王工"):
        t = desk.report(severity="general")
        if engineer:
            desk.do("dispatch", ticket=t.number, engineer=engineer)
    desk.clock.set(at("2026-11-02 09:00"))
    t = desk.report(severity="general")
    desk.do("dispatch", ticket=t.number, engineer="刘工")

    by_engineer = report(desk, by="engineer")
    assert [(g["key"], g["tickets"]) for g in by_engineer["groups"]] == [
        (None, 1),
        ("刘工", 2),
        ("王工", 2),
    ]
    assert by_engineer["total"]["tickets"] == 5
    labels = [row[0] for row in summary_table(build(desk, by="engineer"), "en")[1]]
    assert labels == ["(unassigned)", "刘工", "王工", "total"]

    by_month = report(desk, by="month")
    assert [(g["key"], g["tickets"]) for g in by_month["groups"]] == [
        ("2026-10", 4),
        ("2026-11", 1),
    ]
    october = report(desk, by="month", date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))
    assert [g["key"] for g in october["groups"]] == ["2026-10"]


def test_the_period_is_local_dates_both_included_and_cancelled_tickets_are_left_out(
    desk: Desk,
) -> None:
    desk.clock.set(at("2026-10-31 23:30"))
    desk.report(severity="general")
    cancelled = desk.report(severity="general")
    desk.do("cancel", ticket=cancelled.number, reason="重复报修")
    desk.clock.set(at("2026-11-01 00:10"))
    desk.report(severity="general")
    assert report(desk, date_to=date(2026, 10, 31))["total"]["tickets"] == 1
    assert report(desk, date_from=date(2026, 11, 1))["total"]["tickets"] == 1
    assert report(desk)["total"]["tickets"] == 2
    with pytest.raises(ValueError, match="after"):
        ReportQuery(date(2026, 11, 2), date(2026, 11, 1))


def test_out_of_contract_tickets_are_counted_apart(desk: Desk) -> None:
    """Issue 13: a ticket reported outside its contract's coverage is in no met %, no
    group, no breach list: its own line says how its targets went."""
    inside = desk.report(severity="general")  # seed-002, 09:00: respond 5m
    desk.later(2)
    desk.do("respond", ticket=inside.number)
    outside = desk.report(
        contract="seed-000", customer="某市自然资源和规划局", at="2026-02-01T10:00"
    )  # before seed-000's warranty (2026-03-15): never responded, so overdue
    assert outside.out_of_contract and not inside.out_of_contract

    data = report(desk)
    assert [g["key"] for g in data["groups"]] == ["seed-002"]
    total = data["total"]
    assert (total["tickets"], total["met"], total["overdue"], total["met_pct"]) == (1, 1, 0, 100.0)
    apart = data["out_of_contract"]
    assert apart["key"] is None and apart["tickets"] == 1
    assert apart["overdue"] == 3 and apart["met_pct"] == 0.0  # respond, arrive, resolve
    assert {b["ticket"] for b in data["breaches"]} <= {inside.number}
    # the rows: the groups, the total, then the out-of-contract line
    for lang, label in (("en", "out of contract (not counted)"), ("zh", "合同外（不计入）")):
        rows = summary_table(build(desk), lang)[1]
        assert [row[0] for row in rows][-1] == label
        assert rows[-1][1:3] == [1, apart["targets"]]
    # an in-contract report alone has no such line
    assert report(desk, contract="seed-002")["out_of_contract"]["tickets"] == 0
    rows = summary_table(build(desk, contract="seed-002"), "en")[1]
    assert rows[-1][0] == "total"


def breached_morning(desk: Desk) -> SlaReport:
    t = desk.report(severity="emergency")
    desk.later(9)
    desk.do("respond", ticket=t.number)  # 4 minutes late
    desk.do("dispatch", ticket=t.number, engineer="王工")
    desk.later(60)
    return build(desk)


def test_csv_and_xlsx_files_are_written_and_readable(desk: Desk, tmp_path: Path) -> None:
    result = breached_morning(desk)
    summary = tmp_path / "sla.csv"
    assert write_csv(result, summary, "en") == [
        summary,
        tmp_path / "sla.breaches.csv",
        tmp_path / "sla.metrics.csv",
    ]
    with (tmp_path / "sla.metrics.csv").open(encoding="utf-8-sig", newline="") as f:
        per_metric = {row[0]: row for row in csv.reader(f)}
    assert per_metric["metric"][:4] == ["metric", "targets", "met", "breached"]
    assert per_metric["respond"][3] == "1"  # the emergency answered 4 minutes late
    with summary.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:4] == ["contract", "tickets", "targets", "met"]
    assert rows[1][:2] == [SEED_002, "1"] and rows[-1][0] == "total"  # people read names
    with breaches_csv_path(summary).open(encoding="utf-8-sig", newline="") as f:
        breaches = list(csv.DictReader(f))
    respond = breaches[0]
    assert (respond["ticket"], respond["metric"], respond["status"]) == (
        "T-2026-000001",
        "respond",
        "breached",
    )
    assert respond["due"] == "2026-10-08T09:05:00+08:00"
    assert respond["breach minutes"] == "4"
    assert {b["metric"] for b in breaches} == {"respond", "arrive"}  # arrive: overdue

    book_path = tmp_path / "sla.xlsx"
    write_xlsx(result, book_path, "en")
    book = load_workbook(book_path)
    assert book.sheetnames == ["Summary", "Breaches", "Per metric"]
    sheet = book["Breaches"]
    header = [c.value for c in sheet[1]]
    first = dict(zip(header, (c.value for c in sheet[2]), strict=True))
    assert first["due"] == datetime(2026, 10, 8, 9, 5)  # local time: Excel has no zones
    assert first["breach minutes"] == 4
    assert book["Summary"]["A2"].value == SEED_002


def test_chinese_labels(desk: Desk, tmp_path: Path) -> None:
    result = breached_morning(desk)
    headers, rows = summary_table(result, "zh")
    assert headers[:9] == [
        "合同",
        "工单数",
        "考核项数",
        "达标",
        "超时",
        "逾期未完成",
        "进行中",
        "无法判定",
        "达标率(%)",
    ]
    assert "响应中位数(分钟)" in headers and rows[-1][0] == "合计"
    write_csv(result, tmp_path / "sla.csv", "zh")
    with (tmp_path / "sla.breaches.csv").open(encoding="utf-8-sig", newline="") as f:
        breaches = list(csv.DictReader(f))
    assert [(b["考核项"], b["状态"], b["严重程度"]) for b in breaches] == [
        ("响应", "超时", "紧急"),
        ("到场", "逾期未完成", "紧急"),
    ]
    write_xlsx(result, tmp_path / "sla.xlsx", "zh")
    book = load_workbook(tmp_path / "sla.xlsx")
    assert book.sheetnames == ["汇总", "超时明细", "分项达标情况"]
    for sheet in book.worksheets:
        # every header fits its column (a Chinese character is two widths wide)
        for cell in sheet[1]:
            width = sheet.column_dimensions[cell.column_letter].width
            wide = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in cell.value)
            assert width >= wide, (sheet.title, cell.value, width)
        assert sheet.auto_filter.ref == sheet.dimensions  # a filter on the header row
        assert sheet.auto_filter.ref.startswith("A1:")


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(db_url: str) -> Cli:
    """A CLI on a new ledger holding the seed contracts, recorded before the tickets."""
    c = Cli(db_url)
    c.run("init", "--fixed-clock")
    with Ledger.open(db_url, clock=FixedClock(at("2026-10-01 08:00"))) as ledger:
        load_seed_contracts(ledger)
    return c


def test_cli_report_sla_outputs(cli: Cli, tmp_path: Path) -> None:
    cli.run(*REPORT_ARGS)  # 09:00, seed-002 emergency: respond 5m
    cli.run("ticket", "respond", "T-2026-000001", "--at", "2026-10-08T09:12")
    data = cli.json("report", "sla", "--from", "2026-10-08", "--to", "2026-10-08")
    assert data["total"]["tickets"] == 1 and data["by"] == "contract"
    assert data["as_of"] == "2026-10-08T12:00:00+08:00"
    assert [(b["metric"], b["status"], b["breach_minutes"]) for b in data["breaches"]] == [
        ("respond", "breached", 7),
        ("arrive", "overdue", 160),
    ]

    text = cli.run("report", "sla", "--lang", "zh", "--by", "severity").stdout
    assert "服务承诺达标情况" in text and "达标率" in text and "紧急" in text
    assert "逾期未完成" in text and "超时明细" in text

    out = tmp_path / "out.csv"
    result = cli.run("report", "sla", "--csv", str(out), "--xlsx", str(tmp_path / "out.xlsx"))
    assert f"wrote {out}" in result.stderr
    assert out.exists() and (tmp_path / "out.breaches.csv").exists()
    assert load_workbook(tmp_path / "out.xlsx").sheetnames == ["Summary", "Breaches", "Per metric"]

    # --as-of: before the response was recorded (LEDGER_NOW 12:00 stamps every event).
    before = cli.json("report", "sla", "--as-of", "2026-10-08T11:00")
    assert before["total"]["tickets"] == 0 and before["as_of"] == "2026-10-08T11:00:00+08:00"


def test_cli_report_sla_bad_input(cli: Cli) -> None:
    result = cli.run("report", "sla", "--from", "2026-10-09", "--to", "2026-10-08", ok=False)
    assert result.returncode == 2 and "after" in result.stderr
    result = cli.run("report", "sla", "--contract", "nosuch", ok=False)
    assert result.returncode == 2 and "no contract nosuch" in result.stderr
    result = cli.run("report", "sla", "--as-of", "yesterday", ok=False)
    assert result.returncode == 2 and "--as-of" in result.stderr


def test_cli_ticket_show_has_the_sla_section(db_url: str, tmp_path: Path) -> None:
    c = Cli(db_url)
    c.run("init", "--fixed-clock")
    with Ledger.open(db_url, clock=FixedClock(at("2024-02-09 08:00"))) as ledger:
        load_spring_contract(ledger, tmp_path)
    report_args = [a if a != "seed-002" else "test-spring" for a in REPORT_ARGS[:-1]]
    c.run(*report_args, "2024-02-09T16:40", LEDGER_NOW="2024-02-09T16:41")
    c.run(
        "ticket",
        "respond",
        "T-2024-000001",
        "--at",
        "2024-02-09T16:55",
        LEDGER_NOW="2024-02-09T17:00",
    )

    shown = c.json("ticket", "show", "T-2024-000001", LEDGER_NOW="2024-02-20T10:00")
    assert shown["sla"] == [
        {
            "metric": "respond",
            "target": "30m",
            "status": "met",
            "due_at": "2024-02-09T17:10:00+08:00",
            "done_at": "2024-02-09T16:55:00+08:00",
            "breach_minutes": 0,
            "elapsed_minutes": 15.0,
            "note": None,
        },
        {
            "metric": "resolve",
            "target": "2 workdays",
            "status": "overdue",
            "due_at": "2024-02-19T17:30:00+08:00",
            "done_at": None,
            "breach_minutes": 120,
            "elapsed_minutes": None,
            "note": None,
        },
    ]
    text = c.run("ticket", "show", "T-2024-000001", LEDGER_NOW="2024-02-19T12:00").stdout
    assert "SLA" in text and "2 workdays" in text and "pending" in text


def test_cli_projections_follow_once(cli: Cli) -> None:
    cli.run(*REPORT_ARGS)
    result = cli.run("projections", "follow", "--once")
    assert "sla:" in result.stdout and "tickets:" in result.stdout
    status = cli.json("projections", "status")
    assert {"tickets", "sla"} <= {row["name"] for row in status}
    # A position moves to the last event of the projection's kinds (the quality read
    # models have none here), so only these two are at the head.
    assert all(
        row["position"] == row["head"] for row in status if row["name"] in {"tickets", "sla"}
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_projections_follow_stops_cleanly(cli: Cli, signum: int) -> None:
    cli.run(*REPORT_ARGS)
    follower = subprocess.Popen(
        [sys.executable, "-m", "ledger", "projections", "follow", "--interval", "0.2"],
        env={**cli.env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        assert "events applied" in follower.stdout.readline()  # it is running
        follower.send_signal(signum)
        _, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, err
    assert "Traceback" not in err and "stopped following" in err


def test_severities_are_listed_by_rank_in_every_language(sqlite_url: str) -> None:
    c = Cli(sqlite_url)
    c.run("init", "--fixed-clock")
    with Ledger.open(sqlite_url, clock=FixedClock(at("2026-10-01 08:00"))) as ledger:
        load_seed_contracts(ledger)
    for severity in ("general", "emergency", "major", "critical"):
        args = list(REPORT_ARGS)
        args[args.index("--severity") + 1] = severity
        c.run(*args)
    data = c.json("report", "sla", "--by", "severity")
    assert [g["key"] for g in data["groups"]] == ["emergency", "critical", "major", "general"]
    text = c.run("report", "sla", "--by", "severity", "--lang", "zh").stdout
    rows = [text.index(word) for word in ("紧急", "重大", "较大", "一般")]
    assert rows == sorted(rows)
