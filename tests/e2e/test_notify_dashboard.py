"""The dashboard's notifications page: deliveries and failures, for managers only."""

from __future__ import annotations

import pytest

from ledger.commands.users import Users
from ledger.domain.values import Role
from ledger.web import create_app
from tests.e2e.test_dashboard_web import Web
from tests.integration.test_notify import SEED_003, load_rules, notifier, rules_for, sweep_at
from tests.receivers import Receiver
from tests.support import SHANGHAI, USER_ADMIN, open_desk


def test_managers_see_deliveries_and_failures_others_are_refused(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    monkeypatch.setenv("TEST_DING_SECRET", "SECx")
    monkeypatch.setenv("TEST_FEISHU_SECRET", "x")
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", "whsec_MDEyMzQ1Njc4OWFiY2RlZg==")
    receivers = {
        "wecom": Receiver("wecom").start(),
        "ding": Receiver("dingtalk", "SECx").start(),
        "feishu": Receiver("feishu", "x").start(),
    }
    receivers["hook"] = Receiver("webhook", "whsec_MDEyMzQ1Njc4OWFiY2RlZg==").start()
    receivers["ding"].status = 500
    desk = open_desk(sqlite_url)
    try:
        load_rules(desk, rules_for(receivers))
        ticket = desk.report(**SEED_003)
        sweep_at(desk, 7)  # seed 003: the first level at +6 min (09:06), the second at +11
        notifier(desk, schedule=(0,)).run_once()  # the robot's 500 on the only try: dead
        users = Users(desk.ledger.engine, desk.clock, desk.ledger.app)
        app = create_app(sqlite_url, clock=desk.clock, tz=SHANGHAI)
        with TestClient(app, follow_redirects=False) as client:
            web = Web(desk, client, users, {})
            for name, role in (("总工办", Role.CHIEF_ENGINEER_OFFICE), ("auditor", Role.AUDITOR)):
                web.tokens[name] = users.add(name, role, **USER_ADMIN)[1]
            web.login_as("总工办")
            page = web.page("/dashboard/notifications").text
            assert "投递失败（已放弃）" in page and 'href="/dashboard/notifications"' in page
            dead = page.split('id="dead"')[1].split("</table>")[0]
            assert ticket.number in dead and "ops-ding" in dead and "500" in dead
            assert "ops-wecom" not in dead
            assert (
                "已失败 <strong>1</strong>"
                in page.split('id="delivery-counts"')[1].split("</p>")[0]
            )
            web.login_as("auditor")
            refused = client.get("/dashboard/notifications")
            assert refused.status_code == 403
            assert 'href="/dashboard/notifications"' not in web.page("/dashboard").text
    finally:
        desk.ledger.close()
        for r in receivers.values():
            r.stop()
