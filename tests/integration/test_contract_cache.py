"""The contracts and calendars a read is judged by are kept between reads (issue 18: the
policy lookup was a third of ``GET /tickets/T``) and never outlive a revision: a contract
or holiday table loaded by another process (another ``Ledger`` on the same database) is
seen by the next read."""

from __future__ import annotations

from datetime import date

from ledger.commands.contracts import ContractFile, parse_contract, read_toml
from ledger.domain.holidays import HolidayTable
from ledger.domain.values import Role
from tests.support import SEED_CONTRACTS, open_desk


def test_a_revision_by_another_writer_is_seen_by_the_next_read(db_url: str) -> None:
    desk = open_desk(db_url)
    rival = open_desk(db_url, create=False)
    try:
        ticket = desk.report(contract="seed-003")
        before = desk.ledger.contracts.find("seed-003")
        assert before is not None
        assert desk.ledger.contracts.find("seed-003") is before  # kept, not folded again
        judged = desk.ledger.queries.judge(ticket)

        document = parse_contract(read_toml(next(p for p in SEED_CONTRACTS if "003" in p.stem)))
        revised = ContractFile(
            document.contract_id, document.policy.model_copy(update={"customer": "新客户"})
        )
        rival.ledger.contracts.load(revised, actor="admin", role=Role.ADMIN)

        after = desk.ledger.contracts.find("seed-003")
        assert after is not None and after is not before
        assert after.latest.policy.customer == "新客户"
        assert after.version == before.version + 1
        assert desk.ledger.queries.judge(ticket) == judged  # same rules: same verdicts
        assert desk.ledger.contracts.find("no-such-contract") is None
    finally:
        rival.ledger.close()
        desk.ledger.close()


def test_a_holiday_table_loaded_elsewhere_changes_the_work_calendar(db_url: str) -> None:
    desk = open_desk(db_url)
    rival = open_desk(db_url, create=False)
    try:
        calendar = desk.ledger.contracts.work_calendar()
        assert desk.ledger.contracts.work_calendar() is calendar
        day = date(2027, 3, 3)  # a Wednesday of a year not bundled yet
        assert not calendar.knows(day)

        table = HolidayTable(year=2027, holidays=(day,), workdays=())
        rival.ledger.contracts.load_holidays(table, actor="admin", role=Role.ADMIN)

        fresh = desk.ledger.contracts.work_calendar()
        assert fresh is not calendar and fresh.knows(day) and not fresh.is_workday(day)
    finally:
        rival.ledger.close()
        desk.ledger.close()
