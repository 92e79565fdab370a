"""Working days (工作日): which calendar dates count for business-time clocks.

In China a working day is Monday–Friday, minus the statutory holidays, plus the weekend days
that the State Council's yearly notice turns into working days (调休). Neither list can be
computed: it is published once a year. So a :class:`WorkCalendar` knows an explicit set of
years and refuses to answer for any other year (:class:`CalendarError`) instead of guessing
Monday–Friday, because a wrong guess would silently turn a kept promise into a breach.

The official table comes from an adapter (``ledger.adapters.chinese_calendar``); this module
stays pure so the SLA arithmetic, projections and tests can build calendars from plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from ledger.domain.errors import DomainError

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


class CalendarError(DomainError):
    """The calendar cannot say whether a date is a working day: its year is not loaded."""

    def __init__(self, year: int, known: Iterable[int]) -> None:
        self.year = year
        self.known = frozenset(known)
        super().__init__(
            f"no official working-day table for {year}{_known_suffix(self.known)}: "
            "load it with `ledger calendar load FILE.toml`"
        )


def _known_suffix(years: frozenset[int]) -> str:
    if not years:
        return " (no years are loaded)"
    return f" (known years: {_year_ranges(years)})"


def _year_ranges(years: frozenset[int]) -> str:
    """``{2004, ..., 2026, 2028}`` → ``"2004–2026, 2028"``."""
    ordered = sorted(years)
    runs: list[tuple[int, int]] = []
    for year in ordered:
        if runs and runs[-1][1] == year - 1:
            runs[-1] = (runs[-1][0], year)
        else:
            runs.append((year, year))
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def _is_weekend(day: date) -> bool:
    return day.weekday() >= _SATURDAY


@dataclass(frozen=True)
class WorkCalendar:
    """An immutable working-day calendar for an explicit set of years.

    ``holidays`` are days off that would otherwise be Monday–Friday; ``workdays`` are
    weekend days that are worked (调休). Both are normalised on construction: a weekend date
    listed as a holiday, or a weekday listed as a workday, changes nothing and is dropped, so
    a source may list a whole holiday period (weekend included) and two calendars that answer
    alike compare equal. A date in both sets is a contradiction and raises ``ValueError``.

    Dates may lie outside ``years`` (a contract may list extra days for years not loaded
    yet); they take effect once their year is known.
    """

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    years: frozenset[int] = field(default_factory=frozenset)
    _overridden: dict[tuple[frozenset[date], frozenset[date], frozenset[int]], WorkCalendar] = (
        field(default_factory=dict, init=False, repr=False, compare=False, hash=False)
    )
    """Calendars :meth:`with_overrides` made from this one: judging each ticket asks for its
    contract's extra days again, and rebuilding those sets was most of the cost of judging."""

    def __post_init__(self) -> None:
        both = frozenset(self.holidays) & frozenset(self.workdays)
        if both:
            raise ValueError(f"{min(both).isoformat()} is listed both as a holiday and a workday")
        holidays = frozenset(d for d in self.holidays if not _is_weekend(d))
        workdays = frozenset(d for d in self.workdays if _is_weekend(d))
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "workdays", workdays)
        object.__setattr__(self, "years", frozenset(self.years))

    # ------------------------------------------------------------------ questions

    def knows(self, day: date) -> bool:
        return day.year in self.years

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day; ``CalendarError`` if its year is not loaded."""
        if day.year not in self.years:
            raise CalendarError(day.year, self.years)
        if _is_weekend(day):
            return day in self.workdays
        return day not in self.holidays

    def iter_workdays(self, start: date) -> Iterator[date]:
        """Working days on or after ``start``, in order, without end.

        Lazy: it raises ``CalendarError`` only when it reaches a day of an unknown year.
        """
        day = start
        while True:
            if self.is_workday(day):
                yield day
            day += _ONE_DAY

    def next_workday(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        return next(self.iter_workdays(day + _ONE_DAY))

    def nth_workday_after(self, day: date, n: int) -> date:
        """The ``n``-th working day strictly after ``day`` (``n >= 1``)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        for count, workday in enumerate(self.iter_workdays(day + _ONE_DAY), start=1):
            if count == n:
                return workday
        raise AssertionError("unreachable: iter_workdays never ends")  # pragma: no cover

    # ------------------------------------------------------------------ new calendars

    def with_overrides(
        self,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        years: Iterable[int] = (),
    ) -> WorkCalendar:
        """A new calendar with more days off, more working days and more known years.

        Used for a contract's own extra days and for years an operator loads. The extra
        days win over this calendar's: an extra workday cancels a holiday here, an extra
        holiday cancels a make-up workday here. A date in both extra sets raises
        ``ValueError``. Adding a year makes the plain Monday–Friday rule apply to it except
        where days are listed, so pass a year only together with its full official table.
        """
        off = frozenset(extra_holidays)
        on = frozenset(extra_workdays)
        key = (off, on, frozenset(years))
        found = self._overridden.get(key)
        if found is not None:
            return found
        both = off & on
        if both:
            raise ValueError(f"{min(both).isoformat()} is listed both as a holiday and a workday")
        found = self._overridden[key] = WorkCalendar(
            holidays=(self.holidays - on) | off,
            workdays=(self.workdays - off) | on,
            years=self.years | key[2],
        )
        return found

    def with_year(
        self, year: int, holidays: Iterable[date], workdays: Iterable[date]
    ) -> WorkCalendar:
        """A new calendar whose table for ``year`` is exactly the one given.

        Unlike :meth:`with_overrides`, any days this calendar had for ``year`` are dropped,
        so loading a corrected table for a year replaces the mistaken one.
        """
        off = frozenset(holidays)
        on = frozenset(workdays)
        stray = sorted(d for d in off | on if d.year != year)
        if stray:
            raise ValueError(f"{stray[0].isoformat()} is not in {year}")
        return WorkCalendar(
            holidays=frozenset(d for d in self.holidays if d.year != year) | off,
            workdays=frozenset(d for d in self.workdays if d.year != year) | on,
            years=self.years | {year},
        )
