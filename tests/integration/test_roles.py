"""The role matrix (ledger/domain/roles.py, docs/roles.md): every command × every role
through the services, the matrix against the audit norm and the deciders' own role rules,
and a sample through the real CLI and ``ledger import`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.bootstrap import Ledger
from ledger.commands.contracts import parse_contract, parse_holiday_table, read_toml
from ledger.commands.registry import (
    ALLOWED,
    COMMAND_NAMES,
    QUALITY_COMMAND_NAMES,
    TICKET_EVENTS,
    authorise,
    parse_command,
    parse_quality_command,
)
from ledger.commands.sweep import SWEEP_ACTOR
from ledger.domain import corrective_action as ca
from ledger.domain import return_visit as rv
from ledger.domain.audit import NORMAL_ROLES, is_off_norm
from ledger.domain.errors import DomainError, Unchanged
from ledger.domain.roles import ALSO_ALLOWED, Forbidden, in_role_order
from ledger.domain.ticket import (
    SUPERVISORS,
    TICKET_EVENT_TYPES,
    OutOfContractNoted,
    Reported,
    TicketEvent,
)
from ledger.domain.values import Role
from ledger.storage.reads import chain_head
from tests.e2e.test_cli import ADMIN, REPORT_ARGS, Cli, make_cli
from tests.support import REPORT, SEED_CONTRACTS, SHANGHAI, Desk, open_desk

DOCS = Path(__file__).parents[2] / "docs" / "roles.md"
OTHER_WRITES = (
    "contract_load",
    "calendar_load",
    "notify_rules_load",
    "sweep",
    "user_grant",
    "user_reissue",
    "user_revoke",
    "privacy_erase",
    "privacy_sweep",
)
EVERY_COMMAND = (*COMMAND_NAMES, *QUALITY_COMMAND_NAMES, *OTHER_WRITES)
ACTOR = "王五"
CALENDAR_2031 = {"year": 2031, "source": "TEST DATA: made-up", "holidays": ["2031-10-01"]}

EVIDENCE = {
    "sha256": "ab" * 32,
    "size": 1234,
    "media_type": "application/pdf",
    "file_name": "服务单.pdf",
    "kind": "signed-form",  # what a customer may attach too
}
"""An attach command's file fields, as the evidence store would fill them in (the service
checks no store: the CLI and the API store the bytes first)."""

RESOLVE_MESSAGE = (
    "resolve needs role dispatcher, engineer, department_manager, project_general_manager, "
    "chief_engineer_office or admin; 李娜 is auditor"
)


def named_roles(message: str, command: str, actor: str, role: Role) -> set[str]:
    """The roles a refusal names, checking the message's shape on the way."""
    match = re.fullmatch(rf"{command} needs role (.+); {actor} is {role.value}", message)
    assert match, message
    return set(re.split(r", | or ", match.group(1)))


def head(ledger: Ledger) -> tuple[int, tuple[int, bytes]]:
    """Event count and chain head: what a refused command must leave as it was."""
    with ledger.engine.connect() as conn:
        return ledger.event_count(), chain_head(conn)


# --------------------------------------------------------------------------- pure


def test_the_matrix_names_every_command_and_nothing_else() -> None:
    assert set(ALLOWED) == set(EVERY_COMMAND)
    assert set(TICKET_EVENTS) == set(COMMAND_NAMES)
    assert all(ALLOWED[name] for name in ALLOWED)


def test_allowed_includes_the_audit_norm() -> None:
    """authorisation = allowed, norm = expected: every normal role is allowed, and what the
    matrix adds to the norm is exactly ALSO_ALLOWED and admin."""
    for name, event_type in TICKET_EVENTS.items():
        normal = NORMAL_ROLES[event_type]
        assert normal <= ALLOWED[name], name
        assert ALLOWED[name] - normal == (ALSO_ALLOWED.get(name, frozenset()) | {Role.ADMIN}) - (
            normal
        ), name
    # The ticket events no command records are the sweep's, and normal for it; or recorded
    # with a report (its coverage), under the report's stamp.
    swept = set(TICKET_EVENT_TYPES) - set(TICKET_EVENTS.values()) - {OutOfContractNoted}
    assert NORMAL_ROLES[OutOfContractNoted] == (NORMAL_ROLES[Reported] | ALSO_ALLOWED["report"])
    assert swept and all(Role.SYSTEM in NORMAL_ROLES[t] for t in swept)
    assert ALLOWED["sweep"] == {Role.SYSTEM} and Role.SYSTEM in SUPERVISORS


def test_auditors_never_write_and_reference_data_is_the_administrators() -> None:
    assert not [name for name, roles in ALLOWED.items() if Role.AUDITOR in roles]
    assert ALLOWED["contract_load"] == ALLOWED["calendar_load"] == {Role.ADMIN}
    assert (
        ALLOWED["user_grant"] == ALLOWED["user_reissue"] == ALLOWED["user_revoke"] == {Role.ADMIN}
    )


def test_the_matrix_names_exactly_the_roles_the_deciders_require() -> None:
    assert ALLOWED["visit_audit"] == set(rv.AUDITORS)
    assert ALLOWED["visit_chief_review"] == set(rv.CHIEF_ENGINEER)
    assert ALLOWED["action_verify"] == set(ca.VERIFIERS)


def test_a_refusal_says_which_roles_are_needed() -> None:
    with pytest.raises(Forbidden) as refused:
        authorise("resolve", Role.AUDITOR, actor="李娜")
    assert str(refused.value) == RESOLVE_MESSAGE
    assert isinstance(refused.value, DomainError)  # the CLI's exit 2
    with pytest.raises(Forbidden, match=r"^visit_audit needs role quality; not engineer$"):
        authorise("visit_audit", Role.ENGINEER)
    authorise("resolve", Role.ENGINEER, actor="王工")  # allowed: no error


def test_a_command_missing_from_the_matrix_is_refused_to_everyone() -> None:
    for role in Role:
        with pytest.raises(Forbidden, match=r"^transfer is not in the role matrix"):
            authorise("transfer", role)


def markdown_matrix() -> str:
    """The table docs/roles.md must hold: ● normal (ticket commands: the audit's norm) or
    allowed; ○ allowed but outside the audit's norm; blank: refused."""
    roles = list(Role)
    lines = [
        "| command | " + " | ".join(f"`{r.value}`" for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for name in EVERY_COMMAND:
        normal = NORMAL_ROLES[TICKET_EVENTS[name]] if name in TICKET_EVENTS else ALLOWED[name]
        cells = ["●" if r in normal else "○" if r in ALLOWED[name] else " " for r in roles]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def test_docs_roles_md_holds_the_matrix() -> None:
    assert markdown_matrix() in DOCS.read_text(encoding="utf-8")


# ------------------------------------------------------------- every command × every role


@dataclass
class World:
    """A ledger holding a record in the right state for each command (nothing the tests do
    to it is saved: allowed commands are only planned, forbidden ones are refused)."""

    desk: Desk
    commands: dict[str, dict[str, Any]]

    @property
    def ledger(self) -> Ledger:
        return self.desk.ledger


def _build_world(desk: Desk) -> dict[str, dict[str, Any]]:
    ledger = desk.ledger
    engineer = {"actor": "王工", "role": "engineer"}
    quality = {"actor": "周质检", "role": "quality"}

    def ticket(*steps: tuple[str, dict[str, Any]]) -> str:
        number = desk.report().number
        for command, fields in steps:
            desk.later(5)
            desk.do(command, ticket=number, **fields)
        return number

    def q(command: str, **fields: Any) -> str:
        desk.later(5)
        data = {**quality, "command": command, **fields}
        outcome = ledger.quality.execute(parse_quality_command(data, SHANGHAI))
        return outcome.record.number

    remote = {"summary": "远程重启", "mode": "remote", **engineer}
    reported = ticket()
    # Dispatched to the actor who tries every command: an engineer acts only on the tickets
    # dispatched to them (a finer rule of the deciders, docs/roles.md).
    dispatched = ticket(("dispatch", {"engineer": ACTOR}))
    resolved = ticket(("resolve", remote))
    signed = ticket(("resolve", remote), ("sign", {"signer": "张三", **engineer}))
    suspended = ticket(("suspend", {"reason": "等客户"}))
    outside = desk.report(
        contract="seed-000", customer="某市自然资源和规划局", at="2026-02-01T10:00"
    )

    scheduled = q("visit_schedule", contract="seed-002", visitor="周质检")
    conducted = q("visit_schedule", ticket=signed, visitor="周质检")
    q("visit_conduct", visit=conducted, content="电话回访")
    reviewed = q("visit_schedule", contract="seed-002", visitor="周质检")
    q("visit_conduct", visit=reviewed, content="电话回访")
    q("visit_review", visit=reviewed, opinion="同意", role="department_manager")

    plan = {"corrective": "纠正", "preventive": "预防", "responsible": "周经理"}
    plan["due_on"] = "2026-10-20"
    action_steps: list[tuple[str, dict[str, Any]]] = [
        ("action_analyse", {"cause": "原因"}),
        ("action_plan", plan),
        ("action_implement", {"description": "实施"}),
        ("action_result", {"result": "结果"}),
        ("action_verify", {"effective": True, "comment": "有效"}),
    ]
    raise_fields = {"content": "内审发现", "source": "internal_audit", "department": "质量部"}
    actions = {}  # the command each action is ready for → its number
    for ready_for in [name for name, _ in action_steps] + ["action_close"]:
        number = q("action_raise", **raise_fields)
        for name, fields in action_steps:
            if name == ready_for:
                break
            q(name, action=number, **fields)
        actions[ready_for] = number

    receive = {"contract": "seed-004", "about": "engineer", "reference": "孙工"}
    receive |= {"category": "non_quality", "content": "态度差"}
    complaint_steps: list[tuple[str, dict[str, Any]]] = [
        ("complaint_analyse", {"cause": "原因", "department": "服务部", "ours": True}),
        ("complaint_resolve", {"handling": "致歉", "result": "客户认可"}),
    ]
    complaints = {}
    for ready_for in [name for name, _ in complaint_steps] + ["complaint_close"]:
        number = q("complaint_receive", **receive)
        for name, fields in complaint_steps:
            if name == ready_for:
                break
            q(name, complaint=number, **fields)
        complaints[ready_for] = number

    desk.later(60)
    report = {k: v for k, v in REPORT.items() if k not in ("command", "actor", "role")}
    return {
        "report": report,
        "respond": {"ticket": reported},
        "dispatch": {"ticket": reported, "engineer": "王工"},
        "arrive": {"ticket": dispatched},
        "resolve": {"ticket": reported, "summary": "远程处理", "mode": "remote"},
        "sign": {"ticket": resolved, "signer": "张三"},
        "escalate": {"ticket": reported, "to": "department_manager", "reason": "超时"},
        "suspend": {"ticket": reported, "reason": "等客户"},
        "resume": {"ticket": suspended},
        "replace": {"ticket": reported, "unit": "备机 B-101"},
        "reclassify": {"ticket": reported, "severity": "major", "reason": "影响小"},
        "close": {"ticket": signed},
        "reopen": {"ticket": resolved, "reason": "复发"},
        "cancel": {"ticket": reported, "reason": "误报"},
        "contact_sheet": {
            "ticket": outside.number,
            "sheet": "LXD-2026-001",
            "fee": "800",
            "confirmed_by": "张三",
        },
        "attach": {"ticket": dispatched, **EVIDENCE},
        "visit_attach": {"visit": scheduled, **EVIDENCE},
        "action_attach": {"action": actions["action_close"], **EVIDENCE},
        "diagnose": {"ticket": reported, "report": "主板故障"},
        "propose": {"ticket": reported, "solution": "更换主板"},
        "start_repair": {"ticket": reported},
        "temporary_measure": {"ticket": reported, "measure": "启用备机"},
        "file_form": {"ticket": signed, "form": "FWD-2026-001"},
        "change_contact": {
            "ticket": reported,
            "contact_name": "刘工",
            "contact_phone": "13900000000",
            "changed_at": "2026-01-01T09:00",
        },
        "set_off": {"ticket": dispatched, "latitude": 34.1557, "longitude": 113.4703},
        "note": {"ticket": reported, "text": "客户机房钥匙在值班室"},
        "reply": {"ticket": reported, "text": "工程师已出发，预计 30 分钟到场"},
        "visit_schedule": {"contract": "seed-002", "visitor": "周质检"},
        "visit_conduct": {"visit": scheduled, "content": "电话回访"},
        "visit_score": {
            "visit": conducted,
            "engineering_quality": 90,
            "progress": 80,
            "service": 85,
            "performance_capability": 70,
        },
        "visit_sign": {"visit": conducted, "signer": "张三"},
        "visit_review": {"visit": conducted, "opinion": "同意"},
        "visit_chief_review": {"visit": reviewed, "opinion": "同意"},
        "visit_audit": {"visit": conducted, "verdict": "pass"},
        "visit_cancel": {"visit": scheduled, "reason": "客户改期"},
        "action_raise": raise_fields,
        **{name: {"action": actions[name], **fields} for name, fields in action_steps},
        "action_close": {"action": actions["action_close"]},
        "complaint_receive": receive,
        **{name: {"complaint": complaints[name], **fields} for name, fields in complaint_steps},
        "complaint_close": {"complaint": complaints["complaint_close"]},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One SQLite ledger for the whole matrix (the service code is the same on both
    databases; the CLI sample below runs on both)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('roles') / 'ledger.db'}"
    desk = open_desk(url)
    commands = _build_world(desk)
    admin = {"actor": "系统管理员", "role": Role.ADMIN}
    desk.ledger.contracts.load_holidays(parse_holiday_table(CALENDAR_2031), **admin)
    yield World(desk, commands)
    desk.ledger.close()


def _command(world: World, name: str, role: Role) -> Any:
    data = {"command": name, "actor": ACTOR, "role": role.value, **world.commands[name]}
    if name in QUALITY_COMMAND_NAMES:
        return parse_quality_command(data, SHANGHAI)
    return parse_command(data, SHANGHAI)


def _plan(world: World, command: Any) -> list[Any]:
    if command.command in QUALITY_COMMAND_NAMES:
        return list(world.ledger.quality.plan(command).events)
    return world.ledger.tickets.plan(command)


def _execute(world: World, command: Any) -> None:
    if command.command in QUALITY_COMMAND_NAMES:
        world.ledger.quality.execute(command)
    else:
        world.ledger.tickets.execute(command)


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
@pytest.mark.parametrize("name", [*COMMAND_NAMES, *QUALITY_COMMAND_NAMES])
def test_every_command_and_role_through_the_service(world: World, name: str, role: Role) -> None:
    command = _command(world, name, role)
    if role in ALLOWED[name]:
        # Past the gate, and past every finer rule of the deciders: the matrix and the
        # deciders agree. The plan is not saved.
        events = _plan(world, command)
        assert events and all(e.role is role and e.actor == ACTOR for e in events)
        if name in TICKET_EVENTS:
            (recorded,) = [e for e in events if isinstance(e, TicketEvent)]
            assert type(recorded) is TICKET_EVENTS[name]
            # Allowed but outside the norm: exactly what `report audit` lists.
            assert is_off_norm(recorded) is (role not in NORMAL_ROLES[type(recorded)])
        return
    before = head(world.ledger)
    with pytest.raises(Forbidden) as refused:
        _execute(world, command)
    assert named_roles(str(refused.value), name, ACTOR, role) == {r.value for r in ALLOWED[name]}
    assert head(world.ledger) == before


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_contract_and_calendar_loads_by_role(world: World, role: Role) -> None:
    contracts = world.ledger.contracts
    document = parse_contract(read_toml(SEED_CONTRACTS[0]))
    table = parse_holiday_table(CALENDAR_2031)
    who = {"actor": ACTOR, "role": role}
    before = head(world.ledger)
    if role is Role.ADMIN:
        (loaded,) = contracts.load_many([document], **who)
        assert loaded.outcome == "unchanged"
        with pytest.raises(Unchanged):
            contracts.load(document, **who)
        with pytest.raises(Unchanged):
            contracts.load_holidays(table, **who)
    else:
        for name, load in (
            ("contract_load", lambda: contracts.load_many([document], **who)),
            ("contract_load", lambda: contracts.load(document, **who)),
            ("calendar_load", lambda: contracts.load_holidays(table, **who)),
        ):
            with pytest.raises(Forbidden) as refused:
                load()
            assert named_roles(str(refused.value), name, ACTOR, role) == {"admin"}
    assert head(world.ledger) == before


def test_the_sweep_passes_its_own_gate(world: World) -> None:
    report = world.ledger.sweep.run(dry_run=True)
    assert report.checked >= 1 and report.done and not report.problems
    assert all(d.action.event.actor == SWEEP_ACTOR for d in report.done)
    assert all(d.action.event.role in ALLOWED["sweep"] for d in report.done)
    assert all(not is_off_norm(d.action.event) for d in report.done)
    for role in set(Role) - {Role.SYSTEM}:
        with pytest.raises(Forbidden, match=f"^sweep needs role system; {SWEEP_ACTOR} is "):
            authorise("sweep", role, actor=SWEEP_ACTOR)


def test_the_roles_in_a_message_follow_the_declaration_order() -> None:
    for roles in ALLOWED.values():
        assert in_role_order(roles) == [r for r in Role if r in roles]


# --------------------------------------------------------------------------- the real CLI


@pytest.fixture
def cli(db_url: str) -> Cli:
    return make_cli(db_url)


def cli_head(cli: Cli) -> tuple[int, tuple[int, bytes]]:
    with Ledger.open(cli.db) as ledger:
        return head(ledger)


def forbidden(cli: Cli, *args: str, **env: str) -> str:
    """Run a command that must be refused for its role: exit 2, one line, nothing recorded."""
    before = cli_head(cli)
    result = cli.run(*args, ok=False, **env)
    assert result.returncode == 2, result.stderr
    assert cli_head(cli) == before
    (line,) = result.stderr.splitlines()
    return line


AUDITOR = {"LEDGER_ACTOR": "李娜", "LEDGER_ROLE": "auditor"}


def test_forbidden_commands_through_the_cli(cli: Cli, tmp_path: Path) -> None:
    number = cli.json(*REPORT_ARGS)["number"]
    line = forbidden(
        cli, "ticket", "resolve", number, "--summary", "x", "--mode", "remote", **AUDITOR
    )
    assert line == f"Error: {RESOLVE_MESSAGE}"
    # A refused report takes no number: the next one allowed gets the next number.
    assert forbidden(cli, *REPORT_ARGS, **AUDITOR).startswith("Error: report needs role ")
    assert cli.json(*REPORT_ARGS)["number"] == "T-2026-000002"
    # The roles also come from --actor / --role.
    line = forbidden(
        cli, "ticket", "cancel", number, "--reason", "x", "--actor", "王工", "--role", "engineer"
    )
    assert line == (
        "Error: cancel needs role dispatcher, department_manager, project_general_manager "
        "or admin; 王工 is engineer"
    )
    line = forbidden(cli, "contract", "load", str(SEED_CONTRACTS[0]))
    assert line == "Error: contract_load needs role admin; 李娜 is dispatcher"
    calendar = tmp_path / "2031.toml"
    calendar.write_text('year = 2031\nholidays = ["2031-10-01"]\n', encoding="utf-8")
    line = forbidden(cli, "calendar", "load", str(calendar), LEDGER_ROLE="quality")
    assert line == "Error: calendar_load needs role admin; 李娜 is quality"
    assert "loaded" in cli.run("calendar", "load", str(calendar), **ADMIN).stdout
    line = forbidden(
        cli, "action", "raise", "--content", "x", "--source", "internal_audit", "--department", "y"
    )
    assert line.startswith("Error: action_raise needs role department_manager, ")
    # Allowed though outside the norm: the hotline records an arrival phoned in.
    cli.run("ticket", "dispatch", number, "--engineer", "王工")
    assert cli.json("ticket", "arrive", number)["status"] == "on_site"


def test_import_rejects_a_forbidden_line_with_the_same_message(cli: Cli, tmp_path: Path) -> None:
    lines = [
        {**REPORT, "ref": "t", "at": "2026-10-08T09:00"},
        {"command": "respond", "ticket": "t", "actor": "李娜", "role": "auditor"},
        {"command": "respond", "ticket": "t", "actor": "王工", "role": "engineer"},
        {"command": "dispatch", "ticket": "t", "engineer": "王工", "role": "customer"},
        {"command": "visit_schedule", "ticket": "t", "visitor": "x", "role": "system"},
    ]
    path = tmp_path / "roles.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    before = cli.event_count()
    result = cli.run("import", str(path), "--json", ok=False)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["applied"] == 2
    assert report["rejected"] == [
        {
            "line": 2,
            "reason": "respond needs role dispatcher, engineer, department_manager, "
            "project_general_manager or admin; 李娜 is auditor",
        },
        {
            "line": 4,
            "reason": "dispatch needs role dispatcher, department_manager, "
            "project_general_manager or admin; 李娜 is customer",
        },
        {
            "line": 5,
            "reason": "visit_schedule needs role dispatcher, engineer, department_manager, "
            "project_general_manager, chief_engineer_office, quality or admin; 李娜 is system",
        },
    ]
    assert cli.event_count() == before + 3  # the number, the report, the response
    history = cli.json("ticket", "history", report["refs"]["t"])
    assert [(e["type"], e["role"]) for e in history] == [
        ("Reported", "dispatcher"),
        ("Responded", "engineer"),
    ]
