"""Adapter: China's official working-day table, from the ``chinesecalendar`` package.

The package bundles the State Council's yearly holiday notices (放假安排) as two dicts:
``holidays`` (every day off of each holiday period, weekends included) and ``workdays``
(the weekend days worked in lieu, 调休). A year is known when the package has holidays for
it; for any other year the resulting :class:`WorkCalendar` raises ``CalendarError`` rather
than guess, and an operator adds the year (``ledger calendar load FILE.toml``).
"""

from __future__ import annotations

from functools import cache

import chinese_calendar

from ledger.domain.calendar import WorkCalendar
from ledger.domain.holidays import HolidayTable


@cache
def china_official_calendar() -> WorkCalendar:
    """The official calendar for every year the installed ``chinesecalendar`` covers."""
    holidays = frozenset(chinese_calendar.holidays)
    workdays = frozenset(chinese_calendar.workdays)
    years = frozenset(day.year for day in holidays)
    return WorkCalendar(holidays=holidays, workdays=workdays, years=years)


@cache
def bundled_table(year: int) -> HolidayTable | None:
    """The bundled table of one year, as a loaded table would be; ``None`` if not bundled."""
    holidays = tuple(day for day in chinese_calendar.holidays if day.year == year)
    if not holidays:
        return None
    return HolidayTable(
        year=year,
        holidays=holidays,
        workdays=tuple(day for day in chinese_calendar.workdays if day.year == year),
        # the package's own version string (importlib.metadata costs a cold start 12 ms)
        source=f"chinesecalendar {chinese_calendar.__version__} (bundled)",
    )
