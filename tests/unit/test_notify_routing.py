"""Routing rules, pure: which messages an event owes (filters, the ladder, groups, one
message per channel and target however many rules ask), and the rules' validation."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from ledger.commands.models import CommandError
from ledger.commands.notify_rules import parse_rules
from ledger.domain.notification import RuleSet
from ledger.domain.ticket import AtRiskWarned, Contact, Escalated, MetricOverdueNoted, Ticket
from ledger.domain.values import (
    Category,
    Channel,
    EscalationLevel,
    Role,
    Severity,
    TicketStatus,
)
from ledger.notify.guard import BlockedAddress, check_host
from ledger.notify.routing import message_id, route
from tests.support import SHANGHAI

NOW = datetime(2026, 10, 8, 1, 0, tzinfo=UTC)
BASE = {
    "channels": {
        "group": {"kind": "wecom", "url": "https://robot.example/hook"},
        "mail": {"kind": "email"},
    },
    "smtp": {"host": "smtp.example.com", "sender": "ledger@example.com"},
    "people": {
        "张经理": {"email": "zhang@example.com", "mobile": "13800000001"},
        "王总": {"email": "wang@example.com", "mobile": "13800000002"},
    },
    "groups": {"领导": {"members": ["张经理", "王总"]}},
    "ladder": {"department_manager": ["张经理"], "project_general_manager": ["领导"]},
}


def rules(*rule_list: dict[str, object]) -> RuleSet:
    return parse_rules({**BASE, "rules": list(rule_list)})


def ticket(contract: str = "seed-003", severity: Severity = Severity.GENERAL) -> Ticket:
    return Ticket(
        id=uuid4(),
        version=2,
        created_on=NOW,
        modified_on=NOW,
        number="T-2026-000007",
        contract_id=contract,
        customer="某县档案馆",
        contact=Contact(name="张三", phone="13800138001"),
        site="机房",
        device="扫描仪",
        category=Category.DEFECT,
        severity=severity,
        description="坏了",
        channel=Channel.PHONE,
        external_ref=None,
        status=TicketStatus.REPORTED,
        reported_at=NOW,
    )


def escalated(t: Ticket, level: EscalationLevel) -> Escalated:
    return Escalated(
        originator_id=t.id,
        originator_version=3,
        timestamp=NOW,
        occurred_at=NOW,
        actor="system:sweep",
        role=Role.SYSTEM,
        from_level=EscalationLevel.ENGINEER,
        to_level=level,
        reason="响应超时 5 分钟：自动升级至部门经理",
    )


TYPE = "ledger.ticket.escalated.v1"


def test_the_ladder_names_the_people_of_the_level_reached_and_groups_expand() -> None:
    t = ticket()
    chosen = rules(
        {
            "name": "r",
            "events": ["ledger.ticket.*"],
            "channels": ["group", "mail"],
            "notify": ["ladder"],
        }
    )
    first = route(chosen, escalated(t, EscalationLevel.DEPARTMENT_MANAGER), TYPE, "e1", t, SHANGHAI)
    assert [(m.channel, m.target, m.mentions) for m in first] == [
        ("group", "group", ["13800000001"]),
        ("mail", "zhang@example.com", ["13800000001"]),
    ]
    upper = route(
        chosen, escalated(t, EscalationLevel.PROJECT_GENERAL_MANAGER), TYPE, "e2", t, SHANGHAI
    )
    assert [m.target for m in upper] == ["group", "zhang@example.com", "wang@example.com"]
    assert upper[0].mentions == ["13800000001", "13800000002"]
    assert "T-2026-000007" in upper[0].text and "某县档案馆" in upper[0].text


def test_filters_contracts_severities_levels_and_types() -> None:
    t = ticket()
    event = escalated(t, EscalationLevel.DEPARTMENT_MANAGER)

    def owed(**rule: object) -> int:
        chosen = rules({"name": "r", "events": [TYPE], "channels": ["group"], **rule})
        return len(route(chosen, event, TYPE, "e", t, SHANGHAI))

    assert owed() == 1
    assert owed(contracts=["seed-002"]) == 0
    assert owed(severities=["emergency"]) == 0 and owed(severities=["general"]) == 1
    assert owed(levels=["project_general_manager"]) == 0
    assert owed(levels=["department_manager"]) == 1
    assert owed(events=["ledger.ticket.reported.*"]) == 0


def test_two_rules_asking_for_the_same_channel_make_one_message_with_a_stable_id() -> None:
    t = ticket()
    chosen = rules(
        {"name": "a", "events": [TYPE], "channels": ["group"], "notify": ["张经理"]},
        {"name": "b", "events": ["ledger.ticket.*"], "channels": ["group"], "notify": ["王总"]},
    )
    (message,) = route(
        chosen, escalated(t, EscalationLevel.DEPARTMENT_MANAGER), TYPE, "e", t, SHANGHAI
    )
    assert message.people == ["张经理", "王总"]
    assert message.message_id == message_id("e", "group", "group")
    assert message_id("e", "group", "group") != message_id("e2", "group", "group")


def test_bad_rules_are_named_by_key_path() -> None:
    with pytest.raises(CommandError) as e:
        parse_rules(
            {
                "channels": {
                    "hook": {"kind": "webhook", "url": "https://x.example"},
                    "mail": {"kind": "email"},
                },
                "ladder": {"department_manager": ["nobody"]},
                "rules": [{"name": "r", "events": ["ledger.nope.*"], "channels": ["mail"]}],
            }
        )
    problems = "\n".join(e.value.problems)
    assert "secret_env is required" in problems
    with pytest.raises(CommandError) as e:
        parse_rules(
            {
                "channels": {"mail": {"kind": "email"}},
                "ladder": {"department_manager": ["nobody"]},
                "rules": [{"name": "r", "events": ["ledger.nope.*"], "channels": ["mail"]}],
            }
        )
    problems = "\n".join(e.value.problems)
    assert "ladder.department_manager: no person or group 'nobody'" in problems
    assert "rules[0].channels: 'mail' is email, and [smtp] is missing" in problems
    with pytest.raises(CommandError) as e:
        parse_rules({"rules": [{"name": "r", "events": ["ledger.nope.*"], "channels": []}]})
    assert any(p.startswith("rules[0].channels") for p in e.value.problems)


def test_the_guard_refuses_private_addresses_unless_allowed() -> None:
    for host in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1"):
        with pytest.raises(BlockedAddress):
            check_host(host, 80, ())
    check_host("127.0.0.1", 80, ("127.0.0.0/8",))
    check_host("10.1.2.3", 80, ("10.1.2.3",))
    check_host("8.8.8.8", 80, ())


def test_declared_metrics_overdue_and_at_risk_are_told_in_their_own_words() -> None:
    """A metric the contract declares: the seeds' ones by their Chinese name, any other by
    its own; the due time shown in the zone, to the minute (04:00 UTC is 12:00 in Shanghai)."""
    t = ticket("seed-001")
    chosen = rules(
        {"name": "r", "events": ["ledger.ticket.*"], "channels": ["group"], "notify": ["张经理"]}
    )
    envelope = {
        "originator_id": t.id,
        "originator_version": 3,
        "timestamp": NOW,
        "occurred_at": datetime(2026, 10, 8, 4, 1, tzinfo=UTC),
        "actor": "system:sweep",
        "role": Role.SYSTEM,
    }
    due = datetime(2026, 10, 8, 4, 0, tzinfo=UTC)
    overdue = MetricOverdueNoted(**envelope, metric="diagnose", target="3h", due_at=due)
    (message,) = route(chosen, overdue, "ledger.ticket.metric_overdue_noted.v1", "e1", t, SHANGHAI)
    assert message.title == "【逾期·诊断报告】T-2026-000007"
    assert "- 诊断报告时限（3 小时）已于 2026-10-08T12:00+08:00 到期，尚未完成" in message.text
    warned = AtRiskWarned(
        **envelope,
        metric="site_photos",
        target="2h",
        at_percent=80,
        used_percent=85,
        due_at=due,
        left_minutes=18,
    )
    (message,) = route(chosen, warned, "ledger.ticket.at_risk_warned.v1", "e2", t, SHANGHAI)
    assert message.title == "【临近超时·site_photos】T-2026-000007"
    assert "- site_photos时限（2 小时）已用 85%，剩余 18 分钟" in message.text
