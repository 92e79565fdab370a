"""Contracts and holiday tables: read from TOML files, validated, recorded as events.

A file that fails validation records nothing and yields every problem with its key path
(``targets.emergency.respond: "5 minuts" is not a duration``). Loading the same file twice
records nothing the second time, so loads can be scripted and re-run.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import TypeAdapter, ValidationError

from ledger.adapters.chinese_calendar import bundled_table, china_official_calendar
from ledger.clock import Clock
from ledger.commands.application import ConcurrentChange, ContractNotFound
from ledger.commands.models import CommandError, Loc, describe_validation_error, key_path
from ledger.commands.registry import authorise
from ledger.commands.store import Store
from ledger.domain.calendar import CalendarError, WorkCalendar
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
from ledger.domain.errors import Unchanged
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


_CONTRACTID: TypeAdapter[str] = TypeAdapter(ContractId)
T = TypeVar("T")


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
            contract_id = _CONTRACTID.validate_python(raw_id)
        except ValidationError as e:
            problems += [f"id: {item['msg']}" for item in e.errors(include_url=False)]
    try:
        policy = Policy.model_validate(body)
    except ValidationError as e:
        problems += describe_validation_error(e)
    if problems:
        raise CommandError(problems)
    return ContractFile(contract_id, policy)


def read_file(path: Path, parse: Callable[[dict[str, Any]], T]) -> T:
    """Read and parse one TOML file; every problem starts with the file's name."""
    data = read_toml(path)
    try:
        return parse(data)
    except CommandError as e:
        raise CommandError([f"{path}: {problem}" for problem in e.problems]) from None


def read_contract_files(paths: Sequence[Path]) -> list[ContractFile]:
    """Every file parsed, or one ``CommandError`` with every problem of every file
    (``FILE: key.path: message``); two files with the same id are a problem too."""
    documents: list[ContractFile] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            document = read_file(path, parse_contract)
        except CommandError as e:
            problems += e.problems
            continue
        first = seen.setdefault(document.contract_id, path)
        if first is not path:
            problems.append(f'{path}: id: "{document.contract_id}" is also the id in {first}')
        documents.append(document)
    if problems:
        raise CommandError(problems)
    return documents


# --------------------------------------------------------------------------- holiday files

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_RANGE = ".."
_LONGESTPERIOD = 31
"""No holiday period is longer than a month: a longer range is a typo in a year."""


def _day(text: str) -> date | None:
    text = text.strip()
    if not _ISO_DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _entry_days(entry: object) -> list[date]:
    """One entry of ``holidays`` / ``workdays``: a date, ``"YYYY-MM-DD"`` or
    ``"YYYY-MM-DD..YYYY-MM-DD"`` (both ends included), as the days it names."""
    if isinstance(entry, datetime):
        raise ValueError(f"{entry.isoformat()} has a time of day: give a date")
    if isinstance(entry, date):
        return [entry]
    start = end = None
    if isinstance(entry, str):
        first, dots, last = entry.partition(_RANGE)
        start = _day(first)
        end = _day(last) if dots else start
    if start is None or end is None:
        shown = f'"{entry}"' if isinstance(entry, str) else repr(entry)
        raise ValueError(
            f"{shown} is not a date or a range of dates "
            '(e.g. 2027-10-01, "2027-10-01" or "2027-10-01..2027-10-07")'
        )
    length = (end - start).days + 1
    if length < 1:
        raise ValueError(f'"{entry}" ends before it starts')
    if length > _LONGESTPERIOD:
        raise ValueError(f'"{entry}" is {length} days long: a holiday period is at most a month')
    return [start + timedelta(days=n) for n in range(length)]


def _expand_days(key: str, entries: list[object]) -> tuple[list[object], list[int], dict[str, str]]:
    """The entries with their ranges expanded; for each day, the index of its entry in the
    file (so an error names ``holidays[3]``, not the position after expansion); and the
    problem of each entry that names no days (such an entry is passed on as it is)."""
    days: list[object] = []
    origins: list[int] = []
    problems: dict[str, str] = {}
    for index, entry in enumerate(entries):
        found: list[object]
        try:
            found = list(_entry_days(entry))
        except ValueError as e:
            problems[f"{key}[{index}]"] = str(e)
            found = [entry]
        days += found
        origins += [index] * len(found)
    return days, origins, problems


def parse_holiday_table(data: dict[str, Any]) -> HolidayTable:
    """A calendar file's contents (``year``, ``source``, ``holidays``, ``workdays``), with
    ranges expanded; every problem at once, with the key path of the entry in the file
    (one problem per entry, not one per day of a range)."""
    body = dict(data)
    origins: dict[str, list[int]] = {}
    by_entry: dict[str, str] = {}
    for key in ("holidays", "workdays"):
        entries = body.get(key)
        if isinstance(entries, list):
            body[key], origins[key], found = _expand_days(key, entries)
            by_entry.update(found)
    problems = [f"{path}: {message}" for path, message in by_entry.items()]

    def locate(loc: Loc) -> str:
        if len(loc) > 1 and isinstance(loc[1], int) and str(loc[0]) in origins:
            loc = (loc[0], origins[str(loc[0])][loc[1]], *loc[2:])
        return key_path(loc)

    table: HolidayTable | None = None
    try:
        table = HolidayTable.model_validate(body)
    except ValidationError as e:
        named = set(by_entry)
        for problem in describe_validation_error(e, locate=locate):
            path = problem.partition(": ")[0]
            if path.endswith("]") and path in named:
                continue
            named.add(path)
            problems.append(problem)
    if problems or table is None:
        raise CommandError(problems)
    return table


@dataclass(frozen=True)
class YearTable:
    """The working-day table the ledger uses for a year, and where it comes from."""

    table: HolidayTable
    loaded: bool
    """True: loaded with ``ledger calendar load``; False: the bundled table."""
    bundled: bool
    """Whether the bundled table has this year (a loaded table then replaces it)."""


@dataclass(frozen=True)
class Loaded:
    """What loading one contract file did."""

    contract: Contract
    outcome: Literal["registered", "revised", "unchanged"]


class VersionedCache:
    """Values derived from one aggregate's events, each kept with the aggregate's version
    when it was derived and used while that is still its last version (one indexed read of
    the last event's version, nothing decoded). A loaded contract or holiday table is a new
    version: the next read folds afresh, in this process or any other. The values are
    immutable; a lost race between threads only folds twice."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], tuple[int | None, Any]] = {}

    def get(
        self, key: tuple[Any, ...], store: Store, aggregate_id: UUID, derive: Callable[[], T]
    ) -> T:
        version = store.last_version(aggregate_id)
        kept = self._kept.get(key)
        if kept is not None and kept[0] == version:
            value: T = kept[1]
            return value
        value = derive()
        if len(self._kept) >= self.LIMIT:
            self._kept.clear()
        self._kept[key] = (version, value)
        return value


class ContractService:
    """Registers and revises contracts, loads holiday tables, and answers which policy and
    which working-day calendar apply."""

    def __init__(self, store: Store, clock: Clock, *, keep_states: bool = True) -> None:
        """``keep_states``: keep what was folded (:class:`VersionedCache`); off for a
        store that keeps states itself (the importer's staged batch), where checking the
        version would cost a query per lookup."""
        self.store = store
        self.clock = clock
        self._states = VersionedCache() if keep_states else None
        """Contracts, the holiday calendar and the work calendar, by the version of the
        aggregate they were folded from: every read and judgement asked for them again,
        folding the same events (a third of ``GET /tickets/T``; issue 18)."""

    def _kept(self, key: tuple[Any, ...], aggregate_id: UUID, derive: Callable[[], T]) -> T:
        if self._states is None:
            return derive()
        return self._states.get(key, self.store, aggregate_id, derive)

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
        authorise("contract_load", role, actor=actor)
        event = self._plan(document, self._stamp(actor, role), effective_from, note)
        self._save([event], document.contract_id)
        return self.get(document.contract_id)

    def load_many(
        self,
        documents: Sequence[ContractFile],
        *,
        actor: str,
        role: Role,
        effective_from: datetime | None = None,
        note: str | None = None,
    ) -> list[Loaded]:
        """Load several contracts at once: all of them, or (on any error) none. A contract
        whose policy is already its latest is ``unchanged``, not an error."""
        authorise("contract_load", role, actor=actor)
        ids = [d.contract_id for d in documents]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise CommandError([f"contract {repeated[0]} is given more than once"])
        stamp = self._stamp(actor, role)
        events: list[ContractEvent] = []
        outcomes: list[Literal["registered", "revised", "unchanged"]] = []
        for document in documents:
            try:
                event = self._plan(document, stamp, effective_from, note)
            except Unchanged:
                outcomes.append("unchanged")
                continue
            events.append(event)
            outcomes.append("registered" if isinstance(event, ContractRegistered) else "revised")
        if events:
            self._save(events, ", ".join(ids))
        return [Loaded(self.get(i), outcome) for i, outcome in zip(ids, outcomes, strict=True)]

    def _plan(
        self,
        document: ContractFile,
        stamp: Stamp,
        effective_from: datetime | None,
        note: str | None,
    ) -> ContractEvent:
        existing = self.find(document.contract_id)
        if existing is not None:
            return decide_revise(existing, document.policy, stamp, effective_from, note)
        if effective_from is not None:
            raise CommandError(
                [
                    f"contract {document.contract_id} is new: its first policy has no "
                    "effective time (it applies to every ticket until a revision)"
                ]
            )
        return decide_register(document.contract_id, document.policy, stamp)

    def _save(self, events: Sequence[ContractEvent], what: str) -> None:
        try:
            self.store.save(*events)
        except IntegrityError as e:
            raise ConcurrentChange(f"contract {what} changed concurrently, retry") from e

    def find(self, contract_id: str) -> Contract | None:
        aggregate_id = contract_uuid(contract_id)

        def fold() -> Contract | None:
            try:
                contract: Contract = self.store.get(aggregate_id, project_contract)
            except AggregateNotFoundError:
                return None
            return contract

        return self._kept(("contract", aggregate_id), aggregate_id, fold)

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
        registered = self.store.select(ContractRegistered)
        ids = [e.contract_id for e in registered if isinstance(e, ContractRegistered)]
        return [self.get(i) for i in sorted(ids)]

    # ------------------------------------------------------------------ calendar

    def load_holidays(self, table: HolidayTable, *, actor: str, role: Role) -> HolidayCalendar:
        authorise("calendar_load", role, actor=actor)
        event = decide_load(self.holiday_calendar(), table, self._stamp(actor, role))
        try:
            self.store.save(event)
        except IntegrityError as e:
            raise ConcurrentChange("the holiday calendar changed concurrently, retry") from e
        calendar = self.holiday_calendar()
        assert calendar is not None
        return calendar

    def holiday_calendar(self) -> HolidayCalendar | None:
        def fold() -> HolidayCalendar | None:
            try:
                calendar: HolidayCalendar = self.store.get(HOLIDAY_CALENDAR_ID, project_holidays)
            except AggregateNotFoundError:
                return None
            return calendar

        return self._kept(("holidays",), HOLIDAY_CALENDAR_ID, fold)

    def find_holiday_table(self, year: int) -> YearTable | None:
        """The table the ledger uses for ``year``: the loaded one, else the bundled one."""
        loaded = self.holiday_calendar()
        table = loaded.table_for(year) if loaded else None
        bundled = bundled_table(year)
        if table is not None:
            return YearTable(table, loaded=True, bundled=bundled is not None)
        if bundled is not None:
            return YearTable(bundled, loaded=False, bundled=True)
        return None

    def holiday_table(self, year: int) -> YearTable:
        """As :meth:`find_holiday_table`; ``CalendarError`` (saying how to load the year)
        when the ledger has no table for it."""
        found = self.find_holiday_table(year)
        if found is None:
            raise CalendarError(year, self.work_calendar().years)
        return found

    def work_calendar(self) -> WorkCalendar:
        """China's official calendar: the bundled table, with loaded years replacing theirs."""

        def build() -> WorkCalendar:
            loaded = self.holiday_calendar()
            return with_tables(china_official_calendar(), loaded.tables if loaded else ())

        return self._kept(("work calendar",), HOLIDAY_CALENDAR_ID, build)
