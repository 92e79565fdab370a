"""``ledger visit|visits|action|complaint``, end to end, in a subprocess (SQLite and
PostgreSQL). The clock is fixed by LEDGER_NOW (2026-10-08T12:00+08:00)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import REPORT_ARGS, Cli, make_cli

QUALITY = {"LEDGER_ACTOR": "周质检", "LEDGER_ROLE": "quality"}
ENGINEER = {"LEDGER_ACTOR": "王工", "LEDGER_ROLE": "engineer"}


@pytest.fixture
def cli(db_url: str) -> Cli:
    return make_cli(db_url)


def closed_ticket(cli: Cli) -> str:
    """A ticket reported at 09:00, fixed on site and closed by 11:00."""
    number: str = cli.json(*REPORT_ARGS)["number"]
    cli.run("ticket", "dispatch", number, "--engineer", "王工", "--at", "2026-10-08T09:05")
    cli.run("ticket", "arrive", number, "--at", "2026-10-08T09:20", **ENGINEER)
    cli.run(
        "ticket", "resolve", number, "--summary", "换板", "--at", "2026-10-08T10:00", **ENGINEER
    )
    cli.run("ticket", "sign", number, "--signer", "张三", "--at", "2026-10-08T10:05", **ENGINEER)
    cli.run("ticket", "close", number, "--at", "2026-10-08T11:00")
    return number


def refused(cli: Cli, *args: str, **env: str) -> str:
    """Run a command that must be refused: exit 2, one line, nothing recorded."""
    before = cli.event_count()
    result = cli.run(*args, ok=False, **env)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert cli.event_count() == before
    return result.stderr


def test_a_failed_audit_reopens_the_ticket_and_raises_an_action(cli: Cli) -> None:
    ticket = closed_ticket(cli)
    scheduled = cli.run(
        "visit",
        "schedule",
        "--ticket",
        ticket.lower(),
        "--visitor",
        "周质检",
        "--at",
        "2026-10-08T11:10",
        **QUALITY,
    )
    assert scheduled.stdout == "V-2026-000001 scheduled (version 1)\n"
    visit = "V-2026-000001"
    cli.run("visit", "conduct", visit, "--content", "电话回访", "--at", "2026-10-08T11:20")
    scored = cli.json("visit", "score", visit, "-a", "90", "-b", "80", "-c", "85", "-d", "70")
    assert scored["scores"]["total"] == 81.25 and scored["scores"]["band_zh"] == "很满意"

    stderr = refused(cli, "visit", "audit", visit, "--fail", "--reason", "服务单无签字")
    assert stderr == "Error: visit_audit needs role quality; 李娜 is dispatcher\n"
    failed = cli.run("visit", "audit", visit, "--fail", "--reason", "服务单无签字", **QUALITY)
    assert failed.stdout.splitlines() == [
        f"{visit} conducted (version 4)",
        f"  ticket {ticket} reopened (cause: return visit {visit})",
    ]
    history = cli.json("ticket", "history", ticket)
    assert history[-1]["type"] == "Reopened"
    assert history[-1]["data"] == {"reason": "服务单无签字", "cause": visit}

    raised = cli.json(
        "action",
        "raise",
        "--content",
        "服务单未签字即关闭",
        "--source",
        "return_visit",
        "--department",
        "技术部",
        "--link",
        visit,
        "--link",
        ticket,
        **QUALITY,
    )
    assert (raised["number"], raised["links"]) == ("CA-2026-0001", [visit, ticket])
    assert raised["notes"] == [f"linked to return visit {visit}"]
    shown = cli.json("visit", "show", visit.lower())
    assert shown["corrective_actions"] == ["CA-2026-0001"]
    assert shown["audit"]["result"] == "failed" and shown["ticket_number"] == ticket
    assert [e["type"] for e in cli.json("visit", "history", visit)] == [
        "VisitScheduled",
        "VisitConducted",
        "SatisfactionScored",
        "AuditFailed",
        "CorrectiveActionLinked",
    ]
    stderr = refused(
        cli, "action", "verify", "CA-2026-0001", "--effective", "--comment", "有效", **ENGINEER
    )
    assert "action_verify needs role chief_engineer_office or quality; 王工 is engineer" in stderr

    complaint = cli.json(
        "complaint",
        "receive",
        "--about",
        "ticket",
        "--reference",
        ticket,
        "--category",
        "quality",
        "--content",
        "修完又坏",
    )
    assert (complaint["number"], complaint["customer"]) == ("C-2026-0001", "禹州市公安局")
    cli.run(
        "complaint",
        "analyse",
        "C-2026-0001",
        "--cause",
        "备件",
        "--department",
        "技术部",
        "--ours",
        **QUALITY,
    )
    shown = cli.json("complaint", "show", "C-2026-0001")
    assert (shown["status"], shown["ours"], shown["contract_id"]) == ("analysed", True, "seed-002")


def test_lists_overdue_actions_and_visits_due(cli: Cli) -> None:
    cli.run(
        "visit",
        "schedule",
        "--contract",
        "seed-000",
        "--purpose",
        "weekly_contact",
        "--form",
        "on-site",
        "--visitor",
        "刘工",
    )
    cli.run("visit", "conduct", "V-2026-000001", "--content", "每周联系")

    due = cli.json("visits", "due")
    assert [(d["contract_id"], d["kind"], d["status"]) for d in due] == [
        ("seed-001", "inspection_round", "overdue"),
        ("seed-004", "key_customer_visit", "overdue"),
        ("seed-004", "satisfaction_survey", "overdue"),
    ]
    week_later = cli.json("visits", "due", "--contract", "seed-000", "--as-of", "2026-10-16T09:00")
    assert week_later == [
        {
            "contract_id": "seed-000",
            "customer": "某市自然资源和规划局",
            "kind": "weekly_contact",
            "interval": "7 days",
            "last_conducted_at": "2026-10-08T12:00:00+08:00",
            "due_at": "2026-10-15T12:00:00+08:00",
            "status": "overdue",
            "days_overdue": 1,
        }
    ]
    upcoming = cli.run("visits", "due", "--contract", "seed-000", "--all").stdout
    assert "weekly_contact" in upcoming and "upcoming" in upcoming
    assert cli.run("visits", "due", "--contract", "seed-000").stdout.startswith(
        "no periodic visit due"
    )
    visits = cli.json("visit", "list", "--kind", "weekly_contact")
    assert [(v["number"], v["status"], v["form"]) for v in visits] == [
        ("V-2026-000001", "conducted", "on-site")
    ]

    cli.run(
        "action",
        "raise",
        "--content",
        "内审",
        "--source",
        "internal_audit",
        "--department",
        "质量部",
        **QUALITY,
    )
    cli.run("action", "analyse", "CA-2026-0001", "--cause", "流程缺失", **QUALITY)
    cli.run(
        "action",
        "plan",
        "CA-2026-0001",
        "--corrective",
        "补流程",
        "--preventive",
        "培训",
        "--responsible",
        "王经理",
        "--due",
        "2026-10-09",
        **QUALITY,
    )
    assert cli.json("action", "list", "--overdue") == []
    later = {"LEDGER_NOW": "2026-10-10T00:00+08:00"}
    (overdue,) = cli.json("action", "list", "--overdue", **later)
    assert (overdue["number"], overdue["due_on"], overdue["stage"]) == (
        "CA-2026-0001",
        "2026-10-09",
        "planned",
    )
    assert cli.json("action", "show", "CA-2026-0001", **later)["overdue"] is True

    cli.run(
        "complaint",
        "receive",
        "--contract",
        "seed-004",
        "--about",
        "engineer",
        "--reference",
        "孙工",
        "--category",
        "non_quality",
        "--content",
        "态度差",
    )
    assert [c["number"] for c in cli.json("complaint", "list", "--month", "2026-10")] == [
        "C-2026-0001"
    ]
    assert cli.json("complaint", "list", "--month", "2026-11") == []
    assert "not a month" in refused(cli, "complaint", "list", "--month", "October")

    lists = [("visit", "list"), ("action", "list", "--all"), ("complaint", "list", "--all")]
    live = [cli.json(*args) for args in lists]
    rebuilt = cli.run("projections", "rebuild", "visits", "corrective_actions", "complaints")
    assert "rebuilt visits, corrective_actions, complaints" in rebuilt.stdout
    assert [cli.json(*args) for args in lists] == live


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["visit", "show", "T-2026-000001"], "is not a return visit number"),
        (["visit", "conduct", "V-2026-000404", "--content", "x"], "no return visit V-2026-000404"),
        (["visit", "schedule", "--visitor", "x"], "contract: is required"),
        (
            [
                "visit",
                "schedule",
                "--ticket",
                "T-2026-000001",
                "--contract",
                "seed-004",
                "--visitor",
                "x",
            ],
            "ticket T-2026-000001 is of contract seed-002, not seed-004",
        ),
        (["visit", "audit", "V-2026-000001", "--pass", "--reason", "x"], "reason: only a failed"),
        (
            ["visit", "score", "V-2026-000001", "-a", "101", "-b", "1", "-c", "1", "-d", "1"],
            "engineering_quality: Input should be less than or equal to 100",
        ),
        (["action", "analyse", "CA-2026-0001", "--cause", "x"], "no corrective action"),
        (
            [
                "complaint",
                "receive",
                "--about",
                "ticket",
                "--reference",
                "T-2026-000404",
                "--category",
                "quality",
                "--content",
                "x",
            ],
            "no ticket T-2026-000404",
        ),
    ],
)
def test_bad_quality_input_is_one_clear_line_exit_2_and_records_nothing(
    sqlite_url: str, args: list[str], message: str
) -> None:
    cli = make_cli(sqlite_url)
    cli.run(*REPORT_ARGS)
    cli.run("visit", "schedule", "--ticket", "T-2026-000001", "--visitor", "周质检")
    assert message in refused(cli, *args, **QUALITY)


def test_import_of_quality_commands(cli: Cli, tmp_path: Path) -> None:
    lines: list[dict[str, Any]] = [
        {
            "command": "visit_schedule",
            "ref": "v",
            "contract": "seed-001",
            "purpose": "inspection_round",
            "visitor": "刘工",
            "form": "on-site",
            "planned_at": "2026-10-09T09:00",
        },
        {"command": "visit_conduct", "visit": "v", "content": "季度巡检"},
        {
            "command": "action_raise",
            "ref": "a",
            "content": "磁盘将满",
            "source": "return_visit",
            "department": "运维部",
            "links": ["v"],
        },
        {"command": "action_raise", "content": "?", "source": "complaint", "department": "x"},
    ]
    path = tmp_path / "quality.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    result = cli.run("import", str(path), "--json", ok=False, **QUALITY)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["applied"] == 3
    assert report["refs"] == {"v": "V-2026-000001", "a": "CA-2026-0001"}
    assert report["rejected"] == [
        {
            "line": 4,
            "reason": "a quality issue from a complaint must link to the complaint it came from "
            "(e.g. C-2026-0001)",
        }
    ]
    shown = cli.json("visit", "show", "V-2026-000001")
    assert shown["planned_at"] == "2026-10-09T09:00:00+08:00"
    assert shown["corrective_actions"] == ["CA-2026-0001"]
