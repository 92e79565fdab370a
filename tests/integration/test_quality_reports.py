"""The quality reports (``ledger report satisfaction | assessment | corrective-actions |
complaints``) and the ``supervision`` read model, on SQLite and PostgreSQL: hand-computed
numbers on small histories recorded through the real services, the band edges, overdue
actions under an injected clock, rebuild equal to live, the files, the Chinese labels and
the command line."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from ledger.projections.supervision import supervision_events
from ledger.reports import actions, assessment, complaints, satisfaction, sla
from ledger.reports.common import Period, month_period, quarter_period
from ledger.reports.export import Sheet, cell_text, write_csv, write_xlsx
from tests.e2e.test_cli import Cli
from tests.integration.test_quality_service import Supervision
from tests.support import SHANGHAI, START, open_desk

DAY = 24 * 60
SEED_000 = {"contract": "seed-000", "purpose": "satisfaction_survey"}
SEED_003 = {"contract": "seed-003", "customer": "某县档案馆", "severity": "general"}
SEED_004 = {"contract": "seed-004", "customer": "某市财政局", "severity": "general"}


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def q(db_url: str) -> Iterator[Supervision]:
    desk = open_desk(db_url)
    yield Supervision(desk)
    desk.ledger.close()


def scored(q: Supervision, scores: tuple[int, int, int, int], **schedule: Any) -> str:
    visit = q.conducted(**schedule)
    q.score(visit, *scores)
    return visit


def texts(sheet: Sheet) -> list[list[str]]:
    return [[cell_text(c, SHANGHAI) for c in row] for row in sheet.rows]


# --------------------------------------------------------------------------- periods


def test_periods_quarters_months_and_the_previous_period() -> None:
    assert quarter_period("2026q3") == Period(date(2026, 7, 1), date(2026, 9, 30))
    assert month_period("2026-02") == Period(date(2026, 2, 1), date(2026, 2, 28))
    for bad in ("2026Q5", "2026-Q3", "Q3"):
        with pytest.raises(ValueError, match="--quarter"):
            quarter_period(bad)
    with pytest.raises(ValueError, match="--month"):
        month_period("2026-13")
    with pytest.raises(ValueError, match="after"):
        Period(date(2026, 10, 2), date(2026, 10, 1))
    # Whole months step back by months, other periods by days; open periods have none.
    assert quarter_period("2026Q3").previous() == quarter_period("2026Q2")
    assert month_period("2026-03").previous() == month_period("2026-02")
    week = Period(date(2026, 10, 5), date(2026, 10, 11))
    assert week.previous() == Period(date(2026, 9, 28), date(2026, 10, 4))
    assert Period(date(2026, 10, 1)).previous() is None


# --------------------------------------------------------------------------- satisfaction


def satisfaction_history(q: Supervision) -> dict[str, str]:
    """Four October visits on the band edges, one in September, one conducted unscored.

    =====  ========  ==============  =======  ==================
    visit  contract  scores          total    band
    =====  ========  ==============  =======  ==================
    sep    seed-000  70 70 70 70     70       fairly satisfied
    v1     seed-000  90 80 85 70     81.25    very satisfied
    v2     seed-000  40 41 40 40     40.25    very dissatisfied
    v3     seed-004  60 61 60 61     60.5     fairly satisfied (王工's ticket)
    v4     seed-004  41 40 41 40     40.5     dissatisfied
    =====  ========  ==============  =======  ==================
    """
    sep = q.number("visit_schedule", visitor="周质检", at="2026-09-10T10:00", **SEED_000)
    q.do("visit_conduct", visit=sep, content="电话回访", at="2026-09-10T11:00")
    q.score(sep, 70, 70, 70, 70)
    visits = {"sep": sep, "v1": scored(q, (90, 80, 85, 70), **SEED_000)}
    visits["v2"] = scored(q, (40, 41, 40, 40), **SEED_000)
    ticket = q.served(engineer="王工", **SEED_004)
    visits["v3"] = scored(q, (60, 61, 60, 61), ticket=ticket.number)
    visits["v4"] = scored(q, (41, 40, 41, 40), contract="seed-004")
    q.conducted(contract="seed-004")  # conducted, never scored: not counted
    return visits


def satisfaction_of(q: Supervision, **query: Any) -> satisfaction.SatisfactionReport:
    return satisfaction.satisfaction_report(q.ledger, satisfaction.SatisfactionQuery(**query))


def test_satisfaction_averages_bands_trend_and_low_scores(q: Supervision) -> None:
    visits = satisfaction_history(q)
    october = month_period("2026-10")
    data = satisfaction.report_json(satisfaction_of(q, period=october, by="customer"))
    assert data["previous"] == {"from": "2026-09-01", "to": "2026-09-30"}
    surveyed, finance = data["groups"]
    assert surveyed == {
        "key": "某市自然资源和规划局",
        "visits": 2,
        "averages": {
            "engineering_quality": 65.0,
            "progress": 60.5,
            "service": 62.5,
            "performance_capability": 55.0,
            "total": 60.75,
        },
        "band": "fairly_satisfied",  # 60.75 rounds to 61
        "bands": {
            "very_dissatisfied": 1,
            "dissatisfied": 0,
            "fairly_satisfied": 0,
            "very_satisfied": 1,
        },
        "previous_total": 70.0,
        "trend": -9.25,
    }
    assert finance["key"] == "某市财政局" and finance["visits"] == 2
    assert finance["averages"]["total"] == 50.5 and finance["band"] == "dissatisfied"
    assert finance["bands"]["fairly_satisfied"] == finance["bands"]["dissatisfied"] == 1
    assert finance["previous_total"] is None and finance["trend"] is None
    total = data["total"]
    assert total["visits"] == 4 and total["averages"]["total"] == 55.63  # 55.625, half up
    assert (total["previous_total"], total["trend"]) == (70.0, -14.37)
    low = [(v["visit"], v["total"], v["band"]) for v in data["low_scores"]]
    assert low == [(visits["v2"], 40.25, "very_dissatisfied"), (visits["v4"], 40.5, "dissatisfied")]

    by_engineer = satisfaction.report_json(satisfaction_of(q, period=october, by="engineer"))
    assert [(g["key"], g["visits"], g["averages"]["total"]) for g in by_engineer["groups"]] == [
        ("王工", 1, 60.5),
        (None, 3, 54.0),  # visits without a ticket
    ]
    by_contract = satisfaction.report_json(satisfaction_of(q, period=october, by="contract"))
    assert [g["key"] for g in by_contract["groups"]] == ["seed-000", "seed-004"]


def test_satisfaction_by_quarter_compares_with_the_quarter_before(q: Supervision) -> None:
    satisfaction_history(q)
    report = satisfaction_of(q, period=Period(date(2026, 10, 1), date(2026, 12, 31)), by="quarter")
    data = satisfaction.report_json(report)
    assert [(g["key"], g["visits"], g["previous_total"], g["trend"]) for g in data["groups"]] == [
        ("2026Q4", 4, 70.0, -14.37)
    ]
    # Open period: every scored visit; the open end is today, so there is still a trend.
    everything = satisfaction.report_json(satisfaction_of(q, by="quarter"))
    assert [(g["key"], g["visits"]) for g in everything["groups"]] == [("2026Q3", 1), ("2026Q4", 4)]
    assert everything["groups"][1]["trend"] == -14.37 and everything["previous"] is None
    since = satisfaction.report_json(satisfaction_of(q, period=Period(date(2026, 10, 6))))
    assert since["previous"] == {"from": "2026-10-03", "to": "2026-10-05"}  # 3 days to today
    assert since["total"]["previous_total"] is None


# --------------------------------------------------------------------------- corrective actions


def verified(q: Supervision, action: str, effective: bool) -> None:
    q.do("action_implement", action=action, description="已实施")
    q.do("action_result", action=action, result="结果")
    q.do("action_verify", action=action, effective=effective, comment="验证")


def action_history(q: Supervision) -> dict[str, str]:
    """Six actions raised on 2026-10-08 by two departments, in every stage."""

    def plan(department: str, due_on: str, responsible: str) -> str:
        return q.planned(
            due_on, responsible, department=department, source="internal_audit", content="内审"
        )

    a = {"a1": plan("技术部", "2026-10-10", "张工")}  # overdue from 10-11 00:00
    a["a2"] = plan("技术部", "2026-10-20", "李工")
    a["a3"] = plan("技术部", "2026-10-09", "王工")
    q.do("action_implement", action=a["a3"], description="已实施")  # implemented: not overdue
    a["a4"] = plan("质量部", "2026-10-09", "周质检")
    verified(q, a["a4"], effective=True)
    q.do("action_close", action=a["a4"])
    a["a5"] = plan("质量部", "2026-10-15", "吴工")
    verified(q, a["a5"], effective=False)  # waiting for a new plan
    a["a6"] = plan("质量部", "2026-10-09", "郑工")
    verified(q, a["a6"], effective=False)
    replan = {"corrective": "新纠正", "preventive": "新预防", "responsible": "郑工"}
    q.do("action_plan", action=a["a6"], due_on="2026-10-25", **replan)
    verified(q, a["a6"], effective=True)
    return a


def test_corrective_actions_per_department_and_the_open_list(q: Supervision) -> None:
    a = action_history(q)
    q.desk.clock.set(local("2026-10-12T09:00"))
    report = actions.actions_report(q.ledger, actions.ActionQuery())
    data = actions.report_json(report)
    tech, quality = data["departments"]
    assert tech == {
        "department": "技术部",
        "raised": 3,
        "open": 3,
        "overdue": 1,
        "effective": 0,
        "not_effective": 0,
        "reworked": 0,
        "closed": 0,
        "effective_pct": None,
    }
    assert quality == {
        "department": "质量部",
        "raised": 3,
        "open": 2,
        "overdue": 0,
        "effective": 2,  # a4, and a6 after its second plan
        "not_effective": 1,  # a5: the latest verdict
        "reworked": 2,  # a5 and a6 were found not effective once
        "closed": 1,
        "effective_pct": 66.7,
    }
    assert data["total"]["raised"] == 6 and data["total"]["overdue"] == 1
    listed = [(x["action"], x["overdue"], x["days_overdue"]) for x in data["open_actions"]]
    assert listed == [
        (a["a1"], True, 1),  # overdue first
        (a["a3"], False, None),  # then by due date
        (a["a5"], False, None),
        (a["a2"], False, None),
        (a["a6"], False, None),
    ]
    first = data["open_actions"][0]
    assert (first["responsible"], first["due_on"], first["stage"]) == (
        "张工",
        "2026-10-10",
        "planned",
    )

    # Before the due date ends nothing is overdue; the period and department filter.
    q.desk.clock.set(local("2026-10-10T23:59"))
    early = actions.report_json(actions.actions_report(q.ledger, actions.ActionQuery()))
    assert early["total"]["overdue"] == 0
    only = actions.ActionQuery(Period(date(2026, 10, 8), date(2026, 10, 8)), "质量部")
    assert [
        d["department"]
        for d in actions.report_json(actions.actions_report(q.ledger, only))["departments"]
    ] == ["质量部"]
    later = actions.ActionQuery(Period(date(2026, 10, 9)))
    assert actions.report_json(actions.actions_report(q.ledger, later))["total"]["raised"] == 0


# --------------------------------------------------------------------------- complaints


def complaint(
    q: Supervision,
    category: str,
    about: str,
    reference: str,
    contract: str | None = None,
    **at: str,
) -> str:
    """A complaint received (its contract: the ticket's when about one)."""
    fields = {"contract": contract} if contract else {}
    return q.number(
        "complaint_receive",
        about=about,
        reference=reference,
        category=category,
        content="投诉内容",
        **fields,
        **at,
    )


def complaint_history(q: Supervision) -> dict[str, str]:
    """Three October complaints (王工's ticket, 刘工, a product) and one in September."""
    ticket = q.served(engineer="王工")  # seed-002
    c = {"sep": complaint(q, "other", "product", "复印机", "seed-004", at="2026-09-20T10:00")}
    c["c1"] = complaint(q, "quality", "ticket", ticket.number)
    q.do("complaint_analyse", complaint=c["c1"], cause="电源老化", department="技术部", ours=True)
    q.do("complaint_resolve", complaint=c["c1"], handling="更换", result="客户满意")
    q.do("complaint_close", complaint=c["c1"])
    q.desk.later(DAY)
    c["c2"] = complaint(q, "non_quality", "engineer", "刘工", "seed-002")
    q.do("complaint_analyse", complaint=c["c2"], cause="误会", department="服务部", ours=False)
    q.desk.later(DAY)
    c["c3"] = complaint(q, "quality", "product", "打印机", "seed-004")
    return c


def test_complaints_monthly_review(q: Supervision) -> None:
    c = complaint_history(q)
    report = complaints.complaints_report(q.ledger, complaints.ComplaintQuery("2026-10"))
    data = complaints.report_json(report)

    def counts(dimension: str) -> list[tuple[Any, ...]]:
        return [
            (g["key"], g["count"], g["share_pct"], g["ours"], g["not_ours"], g["open"])
            for g in data[f"by_{dimension}"]
        ]

    assert counts("category") == [
        ("quality", 2, 66.7, 1, 0, 1),
        ("non_quality", 1, 33.3, 0, 1, 1),
        ("other", 0, 0.0, 0, 0, 0),  # always shown
    ]
    assert counts("department") == [
        ("技术部", 1, 33.3, 1, 0, 0),
        ("服务部", 1, 33.3, 0, 1, 1),
        (None, 1, 33.3, 0, 0, 1),  # not analysed yet
    ]
    assert counts("engineer") == [
        ("刘工", 1, 33.3, 0, 1, 1),
        ("王工", 1, 33.3, 1, 0, 0),
        (None, 1, 33.3, 0, 0, 1),
    ]
    total = data["total"]
    assert (total["count"], total["ours"], total["not_ours"], total["not_analysed"]) == (3, 1, 1, 1)
    assert (total["open"], total["closed"]) == (2, 1)
    assert [x["complaint"] for x in data["complaints"]] == [c["c1"], c["c2"], c["c3"]]
    assert (
        data["complaints"][0]["status"] == "closed" and data["complaints"][0]["engineer"] == "王工"
    )

    september = complaints.report_json(
        complaints.complaints_report(q.ledger, complaints.ComplaintQuery("2026-09"))
    )
    assert [x["complaint"] for x in september["complaints"]] == [c["sep"]]
    assert [(g["key"], g["count"]) for g in september["by_category"]][-1] == ("other", 1)


# --------------------------------------------------------------------------- assessment


def assessment_history(q: Supervision) -> dict[str, Any]:
    """Seed 003, 2026Q4: 王工's ticket climbs the ladder twice before he is dispatched and
    gets an inspection notice a week later; 刘工's is served on time, then its audit fails
    (reopened) and it draws a complaint; a product complaint has no engineer; 刘工's ticket
    reported and closed on 2026-09-30 belongs to Q3."""
    desk, ledger = q.desk, q.ledger
    q3 = desk.report(at="2026-09-30T23:00", **SEED_003)
    desk.do("respond", ticket=q3.number, at="2026-09-30T23:02")
    desk.do("dispatch", ticket=q3.number, engineer="刘工", at="2026-09-30T23:02")
    desk.do("resolve", ticket=q3.number, summary="远程", mode="remote", at="2026-09-30T23:30")
    desk.do("sign", ticket=q3.number, signer="档案馆", at="2026-09-30T23:35")
    desk.do("close", ticket=q3.number, at="2026-09-30T23:40")
    t1 = desk.report(**SEED_003)
    desk.clock.set(START + timedelta(minutes=1))
    t2 = desk.report(**SEED_003)
    desk.later(2)
    desk.do("respond", ticket=t2.number)
    desk.do("dispatch", ticket=t2.number, engineer="刘工")
    for minutes in (10, 15):  # the ladder: department manager, project general manager
        desk.clock.set(START + timedelta(minutes=minutes))
        assert ledger.sweep.run().problems == []
    ledger.projections.catch_up(["supervision"])  # stored before anyone is dispatched
    desk.later(25)
    desk.do("arrive", ticket=t2.number, actor="刘工", role="engineer")
    desk.later(30)
    desk.do("resolve", ticket=t2.number, summary="更换", actor="刘工", role="engineer")
    desk.do("sign", ticket=t2.number, signer="档案馆", actor="刘工", role="engineer")
    desk.do("close", ticket=t2.number)
    desk.later(1)
    desk.do("dispatch", ticket=t1.number, engineer="王工")
    desk.clock.set(START + timedelta(days=7, minutes=1))
    swept = ledger.sweep.run()
    # t1 is unsolved past the 2nd working day (Saturday 10-10, a make-up day): seed 003's
    # temporary measure, due 10-11 01:00, is noted overdue with the week's inspection notice.
    assert [(d.number, d.action.kind.value) for d in swept.done] == [
        (t1.number, "metric_overdue"),
        (t1.number, "inspection_notice"),
    ]
    desk.later(10)
    visit = scored(q, (80, 80, 80, 80), ticket=t2.number)
    q.do("visit_audit", visit=visit, verdict="fail", reason="服务单无客户签字")
    desk.later(5)
    about_t2 = complaint(q, "non_quality", "ticket", t2.number)
    product = complaint(q, "quality", "product", "扫描仪", "seed-003")
    return {"t1": t1, "t2": t2, "visit": visit, "about_t2": about_t2, "product": product}


def test_quarterly_assessment_per_engineer(q: Supervision) -> None:
    h = assessment_history(q)
    report = assessment.assessment_report(q.ledger, assessment.AssessmentQuery("2026Q4"))
    data = assessment.report_json(report)
    rows = {row["engineer"]: row for row in data["engineers"]}
    assert list(rows) == ["刘工", "王工", None]
    sla_by_engineer = sla.report_json(
        sla.sla_report(
            q.ledger, sla.ReportQuery(date(2026, 10, 1), date(2026, 12, 31), by="engineer")
        )
    )
    met = {g["key"]: (g["tickets"], g["targets"], g["met_pct"]) for g in sla_by_engineer["groups"]}
    assert rows["王工"] | {"met_pct": None, "targets": None} == {
        "engineer": "王工",
        "tickets": 1,
        "targets": None,
        "met_pct": None,
        "escalations": 2,  # before he was dispatched: credited to him
        "inspection_notices": 1,
        "rectification_notices": 0,
        "reopened": 0,
        "complaints": 0,
        "failed_audits": 0,
        "visits_scored": 0,
        "satisfaction": None,
    }
    assert rows["刘工"] | {"met_pct": None, "targets": None} == {
        "engineer": "刘工",
        "tickets": 1,  # t2; the Q3 ticket is not Q4's
        "targets": None,
        "met_pct": None,
        "escalations": 0,
        "inspection_notices": 0,
        "rectification_notices": 0,
        "reopened": 1,
        "complaints": 1,
        "failed_audits": 1,
        "visits_scored": 1,
        "satisfaction": 80.0,
    }
    for engineer in ("王工", "刘工"):  # the SLA report's very numbers
        assert (
            rows[engineer]["tickets"],
            rows[engineer]["targets"],
            rows[engineer]["met_pct"],
        ) == met[engineer]
    assert rows[None]["complaints"] == 1 and rows[None]["tickets"] == 0
    total = data["total"]
    assert (total["tickets"], total["escalations"], total["inspection_notices"]) == (2, 2, 1)
    assert (total["complaints"], total["failed_audits"], total["satisfaction"]) == (2, 1, 80.0)
    assert total["met_pct"] == sla_by_engineer["total"]["met_pct"]
    facts = [(f["engineer"], f["kind"], f["record"]) for f in data["facts"]]
    assert facts == [
        ("刘工", "reopened", h["t2"].number),  # at the same time as the failed audit
        ("刘工", "failed_audits", h["visit"]),
        ("刘工", "complaints", h["about_t2"]),
        ("王工", "escalations", h["t1"].number),
        ("王工", "escalations", h["t1"].number),
        ("王工", "inspection_notices", h["t1"].number),
        (None, "complaints", h["product"]),
    ]
    reopened = next(f for f in data["facts"] if f["kind"] == "reopened")
    assert reopened["detail"] == h["visit"]  # the cause

    q3 = assessment.report_json(
        assessment.assessment_report(q.ledger, assessment.AssessmentQuery("2026Q3"))
    )
    assert [(r["engineer"], r["tickets"], r["escalations"]) for r in q3["engineers"]] == [
        ("刘工", 1, 0)
    ]


def test_supervision_projection_rebuilds_identically(q: Supervision) -> None:
    h = assessment_history(q)
    ledger = q.ledger

    def rows() -> list[tuple[Any, ...]]:
        ledger.projections.catch_up(["supervision"])
        with ledger.engine.connect() as conn:
            found = conn.execute(select(supervision_events).order_by(supervision_events.c.position))
            return [tuple(row) for row in found]

    live = rows()
    t1, t2 = h["t1"].number, h["t2"].number
    # (number, kind, engineer, detail): the escalations were stored before 王工's dispatch
    assert [(r[2], r[4], r[6], r[7]) for r in live] == [
        (t1, "escalated", "王工", "department_manager"),
        (t1, "escalated", "王工", "project_general_manager"),
        (t1, "inspection_notice", "王工", "7 days"),
        (t2, "reopened", "刘工", h["visit"]),
    ]
    assert ledger.projections.rebuild(["supervision"]) > 0
    assert rows() == live
    assert ledger.projections.rebuild(["supervision"], batch_size=1) > 0
    assert rows() == live


# --------------------------------------------------------------------------- files and words


def test_files_and_chinese_labels(q: Supervision, tmp_path: Path) -> None:
    satisfaction_history(q)
    action_history(q)
    complaint_history(q)
    ledger = q.ledger
    reports = {
        "satisfaction": (
            satisfaction,
            satisfaction.satisfaction_report(
                ledger, satisfaction.SatisfactionQuery(month_period("2026-10"))
            ),
        ),
        "actions": (actions, actions.actions_report(ledger, actions.ActionQuery())),
        "complaints": (
            complaints,
            complaints.complaints_report(ledger, complaints.ComplaintQuery("2026-10")),
        ),
        "assessment": (
            assessment,
            assessment.assessment_report(ledger, assessment.AssessmentQuery("2026Q4")),
        ),
    }
    for name, (module, report) in reports.items():
        for lang in ("en", "zh"):
            sheets = module.sheets(report, lang)
            written = write_csv(sheets, tmp_path / f"{name}.{lang}.csv", SHANGHAI)
            assert len(written) == 2
            with written[0].open(encoding="utf-8-sig") as f:
                table = list(csv.reader(f))
            assert table[0] == sheets[0].headers and table[1:] == texts(sheets[0])
            write_xlsx(sheets, tmp_path / f"{name}.{lang}.xlsx", SHANGHAI)
            book = load_workbook(tmp_path / f"{name}.{lang}.xlsx")
            assert book.sheetnames == [s.title for s in sheets]
            first = book[sheets[0].title]
            assert [c.value for c in first[1]] == sheets[0].headers
            assert first.max_row == len(sheets[0].rows) + 1

    def headers(name: str, lang: str) -> list[str]:
        module, report = reports[name]
        return list(module.sheets(report, lang)[0].headers)

    assert headers("satisfaction", "zh")[:8] == [
        "客户",
        "评分回访数",
        "工程质量A",
        "工程进度B",
        "服务C",
        "履约能力D",
        "总分",
        "满意程度",
    ]
    assert headers("satisfaction", "zh")[8:12] == ["很不满意", "不太满意", "较满意", "很满意"]
    assert headers("actions", "zh")[:4] == ["责任部门", "提出数", "未关闭", "逾期"]
    assert headers("complaints", "zh")[:4] == ["统计维度", "项目", "投诉数", "占比(%)"]
    assert headers("assessment", "zh")[:6] == [
        "工程师",
        "工单数",
        "考核项数",
        "达标率(%)",
        "升级",
        "检查单",
    ]
    zh_rows = texts(complaints.sheets(reports["complaints"][1], "zh")[0])
    assert zh_rows[0] == ["类别", "质量异常", "2", "66.7", "1", "0", "1", "1", "1"]
    assert zh_rows[-1][0] == "合计"
    low = texts(satisfaction.sheets(reports["satisfaction"][1], "zh")[1])
    assert [row[-1] for row in low] == ["很不满意", "不太满意"]


# --------------------------------------------------------------------------- command line


@pytest.fixture
def cli(db_url: str) -> Iterator[Cli]:
    """A CLI on a ledger holding every history above (recorded through the services)."""
    desk = open_desk(db_url)
    q = Supervision(desk)
    satisfaction_history(q)
    action_history(q)
    complaint_history(q)
    desk.ledger.close()
    yield Cli(db_url)


def test_cli_quality_reports(cli: Cli, tmp_path: Path) -> None:
    data = cli.json("report", "satisfaction", "--from", "2026-10-01", "--to", "2026-10-31")
    assert data["total"]["visits"] == 4 and data["total"]["trend"] == -14.37
    text = cli.run("report", "satisfaction", "--by", "quarter", "--lang", "zh").stdout
    assert "顾客满意度" in text and "2026Q4" in text and "低分回访 (2)" in text

    data = cli.json("report", "corrective-actions", "--department", "技术部")
    assert data["total"]["raised"] == 3 and data["total"]["overdue"] == 0  # LEDGER_NOW: 10-08
    text = cli.run("report", "corrective-actions", "--lang", "zh").stdout
    assert "纠正预防措施" in text and "未关闭措施 (5)" in text

    data = cli.json("report", "complaints", "--month", "2026-10")
    assert data["total"]["count"] == 3
    out = tmp_path / "complaints.csv"
    result = cli.run(
        "report",
        "complaints",
        "--month",
        "2026-10",
        "--csv",
        str(out),
        "--xlsx",
        str(tmp_path / "c.xlsx"),
    )
    assert f"wrote {out}" in result.stderr and (tmp_path / "complaints.complaints.csv").exists()
    assert load_workbook(tmp_path / "c.xlsx").sheetnames == ["Summary", "Complaints"]
    assert (
        "本月无投诉" in cli.run("report", "complaints", "--month", "2026-08", "--lang", "zh").stdout
    )

    data = cli.json("report", "assessment", "--quarter", "2026q4")
    assert data["quarter"] == "2026Q4" and data["from"] == "2026-10-01"
    assert {row["engineer"] for row in data["engineers"]} == {"王工", "刘工", None}
    text = cli.run("report", "assessment", "--quarter", "2026Q4", "--lang", "zh").stdout
    assert "季度考核" in text and "整改通知单" in text


def test_cli_quality_reports_bad_input(db_url: str) -> None:
    open_desk(db_url).ledger.close()
    cli = Cli(db_url)
    for args, message in [
        (("assessment", "--quarter", "2026Q5"), "--quarter"),
        (("complaints", "--month", "2026-13"), "--month"),
        (("satisfaction", "--from", "2026-10-09", "--to", "2026-10-08"), "after"),
        (("corrective-actions", "--from", "2026-10-09", "--to", "2026-10-08"), "after"),
        (("satisfaction", "--by", "region"), "region"),
    ]:
        result = cli.run("report", *args, ok=False)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
