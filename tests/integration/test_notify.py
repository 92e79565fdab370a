"""Notifications on real SQLite files and a real PostgreSQL server, to receivers on
127.0.0.1 that check each platform's signature: seed 003's escalation ladder routed to the
people named per level, retries with the same message id, 410 and dead messages, two
notifiers deciding each message once, PostgreSQL's LISTEN/NOTIFY wake-up, and at-risk
warnings on a clock that crosses a holiday and a 调休 Saturday."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
from click.testing import CliRunner

from ledger.cli import cli
from ledger.commands.contracts import parse_contract
from ledger.commands.notify_rules import NotificationRules, parse_rules
from ledger.domain.ticket import AtRiskWarned
from ledger.domain.values import Role
from ledger.notify import log
from ledger.notify.notifier import Notifier
from tests.receivers import Receiver, wait_for
from tests.support import SHANGHAI, START, Desk, open_desk

SEED_003 = {"contract": "seed-003", "customer": "某县档案馆", "severity": "general"}
DING_SECRET = "SEC0123456789abcdef"
FEISHU_SECRET = "feishu-secret"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def rules_toml(wecom: str, ding: str, feishu: str, hook: str, smtp_port: int | None) -> str:
    smtp = (
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsender = "ledger@example.com"\n'
        if smtp_port
        else ""
    )
    mail = ', "mail"' if smtp_port else ""
    return f"""
base_url = "https://ledger.example.com"
[channels.ops-wecom]
kind = "wecom"
url = "{wecom}"
[channels.ops-ding]
kind = "dingtalk"
url = "{ding}"
secret_env = "TEST_DING_SECRET"
[channels.ops-feishu]
kind = "feishu"
url = "{feishu}"
secret_env = "TEST_FEISHU_SECRET"
[channels.erp]
kind = "webhook"
url = "{hook}"
secret_env = "TEST_WEBHOOK_SECRET"
{"[channels.mail]" + chr(10) + 'kind = "email"' if smtp_port else ""}
{smtp}
[people."张经理"]
email = "zhang@example.com"
mobile = "13800000001"
[people."王总"]
email = "wang@example.com"
mobile = "13800000002"
[groups."项目领导"]
members = ["王总"]
[ladder]
department_manager = ["张经理"]
project_general_manager = ["项目领导"]
[outbound]
allow = ["127.0.0.1"]
[[rules]]
name = "升级"
events = ["ledger.ticket.escalated.*"]
contracts = ["seed-003"]
channels = ["ops-wecom", "ops-ding", "ops-feishu", "erp"{mail}]
notify = ["ladder"]
[[rules]]
name = "临近超时"
events = ["ledger.ticket.at_risk_warned.*"]
at_risk = 80
channels = ["ops-ding"]
notify = ["张经理"]
"""


def rules_for(r: dict[str, Receiver], smtp_port: int | None = None) -> str:
    return rules_toml(r["wecom"].url, r["ding"].url, r["feishu"].url, r["hook"].url, smtp_port)


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DING_SECRET", DING_SECRET)
    monkeypatch.setenv("TEST_FEISHU_SECRET", FEISHU_SECRET)
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    found = {
        "wecom": Receiver("wecom").start(),
        "ding": Receiver("dingtalk", DING_SECRET).start(),
        "feishu": Receiver("feishu", FEISHU_SECRET).start(),
        "hook": Receiver("webhook", WEBHOOK_SECRET).start(),
    }
    yield found
    for r in found.values():
        r.stop()


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    d = open_desk(db_url)
    yield d
    d.ledger.close()


def load_rules(desk: Desk, text: str) -> None:
    import tomllib

    NotificationRules(desk.ledger.app, desk.ledger.clock).load(
        parse_rules(tomllib.loads(text)), actor="系统管理员", role=Role.ADMIN
    )


def notifier(desk: Desk, **options: Any) -> Notifier:
    ledger = desk.ledger
    return Notifier(
        ledger.engine,
        ledger.app,
        ledger.app.mapper,  # type: ignore[arg-type]
        ledger.location.events_table,
        SHANGHAI,
        **options,
    )


def sweep_at(desk: Desk, minutes: float) -> None:
    desk.clock.set(START + timedelta(minutes=minutes))
    assert desk.ledger.sweep.run().problems == []


def test_seed_003_ladder_reaches_each_robot_and_the_signed_webhook(
    desk: Desk, receivers: dict[str, Receiver], secrets: None
) -> None:
    r = receivers
    load_rules(desk, rules_for(r))
    ticket = desk.report(**SEED_003)
    sweep_at(desk, 5)  # respond due at +5m: nothing yet
    sweep_at(desk, 6)  # 1m past due: the department manager (told at once, 5 minutes)
    sweep_at(desk, 11)  # 6m past due: the project general manager
    sweep_at(desk, 16)  # at the top of the ladder: nothing more
    decided, tried = notifier(desk).run_once()
    assert decided > 0 and tried == 8  # two escalations × four channels
    for receiver in r.values():
        assert len(receiver.received) == 2 and len(receiver.good) == 2, receiver.kind
    wecom = [m.json["markdown"]["content"] for m in r["wecom"].received]
    assert all(ticket.number in c and "某县档案馆" in c for c in wecom)
    assert "升级至部门经理" in wecom[0] and "响应超时" in wecom[0]
    assert f"https://ledger.example.com/dashboard/tickets/{ticket.number}" in wecom[0]
    # the ladder's people per level: 张经理 for the department manager, the group's 王总 above
    ding = [m.json["at"]["atMobiles"] for m in r["ding"].received]
    assert ding == [["13800000001"], ["13800000002"]]
    hooks = [m.json for m in r["hook"].received]
    assert [h["type"] for h in hooks] == ["ledger.ticket.escalated.v1"] * 2
    assert [h["data"]["to_level"] for h in hooks] == [
        "department_manager",
        "project_general_manager",
    ]
    assert {m.headers["webhook-id"] for m in r["hook"].received} == {
        d.message_id for d in log.list_deliveries(desk.ledger.engine) if d.channel == "erp"
    }
    assert all(d.status == log.DELIVERED for d in log.list_deliveries(desk.ledger.engine))
    # a second pass decides and sends nothing more
    assert notifier(desk).run_once() == (0, 0)


def test_events_recorded_before_the_rules_owe_nothing(
    sqlite_url: str, receivers: dict[str, Receiver], secrets: None
) -> None:
    desk = open_desk(sqlite_url)
    desk.report(**SEED_003)
    sweep_at(desk, 6)  # escalated before any rules: the past is not re-routed
    desk.later(1)
    load_rules(desk, rules_for(receivers))
    n = notifier(desk)
    assert n.run_once()[1] == 0
    sweep_at(desk, 11)  # escalated under the rules
    assert n.run_once()[1] == 4
    assert all(len(r.good) == 1 for r in receivers.values())
    desk.ledger.close()


def test_email_in_chinese_to_each_person_of_the_level(
    sqlite_url: str, receivers: dict[str, Receiver], secrets: None
) -> None:
    from aiosmtpd.controller import Controller

    mails: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mails.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
            return "250 OK"

    with socket.socket() as probe:  # a free port (aiosmtpd's controller needs one named)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        desk = open_desk(sqlite_url)
        r = receivers
        load_rules(desk, rules_for(r, port))
        ticket = desk.report(**SEED_003)
        sweep_at(desk, 11)
        notifier(desk).run_once()
        desk.ledger.close()
    finally:
        controller.stop()
    assert [m[0] for m in mails] == [["zhang@example.com"], ["wang@example.com"]]
    subject = str(make_header(decode_header(mails[0][1]["Subject"])))
    assert subject == f"【升级至部门经理】{ticket.number}"
    body = mails[0][1].get_payload(decode=True).decode()
    assert "客户：某县档案馆" in body and "响应超时" in body


def test_a_failing_receiver_is_retried_and_delivered_once_with_the_same_id(
    sqlite_url: str, receivers: dict[str, Receiver], secrets: None
) -> None:
    desk = open_desk(sqlite_url)
    r = receivers
    r["hook"].fail_next = 2
    load_rules(desk, rules_for(r))
    desk.report(**SEED_003)
    sweep_at(desk, 6)
    n = notifier(desk, schedule=(0, 0.2, 0.2, 0.2))
    n.run_once()
    assert wait_for(lambda: n.run_once() and len(r["hook"].received) >= 3, timeout=5)
    n.run_once()
    ids = [m.headers["webhook-id"] for m in r["hook"].received]
    assert len(ids) == 3 and len(set(ids)) == 1
    (erp,) = [d for d in log.list_deliveries(desk.ledger.engine) if d.channel == "erp"]
    assert (erp.status, erp.attempts, erp.last_code) == (log.DELIVERED, 3, 200)
    desk.ledger.close()


def test_410_disables_the_endpoint_and_dead_messages_are_listed_and_replayed(
    sqlite_url: str, receivers: dict[str, Receiver], secrets: None
) -> None:
    desk = open_desk(sqlite_url)
    r = receivers
    r["hook"].status = 410
    r["wecom"].status = 500
    load_rules(desk, rules_for(r))
    desk.report(**SEED_003)
    sweep_at(desk, 6)
    n = notifier(desk, schedule=(0, 0.1))

    def settled() -> bool:
        n.run_once()
        return log.counts(desk.ledger.engine)[log.PENDING] == 0

    assert wait_for(settled)
    dead = log.list_deliveries(desk.ledger.engine, status=log.DEAD)
    assert sorted(d.channel for d in dead) == ["erp", "ops-wecom"]
    assert len(r["hook"].received) == 1  # 410: never called again
    assert len(r["wecom"].received) == 2  # the whole (short) schedule
    runner = CliRunner()
    env = {"LEDGER_DB": sqlite_url}
    listed = runner.invoke(cli, ["notify", "deliveries", "--dead", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert {v["channel"] for v in json.loads(listed.output)} == {"erp", "ops-wecom"}
    r["hook"].status = r["wecom"].status = 200
    replayed = runner.invoke(cli, ["notify", "replay", "--dead"], env=env)
    assert replayed.exit_code == 0 and "queued 2" in replayed.output
    n.run_once()
    assert log.counts(desk.ledger.engine) == {log.PENDING: 0, log.DELIVERED: 4, log.DEAD: 0}
    first, last = r["hook"].received[0], r["hook"].received[-1]
    assert last.headers["webhook-id"] == first.headers["webhook-id"]
    bad = runner.invoke(cli, ["notify", "replay", "no-such-id"], env=env)
    assert bad.exit_code == 2 and "no message no-such-id" in bad.output
    desk.ledger.close()


def test_a_private_address_is_refused_unless_allowed(
    sqlite_url: str, receivers: dict[str, Receiver], secrets: None
) -> None:
    desk = open_desk(sqlite_url)
    r = receivers
    text = rules_for(r)
    load_rules(desk, text.replace('allow = ["127.0.0.1"]', "allow = []"))
    desk.report(**SEED_003)
    sweep_at(desk, 6)
    notifier(desk, schedule=(0,)).run_once()
    assert all(not x.received for x in r.values())
    dead = log.list_deliveries(desk.ledger.engine, status=log.DEAD)
    assert len(dead) == 4 and all("private/loopback" in (d.last_error or "") for d in dead)
    desk.ledger.close()


def _decide(url: str, out: list[int]) -> None:
    d = open_desk(url, create=False)
    try:
        out.append(notifier(d).decide())
    finally:
        d.ledger.close()


def test_two_notifiers_decide_each_message_once(
    desk: Desk, db_url: str, receivers: dict[str, Receiver], secrets: None
) -> None:
    r = receivers
    load_rules(desk, rules_for(r))
    for _ in range(12):
        desk.report(**SEED_003)
    sweep_at(desk, 6)  # 12 escalations to the department manager, 48 messages
    notifier(desk)  # creates the tables before the race
    decided: list[int] = []
    threads = [threading.Thread(target=_decide, args=(db_url, decided)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    head = desk.ledger.event_count()
    assert sum(decided) == head  # every event decided by exactly one of them
    rows = log.list_deliveries(desk.ledger.engine, limit=1000)
    assert len(rows) == 48 and len({d.message_id for d in rows}) == 48
    assert Counter(d.channel for d in rows) == dict.fromkeys(
        ("ops-wecom", "ops-ding", "ops-feishu", "erp"), 12
    )


@pytest.mark.postgres
def test_postgres_listen_notify_wakes_the_notifier(
    pg_url: str, receivers: dict[str, Receiver], secrets: None
) -> None:
    desk = open_desk(pg_url)
    r = receivers
    load_rules(desk, rules_for(r))
    n = notifier(desk, idle=60.0)  # without NOTIFY it would wait a minute
    stop = threading.Event()
    thread = threading.Thread(target=n.run, args=(stop,))
    thread.start()
    try:
        time.sleep(0.5)
        desk.report(**SEED_003)
        sweep_at(desk, 6)
        assert wait_for(lambda: len(r["hook"].good) == 1, timeout=10)
    finally:
        stop.set()
        thread.join(timeout=10)  # the wait looks at the stop twice a second
        desk.ledger.close()
    assert not thread.is_alive()


BUSINESS = """
id = "notify-test"
name = "营业时间合同"
customer = "某市不动产登记中心"
warranty = { start = 2026-01-01, years = 2 }
timezone = "Asia/Shanghai"
calendar = "business"
business_hours = { open = "09:00", close = "17:00", days = "cn-workdays" }
[targets.default]
resolve = "32h"
"""


def test_at_risk_warning_on_a_clock_across_national_day_and_a_make_up_saturday(
    db_url: str, receivers: dict[str, Receiver], secrets: None
) -> None:
    """Reported Wed 2026-09-30 09:00; 32 business hours (09–17) run on Sep 30, then not on
    Oct 1–7 (National Day) nor Sun Oct 11, but on Oct 8, 9 and the 调休 Saturday Oct 10:
    80 % (25 h 36 min) is reached on Sat Oct 10 at 10:36, due at 17:00."""
    import tomllib

    reported = datetime(2026, 9, 30, 1, 0, tzinfo=UTC)
    desk = open_desk(db_url, at=reported - timedelta(hours=1))
    desk.ledger.contracts.load(
        parse_contract(tomllib.loads(BUSINESS)), actor="admin", role=Role.ADMIN
    )
    r = receivers
    load_rules(desk, rules_for(r))
    desk.clock.set(reported)
    ticket = desk.report(contract="notify-test", customer="某市不动产登记中心", severity="general")

    def sweep(local: str) -> list[AtRiskWarned]:
        desk.clock.set(datetime.fromisoformat(local).replace(tzinfo=SHANGHAI).astimezone(UTC))
        assert desk.ledger.sweep.run().problems == []
        return [e for e in desk.ledger.tickets.history(ticket.id) if isinstance(e, AtRiskWarned)]

    assert sweep("2026-10-07T23:00") == []  # a week of wall-clock time, 8 covered hours
    assert sweep("2026-10-10T10:30") == []  # 25 h 30 min: 79.7 %
    (warned,) = sweep("2026-10-10T10:40")
    assert (warned.metric, warned.at_percent, warned.used_percent) == ("resolve", 80, 80)
    assert warned.left_minutes == 6 * 60 + 20
    assert warned.due_at == datetime(2026, 10, 10, 9, 0, tzinfo=UTC)  # 17:00 Shanghai
    assert len(sweep("2026-10-10T11:00")) == 1  # once per ticket, target and threshold
    notifier(desk).run_once()
    (message,) = r["ding"].good
    text = message.json["markdown"]["text"]
    assert "临近超时" in text and "已用 80%" in text and "剩余 6 小时 20 分钟" in text
    assert message.json["at"]["atMobiles"] == ["13800000001"]
    desk.ledger.close()


def test_rules_load_names_the_key_path_and_records_nothing(sqlite_url: str, tmp_path: Any) -> None:
    runner = CliRunner()
    env = {"LEDGER_DB": sqlite_url, "LEDGER_ACTOR": "系统管理员", "LEDGER_ROLE": "admin"}
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    bad = tmp_path / "rules.toml"
    bad.write_text(
        '[channels.a]\nkind = "wecom"\n[[rules]]\nname = "x"\n'
        'events = ["ledger.ticket.escalatd.*"]\nchannels = ["b"]\nnotify = ["nobody"]\n',
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["notify", "rules", "load", str(bad)], env=env)
    assert result.exit_code == 2
    assert "channels.a: give exactly one of url and url_env" in result.output
    assert "Traceback" not in result.output and "nothing recorded" in result.output
    bad.write_text(
        '[channels.a]\nkind = "wecom"\nurl = "https://x.example"\n[[rules]]\nname = "x"\n'
        'events = ["ledger.ticket.escalatd.*"]\nchannels = ["b"]\nnotify = ["nobody"]\n',
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["notify", "rules", "load", str(bad)], env=env)
    assert result.exit_code == 2
    assert "rules[0].channels: no channel 'b'" in result.output
    assert "rules[0].notify: no person or group 'nobody'" in result.output
    shown = runner.invoke(cli, ["notify", "rules", "show"], env=env)
    assert shown.exit_code == 2 and "no notification rules loaded" in shown.output
    dispatcher = runner.invoke(
        cli,
        ["notify", "rules", "load", "examples/notify-rules.toml"],
        env={**env, "LEDGER_ROLE": "dispatcher"},
    )
    assert dispatcher.exit_code != 0 and "admin" in dispatcher.output


def test_notify_commands_refuse_bad_input_without_a_traceback(sqlite_url: str) -> None:
    runner = CliRunner()
    env = {"LEDGER_DB": sqlite_url}
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    cases = [
        (["notify", "run", "--once", "--retry-schedule", "0,5,soon"], "'soon' is not a number"),
        (["notify", "run", "--once", "--retry-schedule", "0,-5"], "-5 is negative"),
        (["notify", "replay"], "give a MESSAGE_ID or --dead"),
        (["notify", "replay", "x", "--dead"], "give a MESSAGE_ID or --dead"),
    ]
    for args, message in cases:
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    empty = runner.invoke(cli, ["notify", "deliveries", "--json"], env=env)
    assert empty.exit_code == 0 and json.loads(empty.output) == []
    once = runner.invoke(cli, ["notify", "run", "--once"], env=env)
    assert once.exit_code == 0 and "decided 0 event(s), tried 0 message(s)" in once.output
    missing = runner.invoke(cli, ["notify", "run", "--once"], env={"LEDGER_DB": sqlite_url + "x"})
    assert missing.exit_code == 2 and "ledger init" in missing.output
