"""Contracts and holiday tables: read from TOML files, validated, recorded as events.

A file that fails validation records nothing and yields every problem with its key path
(``targets.emergency.respond: "5 minuts" is not a duration``). Loading the same file twice
records nothing the second time, so loads can be scripted and re-run.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from pydantic import TypeAdapter, ValidationError

from ledger.calendars import china_official_calendar
from ledger.clock import Clock
from ledger.commands.models import CommandError, describe_validation_error
from ledger.commands.service import ConcurrentChange, ContractNotFound, LedgerApplication
from ledger.domain.calendar import WorkCalendar
from ledger.domain.contract import (
    Contract,
    ContractEvent,
    ContractId,
    ContractRegistered,
    Policy,
    contract_uuid,
    decide_register,
    decide_revise,
    project_contract,
)
from ledger.domain.holidays import (
    HOLIDAY_CALENDAR_ID,
    HolidayCalendar,
    HolidayTable,
    decide_load,
    project_holidays,
    with_tables,
)
from ledger.domain.model import Stamp
from ledger.domain.values import Role


@dataclass(frozen=True)
class ContractFile:
    contract_id: str
    policy: Policy


_CONTRACT_ID: TypeAdapter[str] = TypeAdapter(ContractId)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; ``CommandError`` for an unreadable or malformed file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise CommandError([f"{path}: cannot read ({e.strerror})"]) from None
    except UnicodeDecodeError as e:
        raise CommandError([f"{path}: not valid UTF-8 ({e.reason} at byte {e.start})"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CommandError([f"{path}: not valid TOML: {e}"]) from None


def parse_contract(data: dict[str, Any]) -> ContractFile:
    """A contract file's contents: its ``id`` and its policy; every problem at once."""
    body = dict(data)
    raw_id = body.pop("id", None)
    problems: list[str] = []
    contract_id = ""
    if raw_id is None:
        problems.append("id: is required")
    else:
        try:
            contract_id = _CONTRACT_ID.validate_python(raw_id)
        except ValidationError as e:
            problems += [f"id: {item['msg']}" for item in e.errors(include_url=False)]
    try:
        policy = Policy.model_validate(body)
    except ValidationError as e:
        problems += describe_validation_error(e)
    if problems:
        raise CommandError(problems)
    return ContractFile(contract_id, policy)


def parse_holiday_table(data: dict[str, Any]) -> HolidayTable:
    try:
        return HolidayTable.model_validate(data)
    except ValidationError as e:
        raise CommandError(describe_validation_error(e)) from None


class ContractService:
    """Registers and revises contracts, loads holiday tables, and answers which policy and
    which working-day calendar apply."""

    def __init__(self, app: LedgerApplication, clock: Clock) -> None:
        self.app = app
        self.clock = clock

    def _stamp(self, actor: str, role: Role) -> Stamp:
        now = self.clock.now()
        return Stamp(actor=actor, role=role, occurred_at=now, recorded_at=now)

    # ------------------------------------------------------------------ contracts

    def load(
        self,
        document: ContractFile,
        *,
        actor: str,
        role: Role,
        effective_from: datetime | None = None,
        note: str | None = None,
    ) -> Contract:
        """Register a new contract or revise an existing one; ``Unchanged`` if identical."""
        stamp = self._stamp(actor, role)
        existing = self.find(document.contract_id)
        event: ContractEvent
        if existing is None:
            if effective_from is not None:
                raise CommandError(
                    [
                        f"contract {document.contract_id} is new: its first policy has no "
                        "effective time (it applies to every ticket until a revision)"
                    ]
                )
            event = decide_register(document.contract_id, document.policy, stamp)
        else:
            event = decide_revise(existing, document.policy, stamp, effective_from, note)
        try:
            self.app.save(event)
        except IntegrityError as e:
            raise ConcurrentChange(
                f"contract {document.contract_id} changed concurrently, retry"
            ) from e
        return self.get(document.contract_id)

    def find(self, contract_id: str) -> Contract | None:
        try:
            contract: Contract = self.app.repository.get(
                contract_uuid(contract_id), projector_func=project_contract
            )
        except AggregateNotFoundError:
            return None
        return contract

    def get(self, contract_id: str) -> Contract:
        contract = self.find(contract_id)
        if contract is None:
            raise ContractNotFound(
                f"no contract {contract_id}: load it with `ledger contract load FILE.toml`"
            )
        return contract

    def policy_at(self, contract_id: str, when: datetime) -> Policy:
        """The policy a ticket of this contract reported at ``when`` is judged by."""
        return self.get(contract_id).policy_at(when)

    def list(self) -> list[Contract]:
        """Every contract, by id. Contracts are few, so this scans their registrations."""
        topic = get_topic(ContractRegistered)
        ids: list[str] = []
        start = 0
        while True:
            page = self.app.recorder.select_notifications(
                start=start, limit=500, topics=[topic], inclusive_of_start=False
            )
            if not page:
                break
            for notification in page:
                event = self.app.mapper.to_domain_event(notification)
                assert isinstance(event, ContractRegistered)
                ids.append(event.contract_id)
            start = page[-1].id
        return [self.get(i) for i in sorted(ids)]

    # ------------------------------------------------------------------ calendar

    def load_holidays(self, table: HolidayTable, *, actor: str, role: Role) -> HolidayCalendar:
        event = decide_load(self.holiday_calendar(), table, self._stamp(actor, role))
        try:
            self.app.save(event)
        except IntegrityError as e:
            raise ConcurrentChange("the holiday calendar changed concurrently, retry") from e
        calendar = self.holiday_calendar()
        assert calendar is not None
        return calendar

    def holiday_calendar(self) -> HolidayCalendar | None:
        try:
            calendar: HolidayCalendar = self.app.repository.get(
                HOLIDAY_CALENDAR_ID, projector_func=project_holidays
            )
        except AggregateNotFoundError:
            return None
        return calendar

    def work_calendar(self) -> WorkCalendar:
        """China's official calendar: the bundled table, with loaded years replacing theirs."""
        loaded = self.holiday_calendar()
        return with_tables(china_official_calendar(), loaded.tables if loaded else ())
