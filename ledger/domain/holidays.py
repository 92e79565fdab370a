"""Holiday notices (放假安排): the official working-day table of a year, loaded as events.

The State Council publishes next year's holidays and make-up workdays (调休) each autumn,
often after the bundled table (``chinesecalendar``) was released. An operator types the
notice into a small file and loads it; the ledger records it as a fact
(``HolidayTableLoaded``) so that every SLA verdict that depends on it can be reproduced
later, and a corrected table is a new event, never an edit. Loaded tables take precedence
over the bundled one for their year.
"""

from __future__ import annotations

from datetime import date
from functools import singledispatch
from typing import Annotated
from uuid import UUID, uuid5

from pydantic import AfterValidator, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from ledger.domain.calendar import WorkCalendar
from ledger.domain.errors import Unchanged
from ledger.domain.model import (
    Aggregate,
    DomainEvent,
    Immutable,
    ShortText,
    Stamp,
    evolve,
    fold,
    recorded_events,
)
from ledger.domain.numbering import NAMESPACE

HOLIDAY_CALENDAR_ID: UUID = uuid5(NAMESPACE, "calendar:cn")
"""The one aggregate that holds every loaded notice (China's calendar is national)."""

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def _in_year(day: date, info: ValidationInfo) -> date:
    """Each listed day lies in the table's year (checked per entry, so the error names it)."""
    year = info.data.get("year")
    if year is not None and day.year != year:
        raise PydanticCustomError("holiday_table", f"{day} is not in {year}")
    return day


def _weekend(day: date) -> date:
    if day.weekday() < 5:
        raise PydanticCustomError(
            "holiday_table",
            f"{day} is a {_WEEKDAY_NAMES[day.weekday()]}: only a Saturday or Sunday "
            "can be a make-up workday",
        )
    return day


DayOff = Annotated[date, AfterValidator(_in_year)]
MakeUpWorkday = Annotated[date, AfterValidator(_in_year), AfterValidator(_weekend)]


class HolidayTable(Immutable):
    """One year's official table: the days off and the weekend days worked instead."""

    year: int = Field(ge=2000, le=2100)
    holidays: tuple[DayOff, ...] = Field(description="days off; a whole period may be listed")
    workdays: tuple[MakeUpWorkday, ...] = Field(
        default=(), description="weekend days worked (调休)"
    )
    source: ShortText | None = Field(default=None, description="the notice, e.g. 国办发明电〔…〕")

    @model_validator(mode="after")
    def _consistent(self) -> HolidayTable:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise PydanticCustomError(
                "holiday_table", f"{both[0]} is listed both as a holiday and a workday"
            )
        if not self.holidays:
            raise PydanticCustomError("holiday_table", "a year has at least one holiday")
        object.__setattr__(self, "holidays", tuple(sorted(set(self.holidays))))
        object.__setattr__(self, "workdays", tuple(sorted(set(self.workdays))))
        return self


class HolidayTableLoaded(DomainEvent):
    table: HolidayTable


HOLIDAY_EVENT_TYPES: tuple[type[DomainEvent], ...] = recorded_events(HolidayTableLoaded)
"""Every recorded event of the holiday calendar: the classes register themselves."""


class HolidayCalendar(Aggregate):
    """Every table loaded so far, the latest per year winning."""

    tables: tuple[HolidayTable, ...] = ()

    def table_for(self, year: int) -> HolidayTable | None:
        return next((t for t in reversed(self.tables) if t.year == year), None)


def decide_load(
    calendar: HolidayCalendar | None, table: HolidayTable, stamp: Stamp
) -> HolidayTableLoaded:
    if calendar is not None and calendar.table_for(table.year) == table:
        raise Unchanged(f"the {table.year} table is already loaded: nothing recorded")
    version = 1 if calendar is None else calendar.version + 1
    return HolidayTableLoaded(**stamp.envelope(HOLIDAY_CALENDAR_ID, version), table=table)


def with_tables(official: WorkCalendar, tables: tuple[HolidayTable, ...]) -> WorkCalendar:
    """The bundled official calendar with the loaded tables replacing their years."""
    calendar = official
    for table in tables:
        calendar = calendar.with_year(table.year, table.holidays, table.workdays)
    return calendar


@singledispatch
def mutate(event: DomainEvent, calendar: HolidayCalendar | None) -> HolidayCalendar:
    raise NotImplementedError(type(event).__name__)  # pragma: no cover


@mutate.register
def _(event: HolidayTableLoaded, calendar: HolidayCalendar | None) -> HolidayCalendar:
    if calendar is None:
        return HolidayCalendar.started_by(event, tables=(event.table,))
    return evolve(calendar, event, tables=(*calendar.tables, event.table))


def project_holidays(calendar: HolidayCalendar | None, events: object) -> HolidayCalendar | None:
    """Projector function for the library's ``Repository.get(projector_func=...)``."""
    return fold(mutate, calendar, events, HolidayTableLoaded)
