"""Replay for auditors, on SQLite and PostgreSQL: ``ticket show --as-of / --at-version``,
back-dating flags in ``ticket history`` (the threshold and a contract's override), the
rules of ``ledger.domain.audit``, and ``ledger report audit`` on a history built by hand."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook
from sqlalchemy import text

from ledger.adapters.chinese_calendar import china_official_calendar
from ledger.bootstrap import Ledger
from ledger.cli import cli
from ledger.clock import FixedClock
from ledger.commands.contracts import parse_contract, read_toml
from ledger.commands.models import CommandError
from ledger.commands.registry import parse_quality_command
from ledger.domain.audit import (
    NORMAL_ROLES,
    SignatureProblem,
    audit_ticket,
    backdating_threshold,
    is_backdated,
    is_off_norm,
    lag_minutes,
    signature_problem,
)
from ledger.domain.contract import Contract, ContractRegistered, mutate
from ledger.domain.errors import RuleViolation
from ledger.domain.model import Stamp
from ledger.domain.sla import SlaStatus
from ledger.domain.ticket import (
    SUPERVISORS,
    TICKET_EVENT_TYPES,
    Closed,
    Contact,
    CustomerSigned,
    Ticket,
    TicketEvent,
    project_ticket,
)
from ledger.domain.ticket_rules import (
    decide_arrive,
    decide_dispatch,
    decide_report,
    decide_resolve,
    decide_respond,
    decide_resume,
    decide_sign,
    decide_suspend,
)
from ledger.domain.values import (
    Category,
    Channel,
    ResolutionMode,
    Role,
    Severity,
    SignatureKind,
)
from ledger.reports.audit import AuditQuery, audit_report, report_json
from ledger.reports.common import Period
from tests.e2e.test_cli import Cli
from tests.support import SEED_CONTRACTS, SHANGHAI, START, Desk, open_desk

SEED_002 = next(p for p in SEED_CONTRACTS if p.stem == "seed-002")
OVERRIDE = "test-audit-60"
"""A copy of seed 002 that tolerates an hour between an event and its recording."""


def at(text: str) -> datetime:
    """A local time on the day of the history (2026-10-08, Shanghai)."""
    return datetime.fromisoformat(f"2026-10-08T{text}").replace(tzinfo=SHANGHAI)


def seed_002_text() -> str:
    return SEED_002.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the contract key


def test_the_audit_table_of_a_contract() -> None:
    body = read_toml(SEED_002)
    assert parse_contract(body).policy.audit.backdating_minutes == 30  # optional: the default
    policy = parse_contract(body | {"audit": {"backdating_minutes": 45}}).policy
    assert policy.audit.backdating_minutes == 45
    assert backdating_threshold(policy) == timedelta(minutes=45)
    assert backdating_threshold(None) == timedelta(minutes=30)  # an unknown contract
    for bad in (0, -5, "30", True, 1.5):
        with pytest.raises(CommandError) as refused:
            parse_contract(body | {"audit": {"backdating_minutes": bad}})
        assert refused.value.problems[0].startswith("audit.backdating_minutes: ")
    with pytest.raises(CommandError) as refused:
        parse_contract(body | {"audit": {"backdating_hours": 1}})
    assert refused.value.problems[0].startswith("audit.backdating_hours: ")


# --------------------------------------------------------------------------- pure rules


@dataclass
class Story:
    """A seed-002 ticket built with the deciders, each fact told at one time and recorded
    at another."""

    contract: Contract
    events: list[TicketEvent]

    @property
    def ticket(self) -> Ticket:
        ticket = project_ticket(None, self.events)
        assert ticket is not None
        return ticket

    def stamp(
        self, told: str, recorded: str, actor: str = "李娜", role: Role = Role.DISPATCHER
    ) -> Stamp:
        return Stamp(actor=actor, role=role, occurred_at=at(told), recorded_at=at(recorded))

    def add(self, event: TicketEvent) -> TicketEvent:
        self.events.append(event)
        return event


def seed_002_contract() -> Contract:
    policy = parse_contract(read_toml(SEED_002)).policy
    registered = ContractRegistered(
        **Stamp(actor="admin", role=Role.ADMIN, occurred_at=START, recorded_at=START).envelope(
            uuid4(), 1
        ),
        contract_id="seed-002",
        policy=policy,
    )
    return mutate(registered, None)


def story(severity: Severity = Severity.GENERAL) -> Story:
    s = Story(seed_002_contract(), [])
    s.add(
        decide_report(
            uuid4(),
            "T-2026-000001",
            s.stamp("09:00", "09:00"),
            contract_id="seed-002",
            customer="禹州市公安局",
            contact=Contact(name="张三", phone="13800138001"),
            site="看守所",
            device="门禁控制器",
            category=Category.DEFECT,
            severity=severity,
            description="无法开机",
            channel=Channel.PHONE,
        )
    )
    return s


def test_backdated_means_more_than_the_threshold() -> None:
    s = story()
    threshold = timedelta(minutes=30)
    for recorded, lag, flagged in (
        ("09:31", 29.0, False),
        ("09:32", 30.0, False),
        ("09:33", 31.0, True),
    ):
        event = decide_respond(s.ticket, s.stamp("09:02", recorded))
        assert (lag_minutes(event), is_backdated(event, threshold)) == (lag, flagged)
    # a time told a little after the recording (within CLOCK_SKEW) is a negative lag
    ahead = decide_respond(s.ticket, s.stamp("09:03", "09:01"))
    assert lag_minutes(ahead) == -2.0 and not is_backdated(ahead, threshold)


def test_the_role_matrix_covers_every_ticket_event() -> None:
    assert set(NORMAL_ROLES) == set(TICKET_EVENT_TYPES)
    s = story()
    s.add(decide_respond(s.ticket, s.stamp("09:02", "09:02")))
    s.add(decide_dispatch(s.ticket, s.stamp("09:03", "09:03"), "王工"))
    s.add(decide_arrive(s.ticket, s.stamp("09:20", "09:20", "王工", Role.ENGINEER)))
    by_engineer = decide_resolve(
        s.ticket, s.stamp("09:50", "09:50", "王工", Role.ENGINEER), "修复", ResolutionMode.ON_SITE
    )
    by_dispatcher = decide_resolve(
        s.ticket, s.stamp("09:50", "09:50"), "修复", ResolutionMode.ON_SITE
    )
    assert not is_off_norm(by_engineer) and is_off_norm(by_dispatcher)
    assert not is_off_norm(s.events[0])  # the hotline reports
    arrival_by_dispatcher = decide_arrive(
        s.ticket.model_copy(update={"on_site": False}), s.stamp("09:20", "09:20")
    )
    assert is_off_norm(arrival_by_dispatcher)
    notices = [t for t in TICKET_EVENT_TYPES if t.__name__.endswith(("Issued", "Flagged"))]
    assert notices and all(NORMAL_ROLES[t] == frozenset(SUPERVISORS) for t in notices)


@pytest.mark.parametrize(("actor", "role"), [("王工", Role.ENGINEER), ("李娜", Role.DISPATCHER)])
def test_engineer_steps_recorded_by_the_desk_are_listed(actor: str, role: Role) -> None:
    """Only the dispatched engineer records their own steps (a colleague is refused,
    test_ticket_rules.py); the desk may record what the engineer phoned in, and the audit
    lists each such arrival and fix."""
    s = story()
    s.add(decide_dispatch(s.ticket, s.stamp("09:03", "09:03"), "王工"))
    with pytest.raises(RuleViolation, match="dispatched to 王工: engineer 李工 may not"):
        decide_arrive(s.ticket, s.stamp("09:20", "09:20", "李工", Role.ENGINEER))
    arrived = s.add(decide_arrive(s.ticket, s.stamp("09:20", "09:20", actor, role)))
    resolved = s.add(
        decide_resolve(
            s.ticket, s.stamp("09:50", "09:50", actor, role), "修复", ResolutionMode.ON_SITE
        )
    )
    found = audit_ticket(s.events, s.contract, china_official_calendar(), at("12:00"))
    assert found.off_norm == (() if role is Role.ENGINEER else (arrived, resolved))


def signed_story(signer: str, actor: str, role: Role, kind: SignatureKind) -> Story:
    s = story()
    s.add(decide_respond(s.ticket, s.stamp("09:02", "09:02")))
    s.add(decide_dispatch(s.ticket, s.stamp("09:03", "09:03"), "王工"))
    s.add(decide_arrive(s.ticket, s.stamp("09:20", "09:20", "王工", Role.ENGINEER)))
    s.add(
        decide_resolve(
            s.ticket,
            s.stamp("09:50", "09:50", "王工", Role.ENGINEER),
            "修复",
            ResolutionMode.ON_SITE,
        )
    )
    s.add(decide_sign(s.ticket, s.stamp("10:00", "10:00", actor, role), signer, kind))
    return s


@pytest.mark.parametrize(
    ("signer", "actor", "role", "kind", "problem"),
    [
        ("张三", "王工", Role.ENGINEER, SignatureKind.CUSTOMER, None),
        ("张三", "张三", Role.CUSTOMER, SignatureKind.CUSTOMER, None),
        ("张三", "李娜", Role.DISPATCHER, SignatureKind.FAX_COPY, None),
        ("周经理", "周经理", Role.DEPARTMENT_MANAGER, SignatureKind.MANAGER_APPROVED, None),
        (" 王工 ", "李娜", Role.DISPATCHER, SignatureKind.CUSTOMER, "signed_by_engineer"),
        ("李娜", "李娜", Role.DISPATCHER, SignatureKind.CUSTOMER, "signed_by_recorder"),
        ("李娜", "李娜", Role.DISPATCHER, SignatureKind.MANAGER_APPROVED, "signed_by_recorder"),
    ],
)
def test_what_makes_a_signature_invalid(
    signer: str, actor: str, role: Role, kind: SignatureKind, problem: str | None
) -> None:
    s = signed_story(signer, actor, role, kind)
    signed = s.events[-1]
    assert isinstance(signed, CustomerSigned)
    found = signature_problem(s.ticket, signed)
    assert (None if found is None else found.value) == problem


def test_a_forged_closing_without_a_signature_is_found() -> None:
    """The deciders refuse it; an auditor still checks the record itself."""
    s = signed_story("张三", "王工", Role.ENGINEER, SignatureKind.CUSTOMER)
    s.events.pop()  # no signature
    ticket = s.ticket
    forged = s.add(Closed(**s.stamp("10:30", "10:30").envelope(ticket.id, ticket.version + 1)))
    found = audit_ticket(s.events, s.contract, china_official_calendar(), at("12:00"))
    assert [(u.closed, u.problem, u.signature) for u in found.unsigned_closings] == [
        (forged, SignatureProblem.MISSING, None)
    ]
    assert signature_problem(ticket, None) is SignatureProblem.MISSING


def test_a_backdated_suspension_that_alone_keeps_a_target_met() -> None:
    """Resolve (4 h) is met only because the pause was told to start three hours before it
    was recorded; at its recording time the pause is empty (the resumption, told earlier,
    cannot end it before it starts) and the fix is 90 minutes late."""
    s = story()
    s.add(decide_respond(s.ticket, s.stamp("09:02", "09:02")))
    s.add(decide_dispatch(s.ticket, s.stamp("09:03", "09:03"), "王工"))
    s.add(decide_arrive(s.ticket, s.stamp("09:20", "09:20", "王工", Role.ENGINEER)))
    engineer = {"actor": "王工", "role": Role.ENGINEER}
    suspended = s.add(decide_suspend(s.ticket, s.stamp("10:00", "13:00", **engineer), "等待备件"))
    s.add(decide_resume(s.ticket, s.stamp("12:50", "13:05", **engineer)))
    s.add(
        decide_resolve(
            s.ticket, s.stamp("14:30", "14:30", **engineer), "修复", ResolutionMode.ON_SITE
        )
    )
    found = audit_ticket(s.events, s.contract, china_official_calendar(), at("18:00"))
    assert found.backdated == (suspended,)
    assert [
        (m.told.metric, m.told.status, m.recorded.status, m.recorded.breach_minutes, m.entries)
        for m in found.met_thanks_to_backdating
    ] == [("resolve", SlaStatus.MET, SlaStatus.BREACHED, 90, (suspended,))]
    assert found.met_thanks_to_backdating[0].told.due_at == at("15:50")
    assert found.met_thanks_to_backdating[0].recorded.due_at == at("13:00")


# --------------------------------------------------------------------------- the history


OVERRIDE_TEXT = seed_002_text().replace('id = "seed-002"', f'id = "{OVERRIDE}"') + (
    "\n[audit]\nbackdating_minutes = 60   # a site two hours away: entries made on return\n"
)


@dataclass(frozen=True)
class History:
    t1: str
    t2: str
    t3: str
    visit: str


def build_history(desk: Desk, tmp_path: Path) -> History:
    """Three tickets reported on 2026-10-08 (seed 002 and its copy with a 60-minute
    threshold), general severity: respond 5m, arrive 30m, resolve 4h, replacement 8h.

    ====  ===========================================================================
    T1    arrival told 09:25 (due 09:30), recorded 10:00: back-dated 35 min, so arrive
          is met only thanks to it (30 min late at its recording); resolved by the
          dispatcher (off the norm); signed by its own engineer and closed (invalid);
          reopened by a failed return-visit audit (cause: the visit)
    T2    lags of 29, 30, 20 and 31 minutes: only the escalation (31) is back-dated and
          it weighs on no target; signed by the customer and closed: clean
    T3    contract test-audit-60: an arrival 45 min back-dated is not flagged, a
          resolution 61 min back-dated is (both targets met either way)
    ====  ===========================================================================
    """
    path = tmp_path / f"{OVERRIDE}.toml"
    path.write_text(OVERRIDE_TEXT, encoding="utf-8")
    desk.ledger.contracts.load(parse_contract(read_toml(path)), actor="admin", role=Role.ADMIN)
    engineer = {"actor": "王工", "role": "engineer"}

    def recorded(local: str) -> None:
        desk.clock.set(at(local))

    t1 = desk.report(severity="general").number
    recorded("09:03")
    desk.do("respond", ticket=t1)
    recorded("09:05")
    desk.do("dispatch", ticket=t1, engineer="王工")
    recorded("10:00")
    desk.do("arrive", ticket=t1, at="2026-10-08T09:25", **engineer)
    recorded("10:30")
    desk.do("resolve", ticket=t1, summary="更换电源")
    recorded("10:40")
    desk.do("sign", ticket=t1, signer="王工", **engineer)
    recorded("11:00")
    desk.do("close", ticket=t1)

    t2 = desk.report(severity="general").number
    liu = {"actor": "刘工", "role": "engineer"}
    recorded("11:33")
    desk.do("respond", ticket=t2, at="2026-10-08T11:04")
    recorded("11:40")
    desk.do("dispatch", ticket=t2, engineer="刘工", at="2026-10-08T11:10")
    recorded("11:45")
    desk.do("arrive", ticket=t2, at="2026-10-08T11:25", **liu)
    recorded("12:16")
    desk.do(
        "escalate",
        ticket=t2,
        to="department_manager",
        reason="需更换主板",
        at="2026-10-08T11:45",
        actor="周经理",
        role="department_manager",
    )
    recorded("12:30")
    desk.do("resolve", ticket=t2, summary="更换主板", **liu)
    recorded("12:40")
    desk.do("sign", ticket=t2, signer="张三", **liu)
    recorded("12:50")
    desk.do("close", ticket=t2)

    recorded("13:00")
    t3 = desk.report(severity="general", contract=OVERRIDE).number
    recorded("13:02")
    desk.do("respond", ticket=t3)
    recorded("13:03")
    desk.do("dispatch", ticket=t3, engineer="王工")
    recorded("13:55")
    desk.do("arrive", ticket=t3, at="2026-10-08T13:10", **engineer)
    recorded("14:21")
    desk.do("resolve", ticket=t3, summary="重启", at="2026-10-08T13:20", **engineer)

    desk.clock.set(at("10:00") + timedelta(days=1))  # the next day, the quality department
    quality = {"actor": "质量部-陈敏", "role": "quality"}

    def visit_command(**data: Any) -> str:
        command = parse_quality_command({**quality, **data}, SHANGHAI)
        return desk.ledger.quality.execute(command, retries=1).record.number

    visit = visit_command(command="visit_schedule", ticket=t1, visitor="质量部-陈敏")
    visit_command(command="visit_conduct", visit=visit, content="电话回访")
    visit_command(command="visit_audit", visit=visit, verdict="fail", reason="签字人为工程师本人")
    return History(t1, t2, t3, visit)


@pytest.fixture
def history(db_url: str, tmp_path: Path) -> Iterator[History]:
    desk = open_desk(db_url)
    try:
        yield build_history(desk, tmp_path)
    finally:
        desk.ledger.close()


def ledger_cli(db_url: str, *args: str, now: str = "2026-10-09T12:00+08:00") -> Result:
    env = {"LEDGER_DB": db_url, "LEDGER_NOW": now, "LEDGER_TZ": "Asia/Shanghai"}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def shown(db_url: str, *args: str, now: str = "2026-10-09T12:00+08:00") -> dict[str, Any]:
    result = ledger_cli(db_url, "ticket", "show", *args, "--json", now=now)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def sla_of(view: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {s["metric"]: (s["status"], s["breach_minutes"]) for s in view["sla"]}


# --------------------------------------------------------------------------- ticket show


def test_show_replays_a_ticket_at_a_version_or_a_recorded_time(
    history: History, db_url: str
) -> None:
    t1 = history.t1
    now = shown(db_url, t1)
    assert (now["status"], now["version"], now["reopen_count"]) == ("reopened", 8, 1)

    first = shown(db_url, t1, "--at-version", "1")
    assert (first["status"], first["version"], first["responded_at"]) == ("reported", 1, None)
    assert sla_of(first)["respond"] == ("pending", 0)  # judged when version 1 was recorded

    on_site = shown(db_url, t1, "--at-version", "4")
    assert (on_site["status"], on_site["first_arrived_at"]) == (
        "on_site",
        "2026-10-08T09:25:00+08:00",
    )
    assert sla_of(on_site) == {
        "respond": ("met", 0),
        "arrive": ("met", 0),
        "resolve": ("pending", 0),  # judged at 10:00, due 13:00
        "replacement": ("pending", 0),
    }

    # Before the arrival was recorded the ledger showed an engineer 29 minutes overdue.
    before = shown(db_url, t1, "--as-of", "2026-10-08T09:59")
    assert (before["status"], before["version"], before["first_arrived_at"]) == (
        "dispatched",
        3,
        None,
    )
    assert sla_of(before)["arrive"] == ("overdue", 29)
    assert shown(db_url, t1, "--as-of", "2026-10-08T10:00")["version"] == 4  # at or before
    closed = shown(db_url, t1, "--as-of", "2026-10-08T11:00:00+08:00")
    assert (closed["status"], closed["signature"]["signer"]) == ("closed", "王工")
    # As of now, the replay is the ticket itself.
    latest = "2026-10-09T12:00+08:00"
    assert shown(db_url, t1, "--as-of", latest, now=latest) == shown(db_url, t1, now=latest)
    assert shown(db_url, t1, "--at-version", "8", now=latest)["version"] == 8

    text = ledger_cli(db_url, "ticket", "show", t1, "--at-version", "4")
    assert text.exit_code == 0
    assert "on_site (version 4, as of 2026-10-08T10:00:00+08:00)" in " ".join(text.stdout.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at-version", "9"], "has 8 events: there is no version 9"),
        (["--at-version", "0"], "0 is not in the range 1<=x<=9223372036854775807"),
        (["--as-of", "2026-10-08T08:59"], "was not recorded yet at 2026-10-08T08:59:00+08:00"),
        (["--as-of", "2026-10-08T10:00", "--at-version", "2"], "cannot be used together"),
        (["--as-of", "yesterday"], "--as-of: 'yesterday' is not an ISO 8601 time"),
    ],
)
def test_show_refuses_a_replay_it_cannot_give(
    history: History, db_url: str, args: list[str], message: str
) -> None:
    result = ledger_cli(db_url, "ticket", "show", history.t1, *args, "--json")
    assert result.exit_code == 2
    assert message in result.stderr and result.stdout == ""


# --------------------------------------------------------------------------- ticket history


def flags(db_url: str, number: str) -> list[tuple[str, bool, float]]:
    result = ledger_cli(db_url, "ticket", "history", number, "--json")
    assert result.exit_code == 0, result.output
    return [(e["type"], e["backdated"], e["lag_minutes"]) for e in json.loads(result.stdout)]


def test_history_flags_backdated_events_by_the_contracts_threshold(
    history: History, db_url: str
) -> None:
    assert flags(db_url, history.t2) == [
        ("Reported", False, 0.0),
        ("Responded", False, 29.0),
        ("Dispatched", False, 30.0),  # exactly the threshold: not more than it
        ("Arrived", False, 20.0),
        ("Escalated", True, 31.0),
        ("Resolved", False, 0.0),
        ("CustomerSigned", False, 0.0),
        ("Closed", False, 0.0),
    ]
    # test-audit-60 allows an hour: 45 minutes pass, 61 do not.
    assert flags(db_url, history.t3)[3:] == [("Arrived", False, 45.0), ("Resolved", True, 61.0)]

    text = ledger_cli(db_url, "ticket", "history", history.t2)
    assert text.exit_code == 0
    [escalated] = [line for line in text.stdout.splitlines() if "Escalated" in line]
    assert "2026-10-08T11:45:00+08:00 ⚑ 31 min" in escalated
    assert "back-dated, occurred N min before it was recorded (threshold 30 min): version 5" in (
        text.stdout
    )
    overridden = ledger_cli(db_url, "ticket", "history", history.t3)
    assert "(threshold 60 min): version 5" in overridden.stdout


# --------------------------------------------------------------------------- report audit

EXPECTED_GROUPS = [
    {
        "key": "seed-002",
        "tickets": 2,
        "events": 16,  # T1: 7 + the reopening; T2: 8
        "backdated": 2,  # T1 arrival (35), T2 escalation (31)
        "met_thanks_to_backdating": 1,  # T1 arrive
        "unsigned_closings": 1,  # T1: signed by its engineer
        "off_norm_roles": 1,  # T1 resolved by the dispatcher
        "reopenings": 1,  # T1, by the failed audit
        "recorded_backwards": 0,
    },
    {
        "key": OVERRIDE,
        "tickets": 1,
        "events": 5,
        "backdated": 1,  # the resolution (61 > 60), not the arrival (45)
        "met_thanks_to_backdating": 0,
        "unsigned_closings": 0,
        "off_norm_roles": 0,
        "reopenings": 0,
        "recorded_backwards": 0,
    },
]


def test_report_audit_counts_and_lists_the_findings(history: History, db_url: str) -> None:
    with Ledger.open(
        db_url, tz=SHANGHAI, clock=FixedClock(at("12:00") + timedelta(days=1))
    ) as ledger:
        data = report_json(audit_report(ledger, AuditQuery()))
        only_override = report_json(audit_report(ledger, AuditQuery(contract=OVERRIDE)))
        later = Period(datetime(2026, 10, 9).date())
        nothing = report_json(audit_report(ledger, AuditQuery(later)))
        as_of = report_json(audit_report(ledger, AuditQuery(), as_of=at("10:10")))

    assert data["groups"] == EXPECTED_GROUPS
    totals = {k: sum(g[k] for g in EXPECTED_GROUPS) for k in EXPECTED_GROUPS[0] if k != "key"}
    assert data["total"] == {"key": None, **totals}
    assert [
        (b["ticket"], b["version"], b["type"], b["lag_minutes"]) for b in data["backdated"]
    ] == [
        (history.t1, 4, "Arrived", 35.0),
        (history.t2, 5, "Escalated", 31.0),
        (history.t3, 5, "Resolved", 61.0),
    ]
    assert data["backdated"][0] == {
        "ticket": history.t1,
        "contract_id": "seed-002",
        "version": 4,
        "type": "Arrived",
        "occurred_at": "2026-10-08T09:25:00+08:00",
        "recorded_at": "2026-10-08T10:00:00+08:00",
        "actor": "王工",
        "role": "engineer",
        "lag_minutes": 35.0,
        "threshold_minutes": 30,
    }
    assert data["backdated"][2]["threshold_minutes"] == 60
    assert data["met_thanks_to_backdating"] == [
        {
            "ticket": history.t1,
            "contract_id": "seed-002",
            "metric": "arrive",
            "target": "30m",
            "due_at": "2026-10-08T09:30:00+08:00",
            "done_at": "2026-10-08T09:25:00+08:00",
            "recorded_due_at": "2026-10-08T09:30:00+08:00",
            "recorded_done_at": "2026-10-08T10:00:00+08:00",
            "recorded_status": "breached",
            "breach_minutes": 30,
            "entries": [4],
        }
    ]
    [unsigned] = data["unsigned_closings"]
    assert (unsigned["ticket"], unsigned["version"], unsigned["problem"]) == (
        history.t1,
        7,
        "signed_by_engineer",
    )
    assert unsigned["signature"] == {
        "version": 6,
        "kind": "customer",
        "signer": "王工",
        "actor": "王工",
        "role": "engineer",
    }
    [off_norm] = data["off_norm_roles"]
    assert (off_norm["ticket"], off_norm["type"], off_norm["role"], off_norm["expected"]) == (
        history.t1,
        "Resolved",
        "dispatcher",
        ["chief_engineer_office", "engineer"],
    )
    [reopened] = data["reopenings"]
    assert (reopened["ticket"], reopened["version"], reopened["role"], reopened["cause"]) == (
        history.t1,
        8,
        "quality",
        history.visit,
    )
    assert reopened["reason"] == "签字人为工程师本人"

    assert only_override["groups"] == EXPECTED_GROUPS[1:]
    assert nothing["groups"] == [] and nothing["total"]["tickets"] == 0
    # As the ledger stood at 10:10: T1's first four events; the arrival already stands out.
    assert as_of["as_of"] == "2026-10-08T10:10:00+08:00"
    assert as_of["groups"] == [
        {
            "key": "seed-002",
            "tickets": 1,
            "events": 4,
            "backdated": 1,
            "met_thanks_to_backdating": 1,
            "unsigned_closings": 0,
            "off_norm_roles": 0,
            "reopenings": 0,
            "recorded_backwards": 0,
        }
    ]


def test_report_audit_on_the_command_line(history: History, db_url: str, tmp_path: Path) -> None:
    cli_run = Cli(db_url)
    now = {"LEDGER_NOW": "2026-10-09T12:00+08:00"}
    data = json.loads(cli_run.run("report", "audit", "--json", **now).stdout)
    assert data["groups"] == EXPECTED_GROUPS

    target = tmp_path / "audit.csv"
    result = cli_run.run(
        "report", "audit", "--from", "2026-10-08", "--csv", str(target), "--lang", "zh", **now
    )
    assert "审计核查" in result.stdout and "依赖倒签达标的考核项 (1)" in result.stdout
    with target.open(encoding="utf-8-sig") as f:
        summary = list(csv.reader(f))
    assert summary[0][:4] == ["合同", "工单数", "事件数", "倒签事件"]
    assert summary[1:] == [
        ["seed-002", "2", "16", "2", "1", "1", "1", "1", "0"],
        [OVERRIDE, "1", "5", "1", "0", "0", "0", "0", "0"],
        ["合计", "3", "21", "3", "1", "1", "1", "1", "0"],
    ]
    with (tmp_path / "audit.sla.csv").open(encoding="utf-8-sig") as f:
        sla_rows = list(csv.reader(f))
    assert sla_rows[1] == [
        history.t1,
        "seed-002",
        "到场",
        "30m",
        "2026-10-08T09:30:00+08:00",
        "2026-10-08T09:25:00+08:00",
        "2026-10-08T09:30:00+08:00",
        "2026-10-08T10:00:00+08:00",
        "超时",
        "30",
        "4",
    ]
    for key, rows in (("backdated", 3), ("signatures", 1), ("roles", 1), ("reopenings", 1)):
        with (tmp_path / f"audit.{key}.csv").open(encoding="utf-8-sig") as f:
            assert len(list(csv.reader(f))) == rows + 1, key

    book = tmp_path / "audit.xlsx"
    cli_run.run("report", "audit", "--xlsx", str(book), "--json", **now)
    assert load_workbook(book).sheetnames == [
        "Summary",
        "Back-dated events",
        "Met only thanks to back-dating",
        "Closed without valid signature",
        "Roles outside the norm",
        "Reopenings",
        "Recorded time going backwards",
        "Personal data erased",  # none here: the sheet is there, empty (docs/privacy.md)
    ]
    limited = cli_run.run("report", "audit", "--limit", "1", **now)
    assert "Back-dated events (3)" in limited.stdout and "… 2 more" in limited.stdout
    empty = cli_run.run("report", "audit", "--contract", OVERRIDE, **now)
    assert "no ticket closed without a valid signature" in empty.stdout
    assert "no reopenings" in empty.stdout
    unknown = cli_run.run("report", "audit", "--contract", "nope", ok=False)
    assert unknown.returncode == 2 and "no contract nope" in unknown.stderr
    backwards = cli_run.run(
        "report", "audit", "--from", "2026-10-09", "--to", "2026-10-08", ok=False
    )
    assert backwards.returncode == 2 and "is after --to" in backwards.stderr


def test_report_audit_lists_an_event_recorded_before_the_one_it_follows(db_url: str) -> None:
    """The ledger refuses to record time backwards; an event written behind its back with
    an earlier recorded time than its predecessor in the chain is listed (here the second
    ticket's report, two minutes before the number it was issued with)."""
    from tests.e2e.test_verify import stored, unguard

    desk = open_desk(db_url)
    try:
        desk.report()
        desk.later(10)
        desk.report(device="摄像机")
        _, state = stored(desk, "T-2026-000002", 1)
        recorded = b'"timestamp":"2026-10-08T01:10:00Z"'
        assert recorded in state
        unguard(desk)
        ticket_id = desk.ledger.tickets.resolve_id("T-2026-000002")
        sqlite = desk.ledger.location.kind == "sqlite"
        with desk.ledger.engine.begin() as conn:
            conn.execute(
                text(
                    f"UPDATE {desk.ledger.location.events_table} SET state = :s "
                    "WHERE originator_id = :o AND originator_version = 1"
                ),
                {
                    "s": state.replace(recorded, b'"timestamp":"2026-10-08T01:08:00Z"'),
                    "o": ticket_id.hex if sqlite else ticket_id,
                },
            )
        db = desk.ledger.location.url
    finally:
        desk.ledger.close()
    result = ledger_cli(db, "report", "audit", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"]["recorded_backwards"] == 1
    [row] = data["recorded_backwards"]
    assert (row["ticket"], row["version"], row["type"]) == ("T-2026-000002", 1, "Reported")
    assert row["recorded_at"] == "2026-10-08T09:08:00+08:00"
    text_report = ledger_cli(db, "report", "audit", "--lang", "zh").stdout
    assert "记录时间倒退的事件 (1)" in text_report
