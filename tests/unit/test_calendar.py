"""The working-day calendar: China's official table, make-up workdays, unknown years, overrides."""

from __future__ import annotations

import ast
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.adapters.chinese_calendar import china_official_calendar
from ledger.domain.calendar import CalendarError, WorkCalendar
from ledger.domain.errors import DomainError

OFFICIAL = china_official_calendar()
OFFICIAL_YEARS = range(2004, 2027)


# --------------------------------------------------------------------------- the official table


def test_official_table_covers_2004_to_2026() -> None:
    assert frozenset(OFFICIAL_YEARS) == OFFICIAL.years


def test_spring_festival_2024() -> None:
    # 春节 2024: Feb 10–17 off; Sunday Feb 4 and Sunday Feb 18 are make-up workdays (调休).
    assert OFFICIAL.is_workday(date(2024, 2, 9))  # Friday before the holiday
    for day in range(10, 18):
        assert not OFFICIAL.is_workday(date(2024, 2, day)), day
    assert OFFICIAL.is_workday(date(2024, 2, 18))  # Sunday, worked
    assert OFFICIAL.is_workday(date(2024, 2, 4))  # Sunday, worked
    assert OFFICIAL.is_workday(date(2024, 2, 19))  # Monday


def test_ordinary_weekdays_and_weekends() -> None:
    assert OFFICIAL.is_workday(date(2024, 3, 6))  # a Wednesday
    assert not OFFICIAL.is_workday(date(2024, 3, 9))  # a Saturday
    assert not OFFICIAL.is_workday(date(2024, 3, 10))  # a Sunday


def test_national_day_2024() -> None:
    assert OFFICIAL.is_workday(date(2024, 9, 29))  # Sunday, worked
    assert all(not OFFICIAL.is_workday(date(2024, 10, d)) for d in range(1, 8))
    assert OFFICIAL.is_workday(date(2024, 10, 12))  # Saturday, worked


def test_next_workday_skips_the_spring_festival_and_lands_on_a_sunday() -> None:
    assert OFFICIAL.next_workday(date(2024, 2, 9)) == date(2024, 2, 18)
    assert OFFICIAL.next_workday(date(2024, 2, 18)) == date(2024, 2, 19)
    assert OFFICIAL.nth_workday_after(date(2024, 2, 9), 1) == date(2024, 2, 18)
    assert OFFICIAL.nth_workday_after(date(2024, 2, 9), 2) == date(2024, 2, 19)


def test_iter_workdays_includes_the_start_when_it_is_a_workday() -> None:
    days = OFFICIAL.iter_workdays(date(2024, 9, 27))  # Friday
    first_four = [next(days) for _ in range(4)]
    assert first_four == [
        date(2024, 9, 27),
        date(2024, 9, 29),
        date(2024, 9, 30),
        date(2024, 10, 8),
    ]


def test_nth_workday_needs_a_positive_n() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        OFFICIAL.nth_workday_after(date(2024, 2, 9), 0)


@given(st.dates(date(2004, 1, 1), date(2026, 12, 31)))
def test_adapter_agrees_with_the_library(day: date) -> None:
    assert OFFICIAL.is_workday(day) == chinese_calendar.is_workday(day)


@given(st.dates(date(2004, 1, 1), date(2026, 11, 30)))
def test_next_workday_is_the_first_workday_after(day: date) -> None:
    nxt = OFFICIAL.next_workday(day)
    assert nxt > day
    assert OFFICIAL.is_workday(nxt)
    between = (day + timedelta(days=i) for i in range(1, (nxt - day).days))
    assert not any(OFFICIAL.is_workday(d) for d in between)


# --------------------------------------------------------------------------- unknown years


def test_a_year_outside_the_table_raises_a_clear_error() -> None:
    with pytest.raises(CalendarError) as caught:
        OFFICIAL.is_workday(date(2027, 3, 3))
    message = str(caught.value)
    assert "no official working-day table for 2027" in message
    assert "load it with `ledger calendar load FILE.toml`" in message
    assert "2004–2026" in message
    assert caught.value.year == 2027
    assert isinstance(caught.value, DomainError)  # so the CLI prints it as a rejection


def test_no_silent_weekday_guess_before_the_table_either() -> None:
    with pytest.raises(CalendarError, match="2003"):
        OFFICIAL.is_workday(date(2003, 6, 2))


def test_walking_into_an_unknown_year_raises_only_when_reached() -> None:
    days = OFFICIAL.iter_workdays(date(2026, 12, 30))
    assert next(days) == date(2026, 12, 30)
    assert next(days) == date(2026, 12, 31)
    with pytest.raises(CalendarError, match="2027"):
        next(days)
    with pytest.raises(CalendarError, match="2027"):
        OFFICIAL.next_workday(date(2026, 12, 31))


def test_an_empty_calendar_says_nothing_is_loaded() -> None:
    with pytest.raises(CalendarError, match="no years are loaded"):
        WorkCalendar().is_workday(date(2024, 1, 2))


def test_known_years_are_listed_as_ranges() -> None:
    cal = WorkCalendar(years=frozenset({2020, 2021, 2022, 2025}))
    with pytest.raises(CalendarError, match="2020–2022, 2025"):
        cal.is_workday(date(2024, 1, 2))


# --------------------------------------------------------------------------- construction


def test_redundant_days_are_dropped_so_equal_calendars_compare_equal() -> None:
    saturday, monday = date(2024, 3, 9), date(2024, 3, 11)
    cal = WorkCalendar(
        holidays=frozenset({saturday}), workdays=frozenset({monday}), years=frozenset({2024})
    )
    assert cal == WorkCalendar(years=frozenset({2024}))
    assert not cal.is_workday(saturday)
    assert cal.is_workday(monday)


def test_a_day_both_off_and_worked_is_rejected() -> None:
    with pytest.raises(ValueError, match="2024-03-11 is listed both"):
        WorkCalendar(
            holidays=frozenset({date(2024, 3, 11)}),
            workdays=frozenset({date(2024, 3, 11)}),
            years=frozenset({2024}),
        )


def test_calendar_is_immutable_and_hashable() -> None:
    with pytest.raises(AttributeError):
        OFFICIAL.years = frozenset()  # type: ignore[misc]
    assert hash(OFFICIAL) == hash(china_official_calendar())


# --------------------------------------------------------------------------- overrides


# The 2027 notice as an operator would load it (dates illustrative for the test).
NEW_YEAR_2027 = [date(2027, 1, 1)]
SPRING_2027 = [date(2027, 2, 5) + timedelta(days=i) for i in range(8)]  # Fri Feb 5 – Fri Feb 12
MAKE_UP_2027 = [date(2027, 2, 20)]  # a Saturday


def test_overrides_add_a_year() -> None:
    cal = OFFICIAL.with_overrides(NEW_YEAR_2027 + SPRING_2027, MAKE_UP_2027, years=[2027])
    assert 2027 in cal.years
    assert not cal.is_workday(date(2027, 1, 1))
    assert not cal.is_workday(date(2027, 2, 8))  # a Monday of the festival
    assert cal.is_workday(date(2027, 2, 20))  # Saturday, worked
    assert cal.is_workday(date(2027, 3, 3))  # an ordinary Wednesday
    assert cal.next_workday(date(2026, 12, 31)) == date(2027, 1, 4)
    # the original is untouched
    with pytest.raises(CalendarError):
        OFFICIAL.is_workday(date(2027, 3, 3))


def test_extra_days_without_their_year_do_not_make_the_year_known() -> None:
    cal = OFFICIAL.with_overrides(extra_holidays=[date(2027, 6, 1)])
    with pytest.raises(CalendarError):
        cal.is_workday(date(2027, 6, 1))
    assert not cal.with_overrides(years=[2027]).is_workday(date(2027, 6, 1))


def test_a_contracts_extra_days_win_over_the_official_table() -> None:
    # The contract adds a day off (the customer's founding day), declares an official
    # make-up Sunday off and an official Spring Festival Monday worked.
    founding_day = date(2024, 3, 6)  # a Wednesday
    cal = OFFICIAL.with_overrides(
        extra_holidays=[founding_day, date(2024, 2, 18)],  # an official make-up Sunday
        extra_workdays=[date(2024, 2, 12)],  # an official Spring Festival Monday
    )
    assert not cal.is_workday(founding_day)
    assert not cal.is_workday(date(2024, 2, 18))
    assert cal.is_workday(date(2024, 2, 12))
    assert cal.years == OFFICIAL.years


def test_overrides_reject_a_day_both_off_and_worked() -> None:
    with pytest.raises(ValueError, match="listed both"):
        OFFICIAL.with_overrides([date(2024, 3, 6)], [date(2024, 3, 6)])


def test_with_year_replaces_that_years_table() -> None:
    first = OFFICIAL.with_year(2027, SPRING_2027, MAKE_UP_2027)
    corrected = first.with_year(2027, NEW_YEAR_2027, [])
    assert not first.is_workday(date(2027, 2, 8))
    assert corrected.is_workday(date(2027, 2, 8))  # the mistaken holiday is gone
    assert not corrected.is_workday(date(2027, 2, 20))  # and so is the mistaken make-up day
    assert not corrected.is_workday(date(2027, 1, 1))
    assert corrected.is_workday(date(2024, 2, 18))  # other years are untouched


def test_with_year_rejects_dates_of_another_year() -> None:
    with pytest.raises(ValueError, match="2026-12-31 is not in 2027"):
        OFFICIAL.with_year(2027, [date(2026, 12, 31)], [])


# --------------------------------------------------------------------------- purity


@pytest.mark.parametrize("module", ["calendar.py", "sla.py"])
def test_domain_modules_do_no_io_and_do_not_import_the_library(module: str) -> None:
    source = (Path(__file__).parents[2] / "ledger" / "domain" / module).read_text("utf-8")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {
        "__future__",
        "collections",
        "dataclasses",
        "datetime",
        "enum",
        "re",
        "typing",
        "ledger",
    }
