"""An id that belongs to another kind of aggregate (a contract, a visit, an action, a
complaint, a number sequence) where a ticket, visit, action or complaint is expected is
"not found" everywhere: the services, ``ledger import`` (only that line is rejected), the
API, the dashboard and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import AggregateNotFoundError

from ledger.commands.application import TicketNotFound
from ledger.commands.quality import RecordNotFound
from ledger.commands.registry import parse_quality_command
from ledger.domain import complaint as cp
from ledger.domain import contract as ct
from ledger.domain import corrective_action as ca
from ledger.domain import return_visit as rv
from ledger.domain.numbering import Series, ticket_id_for
from ledger.domain.values import Role
from tests.e2e.test_cli import REPORT_ARGS, make_cli
from tests.e2e.test_dashboard_web import Web, web  # noqa: F401  (the fixture)
from tests.integration.test_import_batch import NOW, run_import
from tests.support import SHANGHAI, USER_ADMIN, Desk, open_desk

QUALITY = {"actor": "周质检", "role": "quality"}


def foreign_ids(desk: Desk) -> dict[str, UUID]:
    """A visit, an action and a complaint recorded on ``desk``'s ledger; the ids of every
    kind of aggregate that is not a ticket."""
    quality = desk.ledger.quality

    def record(command: str, **fields: Any) -> UUID:
        data = {**QUALITY, "command": command, **fields}
        outcome = quality.execute(parse_quality_command(data, SHANGHAI), retries=1)
        return outcome.events[-1].originator_id

    return {
        "contract": ct.contract_uuid("seed-002"),
        "ticket sequence": Series.TICKET.sequence_id(2026),
        "visit": record("visit_schedule", contract="seed-000", visitor="刘工"),
        "action": record(
            "action_raise", content="内审", source="internal_audit", department="质量部"
        ),
        "complaint": record(
            "complaint_receive",
            contract="seed-004",
            about="product",
            reference="打印机",
            category="quality",
            content="卡纸",
        ),
    }


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    desk = open_desk(db_url, at=NOW)
    desk.report()
    yield desk
    desk.ledger.close()


def test_the_services_answer_not_found_for_an_aggregate_of_another_kind(desk: Desk) -> None:
    ids = foreign_ids(desk)
    tickets, repository = desk.ledger.tickets, desk.ledger.app.repository
    for kind, uuid in ids.items():
        with pytest.raises(TicketNotFound, match=f"no ticket {uuid}"):
            tickets.get(str(uuid))
        with pytest.raises(TicketNotFound):
            tickets.get(uuid, version=1)
        with pytest.raises(TicketNotFound):
            tickets.history(str(uuid))
        with pytest.raises(TicketNotFound):
            desk.do("respond", ticket=str(uuid))
        # A visit naming such an id as its ticket: the ticket is not found.
        with pytest.raises(TicketNotFound):
            data = {**QUALITY, "command": "visit_schedule", "ticket": str(uuid), "visitor": "刘工"}
            desk.ledger.quality.execute(parse_quality_command(data, SHANGHAI))
        # Each quality aggregate, loaded by the id of another kind: not found either.
        projectors = {
            "visit": rv.project_visit,
            "action": ca.project_action,
            "complaint": cp.project_complaint,
            "contract": ct.project_contract,
        }
        for name, projector in projectors.items():
            if name != kind:
                with pytest.raises(AggregateNotFoundError):
                    repository.get(uuid, projector_func=projector)
    ticket_id = ticket_id_for("T-2026-000001")
    for projector in (rv.project_visit, ca.project_action, cp.project_complaint):
        with pytest.raises(AggregateNotFoundError):
            repository.get(ticket_id, projector_func=projector)
    with pytest.raises(RecordNotFound):
        desk.ledger.quality.get(str(ticket_id))


def test_import_rejects_only_the_line_naming_another_kind(desk: Desk, tmp_path: Path) -> None:
    ids = foreign_ids(desk)
    lines: list[dict[str, Any]] = [{"command": "respond", "ticket": "T-2026-000001"}]
    lines += [{"command": "dispatch", "ticket": str(u), "engineer": "王工"} for u in ids.values()]
    lines += [{"command": "dispatch", "ticket": "T-2026-000001", "engineer": "王工"}]
    path = tmp_path / "lines.jsonl"
    path.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n")
    report = run_import(desk.ledger, path)
    assert report.applied == 2
    assert [r.line for r in report.rejected] == list(range(2, 2 + len(ids)))
    assert all("no ticket" in r.reason for r in report.rejected), report.rejected
    assert desk.ledger.tickets.get("T-2026-000001").engineer == "王工"


def test_api_and_dashboard_answer_404(web: Web) -> None:  # noqa: F811
    ids = foreign_ids(web.desk)
    web.tokens["api"] = web.users.add("api", Role.AUDITOR, **USER_ADMIN)[1]
    bearer = {"Authorization": f"Bearer {web.tokens['api']}"}
    for uuid in ids.values():
        for path in (f"/tickets/{uuid}", f"/tickets/{uuid}/history"):
            response = web.client.get(path, headers=bearer)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["detail"] == f"no ticket {uuid}"  # a problem (RFC 9457)
    web.login_as("auditor")
    for uuid in ids.values():
        for path in (f"/dashboard/tickets/{uuid}", f"/dashboard/tickets/{uuid}/dossier.html"):
            assert web.client.get(path).status_code == 404, path


def test_the_cli_says_no_ticket_and_exits_2(db_url: str) -> None:
    cli = make_cli(db_url)
    cli.run(*REPORT_ARGS)
    for uuid in (ct.contract_uuid("seed-002"), Series.TICKET.sequence_id(2026)):
        auditor = {"LEDGER_ACTOR": "审计", "LEDGER_ROLE": "auditor"}
        for args, env in (
            (("ticket", "show", str(uuid)), {}),
            (("ticket", "show", str(uuid), "--at-version", "1"), {}),
            (("ticket", "history", str(uuid)), {}),
            (("ticket", "respond", str(uuid)), {}),
            (("export", "--ticket", str(uuid)), auditor),
        ):
            result = cli.run(*args, ok=False, **env)
            assert result.returncode == 2, (args, result.stderr)
            assert f"no ticket {uuid}" in result.stderr, (args, result.stderr)
            assert "internal error" not in result.stderr
