"""The quality service (return visits, corrective actions, complaints) on real SQLite files
and a real PostgreSQL server: numbers, links both ways in one save, failed audits
reopening tickets, refusals that record nothing, import, read models and visits due."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.commands.application import ConcurrentChange, TicketNotFound
from ledger.commands.contracts import parse_contract, read_toml
from ledger.commands.importer import import_commands
from ledger.commands.models import CommandError
from ledger.commands.quality import Outcome, RecordNotFound
from ledger.commands.registry import parse_quality_command
from ledger.domain.errors import RuleViolation
from ledger.domain.numbering import NumberIssued, Series
from ledger.domain.roles import Forbidden
from ledger.domain.ticket import Reopened, Ticket
from ledger.domain.values import TicketStatus, VisitPurpose
from ledger.domain.visit_schedule import DueStatus, contracts_visits_due
from ledger.projections.complaints import ComplaintProjection, list_complaints
from ledger.projections.corrective_actions import CorrectiveActionProjection, list_actions
from ledger.projections.visits import VisitProjection, last_conducted, list_visits
from tests.support import SEED_CONTRACTS, SHANGHAI, Desk, open_desk


class Supervision:
    """The quality department at a service desk: quality commands as dicts."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.ledger = desk.ledger

    def do(self, command: str, **fields: Any) -> Outcome:
        data = {"actor": "周质检", "role": "quality", "command": command, **fields}
        return self.ledger.quality.execute(parse_quality_command(data, SHANGHAI), retries=1)

    def number(self, command: str, **fields: Any) -> str:
        return self.do(command, **fields).record.number

    def served(self, *, close: bool = True, engineer: str = "王工", **report: Any) -> Ticket:
        """A ticket reported, dispatched, fixed on site, signed and (``close``) closed."""
        desk = self.desk
        t = desk.report(**report)
        desk.do("dispatch", ticket=t.number, engineer=engineer)
        desk.later(20)
        desk.do("arrive", ticket=t.number, actor=engineer, role="engineer")
        desk.later(40)
        desk.do("resolve", ticket=t.number, summary="更换电源", actor=engineer, role="engineer")
        desk.do("sign", ticket=t.number, signer="张三", actor=engineer, role="engineer")
        if close:
            desk.do("close", ticket=t.number)
        desk.later(30)
        return desk.ledger.tickets.get(t.number)

    def conducted(self, **schedule: Any) -> str:
        """A visit scheduled and conducted."""
        number = self.number("visit_schedule", **{"visitor": "周质检", **schedule})
        self.desk.later(10)
        self.do("visit_conduct", visit=number, content="电话回访")
        return number

    def score(self, visit: str, a: int, b: int, c: int, d: int) -> None:
        self.do(
            "visit_score",
            visit=visit,
            engineering_quality=a,
            progress=b,
            service=c,
            performance_capability=d,
        )

    def planned(self, due_on: str, responsible: str, **raised: Any) -> str:
        """An action raised, analysed and planned."""
        number = self.number("action_raise", **{"department": "技术部", **raised})
        self.do("action_analyse", action=number, cause="原因")
        self.do(
            "action_plan",
            action=number,
            corrective="纠正",
            preventive="预防",
            responsible=responsible,
            due_on=due_on,
        )
        return number

    def rows(self, query: Any, **filters: Any) -> list[dict[str, Any]]:
        self.ledger.projections.catch_up()
        with self.ledger.engine.connect() as conn:
            rows: list[dict[str, Any]] = query(conn, **filters)
        return rows

    def numbers(self, query: Any, **filters: Any) -> list[str]:
        return [row["number"] for row in self.rows(query, **filters)]


@pytest.fixture
def q(db_url: str) -> Iterator[Supervision]:
    desk = open_desk(db_url)
    yield Supervision(desk)
    desk.ledger.close()


def test_numbers_are_issued_per_series_and_year_with_the_first_event(q: Supervision) -> None:
    first = q.do("visit_schedule", contract="seed-000", visitor="刘工", purpose="weekly_contact")
    assert first.record.number == "V-2026-000001"
    assert first.record.customer == "某市自然资源和规划局"  # the contract's
    assert [type(e).__name__ for e in first.events] == ["NumberIssued", "VisitScheduled"]
    assert q.number("visit_schedule", contract="seed-000", visitor="刘工") == "V-2026-000002"
    # The year is that of the visit in the contract's zone.
    late = q.number("visit_schedule", contract="seed-000", visitor="刘工", at="2025-12-31T23:30")
    assert late == "V-2025-000001"
    raised = q.number(
        "action_raise", content="内审发现", source="internal_audit", department="质量部"
    )
    assert raised == "CA-2026-0001"
    complaint = q.number(
        "complaint_receive",
        contract="seed-004",
        about="product",
        reference="打印机",
        category="quality",
        content="卡纸",
    )
    assert complaint == "C-2026-0001"
    issued = q.ledger.app.events.get(Series.VISIT.sequence_id(2026))
    assert [e.originator_version for e in issued] == [1, 2]
    assert all(isinstance(e, NumberIssued) and e.series is Series.VISIT for e in issued)
    assert q.ledger.quality.get("v-2026-000002").number == "V-2026-000002"


def test_raising_an_action_links_both_ways_in_one_save(q: Supervision) -> None:
    ticket = q.served()
    visit = q.conducted(ticket=ticket.number)
    complaint = q.number(
        "complaint_receive",
        about="ticket",
        reference=ticket.number.lower(),
        category="quality",
        content="维修后仍有异响",
    )
    raised = q.do(
        "action_raise",
        content="维修质量问题",
        source="return_visit",
        department="技术部",
        links=[visit, complaint.lower(), ticket.number],
    )
    action = raised.record.number
    assert [type(e).__name__ for e in raised.events] == [
        "NumberIssued",
        "QualityIssueRaised",
        "CorrectiveActionLinked",
        "CorrectiveActionLinked",
    ]
    assert len({e.timestamp for e in raised.events}) == 1
    assert raised.notes == (f"linked to return visit {visit}", f"linked to complaint {complaint}")
    assert [link.number for link in q.ledger.quality.action(action).links] == [
        visit,
        complaint,
        ticket.number,
    ]
    assert [a.number for a in q.ledger.quality.visit(visit).corrective_actions] == [action]
    assert [a.number for a in q.ledger.quality.complaint(complaint).corrective_actions] == [action]
    # The complaint's customer and contract came from the ticket.
    assert q.ledger.quality.complaint(complaint).contract_id == ticket.contract_id


def test_a_refused_raise_records_neither_side_nor_a_number(q: Supervision) -> None:
    scheduled = q.number("visit_schedule", contract="seed-000", visitor="刘工")
    complaint = q.number(
        "complaint_receive",
        contract="seed-004",
        customer="某市财政局",
        about="engineer",
        reference="赵工",
        category="non_quality",
        content="态度差",
    )
    before = q.ledger.event_count()
    raise_ = {"content": "问题", "department": "技术部"}
    with pytest.raises(RuleViolation, match=f"return visit {scheduled} has not been conducted"):
        q.do("action_raise", source="complaint", links=[complaint, scheduled], **raise_)
    with pytest.raises(RecordNotFound, match="no complaint C-2026-0099"):
        q.do("action_raise", source="complaint", links=["C-2026-0099"], **raise_)
    with pytest.raises(TicketNotFound, match="no ticket T-2026-000404"):
        q.do("action_raise", source="ticket", links=["T-2026-000404"], **raise_)
    with pytest.raises(RuleViolation, match="must link to the complaint it came from"):
        q.do("action_raise", source="complaint", links=[scheduled], **raise_)
    assert q.ledger.event_count() == before
    assert q.ledger.quality.complaint(complaint).corrective_actions == ()
    # No number was used up: the next action is the first.
    assert q.number("action_raise", source="complaint", links=[complaint], **raise_) == (
        "CA-2026-0001"
    )


def test_a_failed_audit_reopens_a_closed_ticket_with_the_visit_as_cause(q: Supervision) -> None:
    ticket = q.served()
    visit = q.conducted(ticket=ticket.number)
    assert q.ledger.quality.visit(visit).ticket_number == ticket.number
    failed = q.do("visit_audit", visit=visit, verdict="fail", reason="服务单无客户签字")
    assert [type(e).__name__ for e in failed.events] == ["AuditFailed", "Reopened"]
    assert failed.notes == (f"ticket {ticket.number} reopened (cause: return visit {visit})",)
    reopened = q.ledger.tickets.get(ticket.number)
    assert reopened.status is TicketStatus.REOPENED
    last = q.ledger.tickets.history(ticket.number)[-1]
    assert isinstance(last, Reopened)
    assert (last.cause, last.reason, last.role.value) == (visit, "服务单无客户签字", "quality")
    audit = q.ledger.quality.visit(visit).audit
    assert audit is not None and not audit.passed
    assert audit.audited_at == last.occurred_at


def test_a_failed_audit_of_an_open_ticket_records_only_the_failure(q: Supervision) -> None:
    ticket = q.desk.report()
    q.desk.do("dispatch", ticket=ticket.number, engineer="王工")
    visit = q.conducted(ticket=ticket.number)
    version = q.ledger.tickets.get(ticket.number).version
    failed = q.do("visit_audit", visit=visit, verdict="fail", reason="服务态度差")
    assert [type(e).__name__ for e in failed.events] == ["AuditFailed"]
    assert failed.notes == (
        f"ticket {ticket.number} is still open (dispatched): not reopened; "
        "only the audit failure is recorded",
    )
    assert q.ledger.tickets.get(ticket.number).version == version
    # A pass never touches the ticket.
    other = q.served()
    passed = q.do("visit_audit", visit=q.conducted(ticket=other.number), verdict="pass")
    assert [type(e).__name__ for e in passed.events] == ["AuditPassed"]
    assert q.ledger.tickets.get(other.number).status is TicketStatus.CLOSED


def test_role_and_order_refusals_append_nothing(q: Supervision) -> None:
    ticket = q.served()
    visit = q.conducted(ticket=ticket.number)
    action = q.number("action_raise", content="x", source="internal_audit", department="技术部")
    before = q.ledger.event_count()
    with pytest.raises(Forbidden, match=r"^visit_audit needs role quality; 周质检 is dispatcher$"):
        q.do("visit_audit", visit=visit, verdict="fail", reason="x", role="dispatcher")
    with pytest.raises(Forbidden, match="needs role chief_engineer_office; 周质检 is quality"):
        q.do("visit_chief_review", visit=visit, opinion="同意")
    with pytest.raises(Forbidden, match="action_verify needs role chief_engineer_office or qual"):
        q.do("action_verify", action=action, effective=True, comment="有效", role="engineer")
    with pytest.raises(RuleViolation, match="is raised: cannot plan the action"):
        q.do(
            "action_plan",
            action=action,
            corrective="a",
            preventive="b",
            responsible="c",
            due_on="2026-10-20",
        )
    with pytest.raises(CommandError, match="reason: a failed audit needs one"):
        q.do("visit_audit", visit=visit, verdict="fail")
    with pytest.raises(RecordNotFound, match="is not a return visit number"):
        q.do("visit_conduct", visit=ticket.number, content="x")
    assert q.ledger.event_count() == before
    assert q.ledger.tickets.get(ticket.number).status is TicketStatus.CLOSED


def test_a_concurrent_change_to_the_ticket_refuses_the_whole_audit(db_url: str) -> None:
    a = Supervision(open_desk(db_url))
    b = open_desk(db_url, create=False)
    try:
        ticket = a.served(close=False)
        visit = a.conducted(ticket=ticket.number)
        command = parse_quality_command(
            {
                "command": "visit_audit",
                "visit": visit,
                "verdict": "fail",
                "reason": "不合格",
                "actor": "周质检",
                "role": "quality",
            },
            SHANGHAI,
        )
        plan = a.ledger.quality.plan(command)
        b.clock.set(a.desk.clock.now())
        b.do("close", ticket=ticket.number)  # sneaks in between read and write
        before = a.ledger.event_count()
        message = (
            f"ticket {ticket.number} changed concurrently while recording return visit {visit}"
        )
        with pytest.raises(ConcurrentChange, match=message):
            a.ledger.quality.commit(plan)
        assert a.ledger.event_count() == before
        assert a.ledger.quality.visit(visit).audit is None
        # Decided afresh it is still valid: execute() retries once.
        outcome = a.ledger.quality.execute(command, retries=1)
        assert [type(e).__name__ for e in outcome.events] == ["AuditFailed", "Reopened"]
        assert a.ledger.tickets.get(ticket.number).version == 7  # after b's close
    finally:
        a.ledger.close()
        b.ledger.close()


def test_import_applies_quality_commands_and_their_refs(q: Supervision, tmp_path: Path) -> None:
    lines = [
        {
            "command": "report",
            "ref": "t",
            "contract": "seed-003",
            "contact_name": "王芳",
            "contact_phone": "0374-6099651",
            "site": "档案室",
            "device": "扫描仪",
            "description": "卡纸",
            "at": "2026-10-08T08:00",
        },
        {"command": "dispatch", "ticket": "t", "engineer": "赵工", "at": "2026-10-08T08:05"},
        {
            "command": "resolve",
            "ticket": "t",
            "summary": "清理",
            "mode": "remote",
            "at": "2026-10-08T08:30",
        },
        {
            "command": "visit_schedule",
            "ref": "v",
            "ticket": "t",
            "visitor": "周质检",
            "at": "2026-10-08T08:40",
        },
        {"command": "visit_conduct", "visit": "v", "content": "电话回访", "at": "2026-10-08T08:45"},
        {
            "command": "visit_audit",
            "visit": "v",
            "verdict": "fail",
            "reason": "未签字",
            "role": "quality",
            "at": "2026-10-08T08:50",
        },
        {
            "command": "complaint_receive",
            "ref": "c",
            "about": "ticket",
            "reference": "t",
            "category": "quality",
            "content": "慢",
        },
        {
            "command": "action_raise",
            "ref": "a",
            "content": "返修",
            "source": "complaint",
            "department": "技术部",
            "links": ["c", "v"],
            "role": "quality",
        },
        {"command": "action_analyse", "action": "a", "cause": "备件不足", "role": "quality"},
        {"command": "visit_schedule", "ref": "x", "contract": "nosuch", "visitor": "周质检"},
        {"command": "visit_conduct", "visit": "x", "content": "?"},
        {
            "command": "visit_score",
            "visit": "v",
            "engineering_quality": 101,
            "progress": 80,
            "service": 80,
            "performance_capability": 80,
        },
    ]
    path = tmp_path / "quality.jsonl"
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n")
    report = import_commands(
        q.ledger.tickets,
        q.ledger.quality,
        path,
        tz=SHANGHAI,
        defaults={"actor": "导入", "role": "dispatcher"},
    )
    assert report.applied == 9
    assert [(r.line, r.reason) for r in report.rejected] == [
        (10, "no contract nosuch: load it with `ledger contract load FILE.toml`"),
        (11, "ref 'x' names no return visit: its scheduling (line 10) was rejected"),
        (12, "engineering_quality: Input should be less than or equal to 100 (got 101)"),
    ]
    assert report.as_dict()["refs"] == {
        "t": "T-2026-000001",
        "v": "V-2026-000001",
        "c": "C-2026-0001",
        "a": "CA-2026-0001",
    }
    assert report.as_dict()["tickets"] == {"t": "T-2026-000001"}
    assert q.ledger.tickets.get("T-2026-000001").status is TicketStatus.REOPENED
    assert q.ledger.quality.action("CA-2026-0001").cause == "备件不足"
    assert [a.number for a in q.ledger.quality.visit("V-2026-000001").corrective_actions] == [
        "CA-2026-0001"
    ]


def _busy_quarter(q: Supervision) -> dict[str, str]:
    """Visits, actions and complaints of several kinds; their numbers by name."""
    desk = q.desk
    n: dict[str, str] = {}
    # A visit scheduled before its ticket is dispatched is credited to the first engineer.
    early = desk.report(contract="seed-002")
    n["early"] = q.number("visit_schedule", ticket=early.number, visitor="周质检")
    desk.do("dispatch", ticket=early.number, engineer="王工")
    desk.do("dispatch", ticket=early.number, engineer="李工")
    served = q.served(engineer="赵工", contract="seed-004")
    n["audit"] = q.conducted(ticket=served.number)
    q.score(n["audit"], 40, 41, 40, 40)  # 40.25: very dissatisfied
    q.do("visit_audit", visit=n["audit"], verdict="fail", reason="不合格")
    n["complaint"] = q.number(
        "complaint_receive",
        about="ticket",
        reference=served.number,
        category="quality",
        content="修完又坏",
    )
    # The reopened ticket goes to another engineer: the audit and complaint stay with 赵工.
    desk.do("dispatch", ticket=served.number, engineer="钱工")
    n["weekly"] = q.conducted(contract="seed-000", purpose="weekly_contact", form="on-site")
    q.score(n["weekly"], 90, 85, 95, 80)
    n["cancelled"] = q.number(
        "visit_schedule", contract="seed-001", visitor="刘工", purpose="inspection_round"
    )
    q.do("visit_cancel", visit=n["cancelled"], reason="客户改期")
    n["rude"] = q.number(
        "complaint_receive",
        contract="seed-003",
        about="engineer",
        reference="孙工",
        category="non_quality",
        content="态度差",
        at="2026-09-30T16:00",
    )
    q.do("complaint_analyse", complaint=n["rude"], cause="沟通", department="服务部", ours=True)
    q.do("complaint_resolve", complaint=n["rude"], handling="道歉", result="客户接受")
    q.do("complaint_close", complaint=n["rude"])
    n["planned"] = q.planned(
        "2026-10-10", "王经理", content="返修率高", source="complaint", links=[n["complaint"]]
    )
    n["closed"] = q.planned(
        "2026-10-09", "赵经理", content="签字缺失", source="return_visit", links=[n["audit"]]
    )
    q.do("action_implement", action=n["closed"], description="已补签")
    q.do("action_result", action=n["closed"], result="全部补签")
    q.do("action_verify", action=n["closed"], effective=False, comment="仍有缺失")
    q.do(
        "action_plan",
        action=n["closed"],
        corrective="逐单检查",
        preventive="考核",
        responsible="赵经理",
        due_on="2026-10-12",
    )
    q.do("action_implement", action=n["closed"], description="检查")
    q.do("action_result", action=n["closed"], result="无缺失")
    q.do(
        "action_verify",
        action=n["closed"],
        effective=True,
        comment="有效",
        role="chief_engineer_office",
    )
    q.do("action_close", action=n["closed"])
    return n


def test_read_models_filter_and_rebuild_identically(q: Supervision) -> None:
    n = _busy_quarter(q)
    assert q.numbers(list_visits, engineer="王工") == [n["early"]]
    assert q.numbers(list_visits, engineer="赵工") == [n["audit"]]
    assert q.numbers(list_visits, audit="failed") == [n["audit"]]
    assert q.numbers(list_visits, audit="pending") == [n["early"]]
    assert q.numbers(list_visits, band="very_dissatisfied") == [n["audit"]]
    assert q.numbers(list_visits, kind="weekly_contact", contract="seed-000") == [n["weekly"]]
    assert q.numbers(list_visits, status="cancelled") == [n["cancelled"]]
    (weekly,) = q.rows(list_visits, kind="weekly_contact")
    assert (weekly["total"], weekly["band"], weekly["form"]) == (87.5, "very_satisfied", "on-site")
    (audit,) = q.rows(list_visits, audit="failed")
    assert (str(audit["total"]), audit["corrective_actions"]) == ("40.25", 1)

    assert q.numbers(list_complaints, engineer="赵工") == [n["complaint"]]
    assert q.numbers(list_complaints, engineer="孙工", state="all") == [n["rude"]]
    assert q.numbers(list_complaints, state="closed") == [n["rude"]]
    october = datetime(2026, 10, 1, tzinfo=SHANGHAI)
    assert q.numbers(list_complaints, state="all", received_from=october) == [n["complaint"]]
    assert q.numbers(list_complaints, state="all", category="non_quality") == [n["rude"]]
    (rude,) = q.rows(list_complaints, state="closed")
    assert (rude["department"], rude["ours"], rude["contract_id"]) == ("服务部", True, "seed-003")

    assert q.numbers(list_actions, state="open") == [n["planned"]]
    assert q.numbers(list_actions, state="closed") == [n["closed"]]
    (closed,) = q.rows(list_actions, state="closed")
    assert (closed["plans"], closed["not_effective"], closed["verified_effective"]) == (2, 1, True)
    assert closed["links"] == [n["audit"]]
    due_by = datetime(2026, 10, 11, tzinfo=SHANGHAI)  # the end of 2026-10-10 there
    assert q.numbers(list_actions, overdue_at=due_by - timedelta(seconds=1)) == []
    assert q.numbers(list_actions, overdue_at=due_by) == [n["planned"]]
    assert q.numbers(list_actions, responsible="王经理", state="all") == [n["planned"]]

    assert last_conducted_at(q, "seed-000", VisitPurpose.WEEKLY_CONTACT) is not None
    assert last_conducted_at(q, "seed-001", VisitPurpose.INSPECTION_ROUND) is None

    names = [VisitProjection.name, CorrectiveActionProjection.name, ComplaintProjection.name]
    queries = (list_visits, list_actions, list_complaints)
    live = [
        q.rows(query, **({} if query is list_visits else {"state": "all"})) for query in queries
    ]
    assert q.ledger.projections.rebuild(names) > 0
    rebuilt = [
        q.rows(query, **({} if query is list_visits else {"state": "all"})) for query in queries
    ]
    assert rebuilt == live


def last_conducted_at(q: Supervision, contract: str, kind: VisitPurpose) -> datetime | None:
    with q.ledger.engine.connect() as conn:
        return last_conducted(conn).get((contract, kind))


def test_visits_due_from_the_last_visit_or_the_warranty_start(q: Supervision) -> None:
    # seed-000: weekly contact, warranty 2026-03-15 for a year; seed-001: inspection every
    # 91 days from 2026-01-10; seed-004: survey and key-customer visit yearly from 2025-05-20.
    q.conducted(contract="seed-000", purpose="weekly_contact")  # at 09:10 on 2026-10-08
    q.ledger.projections.catch_up()

    def due(at: str) -> dict[tuple[str, str], tuple[str, int]]:
        when = datetime.fromisoformat(at).replace(tzinfo=SHANGHAI)
        with q.ledger.engine.connect() as conn:
            last = last_conducted(conn)
        found = contracts_visits_due(q.ledger.contracts.list(), last, when)
        assert [d.visit.due_at for d in found] == sorted(d.visit.due_at for d in found)
        return {
            (d.contract_id, d.visit.kind.value): (d.visit.status.value, d.visit.days_overdue)
            for d in found
            if d.visit.status is not DueStatus.UPCOMING or d.contract_id == "seed-000"
        }

    assert due("2026-10-14T12:00") == {
        ("seed-000", "weekly_contact"): ("upcoming", 0),
        ("seed-001", "inspection_round"): ("overdue", 186),  # due 2026-04-11
        ("seed-004", "satisfaction_survey"): ("overdue", 147),  # due 2026-05-20
        ("seed-004", "key_customer_visit"): ("overdue", 147),
    }
    assert due("2026-10-15T08:00")[("seed-000", "weekly_contact")] == ("due", 0)
    assert due("2026-10-17T08:00")[("seed-000", "weekly_contact")] == ("overdue", 2)
    # seed-000's warranty ends 2027-03-14, seed-001's 2027-01-09: no visits owed after.
    assert set(due("2027-03-15T08:00")) == {
        ("seed-004", "satisfaction_survey"),
        ("seed-004", "key_customer_visit"),
    }


def test_contract_visit_schedules_are_validated_and_optional(tmp_path: Path) -> None:
    seed = read_toml(SEED_CONTRACTS[0])
    assert parse_contract(seed).policy.visits == {VisitPurpose.WEEKLY_CONTACT: "7 days"}
    stored_before = {k: v for k, v in seed.items() if k != "visits"}
    assert parse_contract(stored_before).policy.visits == {}
    bad = {**seed, "visits": {"ticket_audit": "7 days", "inspection_round": "2h"}}
    with pytest.raises(CommandError) as error:
        parse_contract(bad)
    assert error.value.problems == [
        "visits.ticket_audit: ticket_audit visits are not periodic (periodic kinds: "
        "weekly_contact, inspection_round, satisfaction_survey, key_customer_visit)",
        'visits.inspection_round: "2h" is not an interval of days (e.g. "7 days", "91 days")',
    ]
    spelled = {**seed, "visits": {"satisfaction_survey": "365 Days"}}
    assert parse_contract(spelled).policy.visits == {VisitPurpose.SATISFACTION_SURVEY: "365 days"}
