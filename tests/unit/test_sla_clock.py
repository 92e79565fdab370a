"""The SLA clock: covered time, due times, day targets, pauses, target strings and verdicts.

Times are written in the contract's zone (Asia/Shanghai unless said otherwise); the
functions return UTC instants, which compare equal to the same instant in any zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.adapters.chinese_calendar import china_official_calendar
from ledger.domain.calendar import CalendarError, WorkCalendar
from ledger.domain.sla import (
    Coverage,
    CoveredDuration,
    Pause,
    SameDay,
    SlaStatus,
    Target,
    Verdict,
    WallClockDays,
    Workdays,
    covered_between,
    deadline,
    due_after,
    evaluate,
    parse_target,
)

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
CN = china_official_calendar()
PLAIN = WorkCalendar(years=frozenset(range(2020, 2031)))  # Monday–Friday, no holidays

BUSINESS = Coverage.business(time(8), time(17, 30), CN, SH)  # seed 000: Mon–Fri 08:00–17:30
ALWAYS = Coverage.around_the_clock(SH, CN)  # seeds 001–004: 7×24
ALWAYS_NO_CALENDAR = Coverage.around_the_clock(SH)


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def due(
    target: str, reported: datetime, cov: Coverage, pauses: list[Pause] | None = None
) -> datetime:
    at = deadline(parse_target(target), reported, cov, pauses or [])
    assert at is not None
    return at


# --------------------------------------------------------------------------- the issue's examples


def test_two_workdays_over_the_spring_festival() -> None:
    # Reported Friday 2024-02-09 16:40. Feb 10–17 off; Sunday Feb 18 is the 1st working day
    # after the report and Monday Feb 19 the 2nd: due Feb 19 at the close, 17:30.
    assert due("2 workdays", sh(2024, 2, 9, 16, 40), BUSINESS) == sh(2024, 2, 19, 17, 30)


def test_ignoring_the_make_up_sunday_would_say_february_20() -> None:
    # Holidays known but weekends always off (no 调休): Feb 19 and 20 are the 1st and 2nd.
    no_make_up = WorkCalendar(holidays=CN.holidays, years=CN.years)
    coverage = Coverage.business(time(8), time(17, 30), no_make_up, SH)
    assert due("2 workdays", sh(2024, 2, 9, 16, 40), coverage) == sh(2024, 2, 20, 17, 30)
    # and a bare Monday–Friday calendar, ignoring the festival, would say Tuesday Feb 13
    bare = Coverage.business(time(8), time(17, 30), PLAIN, SH)
    assert due("2 workdays", sh(2024, 2, 9, 16, 40), bare) == sh(2024, 2, 13, 17, 30)


def test_two_workdays_on_24x7_end_at_midnight() -> None:
    # Seed 003: a 7×24 hotline, "at the latest by the 2nd working day".
    assert due("2 workdays", sh(2024, 2, 9, 16, 40), ALWAYS) == sh(2024, 2, 20, 0, 0)


def test_24x7_ticket_paused_for_two_hours() -> None:
    reported = sh(2024, 3, 1, 10)
    pause = Pause(sh(2024, 3, 1, 11), sh(2024, 3, 1, 13))
    assert due("4h", reported, ALWAYS) == sh(2024, 3, 1, 14)
    assert due("4h", reported, ALWAYS, [pause]) == sh(2024, 3, 1, 16)  # pushed by 2 h
    assert covered_between(reported, sh(2024, 3, 1, 16), ALWAYS, [pause]) == timedelta(hours=4)
    assert covered_between(reported, sh(2024, 3, 1, 16), ALWAYS) == timedelta(hours=6)
    met = evaluate(
        parse_target("4h"), reported, sh(2024, 3, 1, 15, 30), sh(2024, 3, 2), ALWAYS, [pause]
    )
    assert met == Verdict(SlaStatus.MET, sh(2024, 3, 1, 16), sh(2024, 3, 1, 15, 30), 0)
    late = evaluate(
        parse_target("4h"), reported, sh(2024, 3, 1, 16, 30), sh(2024, 3, 2), ALWAYS, [pause]
    )
    assert (late.status, late.breach_minutes) == (SlaStatus.BREACHED, 30)


def test_thirty_minutes_reported_ten_minutes_before_close() -> None:
    # 10 minutes on Thursday, 20 on Friday morning.
    assert due("30m", sh(2024, 2, 8, 17, 20), BUSINESS) == sh(2024, 2, 9, 8, 20)
    # Friday before the Spring Festival: the next working day is Sunday Feb 18.
    assert due("30m", sh(2024, 2, 9, 17, 20), BUSINESS) == sh(2024, 2, 18, 8, 20)


def test_report_on_a_holiday() -> None:
    national_day = sh(2024, 10, 1, 10)  # Oct 1–7 off; Tuesday Oct 8 is the next working day
    assert due("2h", national_day, BUSINESS) == sh(2024, 10, 8, 10)
    assert due("same-day", national_day, BUSINESS) == sh(2024, 10, 8, 17, 30)
    assert due("1 workday", national_day, BUSINESS) == sh(2024, 10, 8, 17, 30)
    assert due("2h", national_day, ALWAYS) == sh(2024, 10, 1, 12)  # 7×24 works holidays
    assert due("same-day", national_day, ALWAYS) == sh(2024, 10, 2)
    assert due("1 workday", national_day, ALWAYS) == sh(2024, 10, 9)


# --------------------------------------------------------------------------- covered time


def test_covered_time_24x7_is_wall_clock() -> None:
    assert covered_between(sh(2024, 2, 9, 16, 40), sh(2024, 2, 12, 9), ALWAYS) == timedelta(
        days=2, hours=16, minutes=20
    )


def test_covered_time_in_business_hours() -> None:
    assert covered_between(sh(2024, 3, 6, 9), sh(2024, 3, 6, 10, 15), BUSINESS) == timedelta(
        hours=1, minutes=15
    )
    # Wednesday 17:00 → Thursday 09:00: 30 minutes before close, 60 after opening.
    assert covered_between(sh(2024, 3, 6, 17), sh(2024, 3, 7, 9), BUSINESS) == timedelta(minutes=90)
    # Friday 16:40 before the Spring Festival → Sunday Feb 18 09:10: 50 + 70 minutes.
    assert covered_between(sh(2024, 2, 9, 16, 40), sh(2024, 2, 18, 9, 10), BUSINESS) == (
        timedelta(minutes=120)
    )
    # A whole week of the festival is worth nothing.
    assert covered_between(sh(2024, 2, 10), sh(2024, 2, 18), BUSINESS) == timedelta(0)


def test_covered_time_outside_hours_is_zero() -> None:
    assert covered_between(sh(2024, 3, 6, 18), sh(2024, 3, 7, 7, 59), BUSINESS) == timedelta(0)
    assert covered_between(sh(2024, 3, 9, 9), sh(2024, 3, 9, 17), BUSINESS) == timedelta(0)  # Sat


def test_covered_time_of_an_empty_or_reversed_span_is_zero() -> None:
    assert covered_between(sh(2024, 3, 6, 9), sh(2024, 3, 6, 9), BUSINESS) == timedelta(0)
    assert covered_between(sh(2024, 3, 6, 10), sh(2024, 3, 6, 9), ALWAYS) == timedelta(0)


def test_pauses_outside_business_hours_cost_nothing_and_overlaps_count_once() -> None:
    start, end = sh(2024, 3, 6, 9), sh(2024, 3, 7, 12)  # 8.5 h + 4 h covered
    night = Pause(sh(2024, 3, 6, 18), sh(2024, 3, 7, 8))
    overlapping = [
        Pause(sh(2024, 3, 7, 9), sh(2024, 3, 7, 10)),
        Pause(sh(2024, 3, 7, 9, 30), sh(2024, 3, 7, 10, 30)),
    ]
    assert covered_between(start, end, BUSINESS) == timedelta(hours=12, minutes=30)
    assert covered_between(start, end, BUSINESS, [night]) == timedelta(hours=12, minutes=30)
    assert covered_between(start, end, BUSINESS, overlapping) == timedelta(hours=11)


def test_a_pause_that_began_before_the_report_only_counts_after_it() -> None:
    pause = Pause(sh(2024, 3, 6, 8), sh(2024, 3, 6, 10))
    assert covered_between(sh(2024, 3, 6, 9), sh(2024, 3, 6, 11), ALWAYS, [pause]) == timedelta(
        hours=1
    )


def test_an_open_pause_stops_the_clock() -> None:
    pause = Pause(sh(2024, 3, 6, 10))
    assert covered_between(sh(2024, 3, 6, 9), sh(2025, 3, 6, 9), BUSINESS, [pause]) == timedelta(
        hours=1
    )
    assert due_after(sh(2024, 3, 6, 9), timedelta(hours=2), BUSINESS, [pause]) is None
    assert due_after(sh(2024, 3, 6, 9), timedelta(minutes=30), ALWAYS, [pause]) == sh(
        2024, 3, 6, 9, 30
    )


def test_dst_is_measured_in_real_time() -> None:
    # Europe/Berlin springs forward on 2024-03-31: that local day lasts 23 hours.
    berlin = Coverage.around_the_clock(BERLIN)
    midnight = datetime(2024, 3, 31, tzinfo=BERLIN)
    assert covered_between(midnight, datetime(2024, 4, 1, tzinfo=BERLIN), berlin) == timedelta(
        hours=23
    )
    assert deadline(SameDay(), midnight, berlin) == datetime(2024, 4, 1, tzinfo=BERLIN)
    office = Coverage.business(time(8), time(17), PLAIN, BERLIN)
    assert due_after(datetime(2024, 3, 29, 16, tzinfo=BERLIN), timedelta(hours=2), office) == (
        datetime(2024, 4, 1, 9, tzinfo=BERLIN)
    )


# --------------------------------------------------------------------------- due times


def test_a_report_before_opening_starts_at_opening() -> None:
    assert due("2h", sh(2024, 3, 6, 6), BUSINESS) == sh(2024, 3, 6, 10)


def test_a_duration_ending_exactly_at_close_is_due_at_close() -> None:
    assert due("30m", sh(2024, 3, 6, 17), BUSINESS) == sh(2024, 3, 6, 17, 30)
    assert due_after(sh(2024, 3, 6, 17), timedelta(minutes=30), BUSINESS) == sh(2024, 3, 6, 17, 30)


def test_zero_and_negative_durations() -> None:
    assert due_after(sh(2024, 3, 6, 20), timedelta(0), BUSINESS) == sh(2024, 3, 6, 20)
    with pytest.raises(ValueError, match="negative"):
        due_after(sh(2024, 3, 6, 20), timedelta(minutes=-1), BUSINESS)


def test_results_are_utc() -> None:
    at = due("5m", sh(2024, 3, 6, 9), ALWAYS)
    assert at.tzinfo is UTC
    assert at == datetime(2024, 3, 6, 1, 5, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        covered_between(datetime(2024, 3, 6, 9), sh(2024, 3, 6, 10), ALWAYS)
    with pytest.raises(ValueError, match="timezone-aware"):
        Pause(datetime(2024, 3, 6, 9))


def test_a_pause_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="cannot end"):
        Pause(sh(2024, 3, 6, 10), sh(2024, 3, 6, 9))


# --------------------------------------------------------------------------- day targets


def test_same_day() -> None:
    assert due("same-day", sh(2024, 3, 6, 6), BUSINESS) == sh(2024, 3, 6, 17, 30)  # before open
    assert due("same-day", sh(2024, 3, 6, 17, 29), BUSINESS) == sh(2024, 3, 6, 17, 30)
    assert due("same-day", sh(2024, 3, 6, 17, 30), BUSINESS) == sh(2024, 3, 7, 17, 30)  # at close
    assert due("same-day", sh(2024, 3, 6, 20), BUSINESS) == sh(2024, 3, 7, 17, 30)  # after close
    assert due("same-day", sh(2024, 3, 8, 18), BUSINESS) == sh(2024, 3, 11, 17, 30)  # Fri → Mon
    assert due("same-day", sh(2024, 2, 9, 18), BUSINESS) == sh(2024, 2, 18, 17, 30)  # → 调休 Sun
    assert due("same-day", sh(2024, 3, 6, 23, 59), ALWAYS) == sh(2024, 3, 7)  # 24:00


def test_n_workdays_count_from_the_report_date_whatever_the_hour() -> None:
    assert due("1 workday", sh(2024, 3, 6, 7), BUSINESS) == sh(2024, 3, 7, 17, 30)
    assert due("1 workday", sh(2024, 3, 6, 20), BUSINESS) == sh(2024, 3, 7, 17, 30)
    assert due("1 workday", sh(2024, 3, 9, 10), BUSINESS) == sh(2024, 3, 11, 17, 30)  # Saturday
    assert due("3 workdays", sh(2024, 3, 6, 10), BUSINESS) == sh(2024, 3, 11, 17, 30)


def test_n_days_are_wall_clock_even_under_business_hours() -> None:
    reported = sh(2024, 2, 9, 16, 40)
    assert due("3 days", reported, BUSINESS) == sh(2024, 2, 12, 16, 40)
    assert due("1 day", reported, ALWAYS) == sh(2024, 2, 10, 16, 40)
    # A pause on a holiday Sunday still pushes a wall-clock target.
    pause = Pause(sh(2024, 2, 11, 9), sh(2024, 2, 11, 12))
    assert due("3 days", reported, BUSINESS, [pause]) == sh(2024, 2, 12, 19, 40)


def test_a_pause_pushes_a_day_target_by_the_paused_covered_time() -> None:
    reported = sh(2024, 3, 6, 9)
    hour_before_close = Pause(sh(2024, 3, 6, 16), sh(2024, 3, 6, 17))
    # 7.5 covered hours on Wednesday; the 8th and the half hour the pause took: Thursday 09:00
    assert due("same-day", reported, BUSINESS, [hour_before_close]) == sh(2024, 3, 7, 9)
    night = Pause(sh(2024, 3, 6, 18), sh(2024, 3, 7, 7))
    assert due("1 workday", reported, BUSINESS, [night]) == sh(2024, 3, 7, 17, 30)  # unchanged
    assert due("1 workday", reported, ALWAYS, [night]) == sh(2024, 3, 8, 13)  # 13 h later


def test_workdays_on_24x7_need_a_calendar() -> None:
    with pytest.raises(ValueError, match='"2 workdays" needs a working-day calendar'):
        deadline(Workdays(2), sh(2024, 3, 6, 9), ALWAYS_NO_CALENDAR)
    # other targets need none on 24x7
    assert deadline(SameDay(), sh(2024, 3, 6, 9), ALWAYS_NO_CALENDAR) == sh(2024, 3, 7)
    assert deadline(CoveredDuration(timedelta(hours=1)), sh(2024, 3, 6, 9), ALWAYS_NO_CALENDAR)


# --------------------------------------------------------------------------- unknown years


def test_a_business_clock_running_into_an_unknown_year_raises() -> None:
    with pytest.raises(CalendarError, match="no official working-day table for 2027"):
        due("2 workdays", sh(2026, 12, 30, 10), BUSINESS)
    with pytest.raises(CalendarError, match="2027"):
        due("same-day", sh(2026, 12, 31, 18), BUSINESS)
    with pytest.raises(CalendarError, match="2027"):
        covered_between(sh(2026, 12, 31, 9), sh(2027, 1, 5, 9), BUSINESS)


def test_what_does_not_reach_the_unknown_year_still_works() -> None:
    assert due("same-day", sh(2026, 12, 31, 9), BUSINESS) == sh(2026, 12, 31, 17, 30)
    assert due("30m", sh(2026, 12, 31, 17), BUSINESS) == sh(2026, 12, 31, 17, 30)
    assert covered_between(sh(2026, 12, 31, 17), sh(2026, 12, 31, 23, 59), BUSINESS) == (
        timedelta(minutes=30)
    )
    late = evaluate(SameDay(), sh(2026, 12, 31, 9), sh(2026, 12, 31, 20), sh(2027, 1, 2), BUSINESS)
    assert (late.status, late.breach_minutes) == (SlaStatus.BREACHED, 0)
    assert due("4h", sh(2026, 12, 31, 22), ALWAYS) == sh(2027, 1, 1, 2)  # 24x7 needs no table


def test_an_operator_loaded_year_makes_the_clock_work_again() -> None:
    cal_2027 = CN.with_overrides(extra_holidays=[date(2027, 1, 1)], extra_workdays=[], years=[2027])
    business_2027 = Coverage.business(time(8), time(17, 30), cal_2027, SH)
    assert due("2 workdays", sh(2026, 12, 30, 10), business_2027) == sh(2027, 1, 4, 17, 30)


# --------------------------------------------------------------------------- target strings


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("5m", CoveredDuration(timedelta(minutes=5))),
        ("30m", CoveredDuration(timedelta(minutes=30))),
        ("2h", CoveredDuration(timedelta(hours=2))),
        ("1h30m", CoveredDuration(timedelta(minutes=90))),
        (" 1h 30m ", CoveredDuration(timedelta(minutes=90))),
        ("90m", CoveredDuration(timedelta(minutes=90))),
        ("48H", CoveredDuration(timedelta(hours=48))),
        ("3 days", WallClockDays(3)),
        ("1 day", WallClockDays(1)),
        ("3days", WallClockDays(3)),
        ("same-day", SameDay()),
        ("Same day", SameDay()),
        ("2 workdays", Workdays(2)),
        ("1 workday", Workdays(1)),
    ],
)
def test_parse_target(text: str, target: Target) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("5 minuts", r'^"5 minuts" is not a duration \(e\.g\. "30m"'),
        ("", r'^"" is not a duration'),
        ("h", r'^"h" is not a duration'),
        ("1.5h", r'^"1.5h" is not a duration'),
        ("-5m", r'^"-5m" is not a duration'),
        ("30m2h", r'^"30m2h" is not a duration'),
        ("2 weeks", r'^"2 weeks" is not a duration'),
        ("0m", "longer than zero"),
        ("0h0m", "longer than zero"),
        ("0 days", "at least 1 day$"),
        ("0 workdays", "at least 1 workday$"),
        ("99999 days", "too long"),
        ("999999h", "too long"),
        ("1234567m", "is not a duration"),
    ],
)
def test_bad_target_strings(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_target(text)


def test_targets_print_as_they_are_written() -> None:
    assert [
        str(parse_target(t))
        for t in ["5m", "90m", "2h", "3 days", "1 day", "same-day", "2 workdays", "1 workday"]
    ] == ["5m", "1h30m", "2h", "3 days", "1 day", "same-day", "2 workdays", "1 workday"]


def test_target_values_are_checked() -> None:
    with pytest.raises(ValueError):
        CoveredDuration(timedelta(seconds=90))
    with pytest.raises(ValueError):
        WallClockDays(0)
    with pytest.raises(ValueError):
        Workdays(0)


def test_coverage_is_checked() -> None:
    with pytest.raises(ValueError, match="must be before closing"):
        Coverage.business(time(17, 30), time(8), CN, SH)
    with pytest.raises(ValueError, match="both an opening and a closing"):
        Coverage(tz=SH, calendar=CN, open=time(8))
    with pytest.raises(ValueError, match="calendar"):
        Coverage(tz=SH, open=time(8), close=time(17))
    assert ALWAYS.is_24x7 and not BUSINESS.is_24x7


# --------------------------------------------------------------------------- verdicts


def judge(
    target: str,
    done: datetime | None,
    now: datetime,
    cov: Coverage = BUSINESS,
    pauses: list[Pause] | None = None,
) -> Verdict:
    return evaluate(parse_target(target), sh(2024, 3, 6, 16), done, now, cov, pauses or [])


def test_met() -> None:
    v = judge("1h", sh(2024, 3, 6, 16, 45), sh(2024, 3, 8))
    assert v == Verdict(SlaStatus.MET, sh(2024, 3, 6, 17), sh(2024, 3, 6, 16, 45), 0)
    assert judge("1h", sh(2024, 3, 6, 17), sh(2024, 3, 8)).status is SlaStatus.MET  # on the dot


def test_breached_counts_covered_minutes_only() -> None:
    # due Wed 17:00, done Thu 08:20: 30 covered minutes on Wed + 20 on Thu.
    v = judge("1h", sh(2024, 3, 7, 8, 20), sh(2024, 3, 8))
    assert v == Verdict(SlaStatus.BREACHED, sh(2024, 3, 6, 17), sh(2024, 3, 7, 8, 20), 50)
    # 24x7: the night counts.
    v = judge("1h", sh(2024, 3, 7, 8, 20), sh(2024, 3, 8), ALWAYS)
    assert (v.status, v.breach_minutes) == (SlaStatus.BREACHED, 15 * 60 + 20)


def test_breach_minutes_round_up() -> None:
    v = judge("1h", sh(2024, 3, 6, 17) + timedelta(seconds=1), sh(2024, 3, 8))
    assert (v.status, v.breach_minutes) == (SlaStatus.BREACHED, 1)


def test_late_but_outside_business_hours_is_breached_by_zero_covered_minutes() -> None:
    v = judge("same-day", sh(2024, 3, 6, 18), sh(2024, 3, 8))
    assert v == Verdict(SlaStatus.BREACHED, sh(2024, 3, 6, 17, 30), sh(2024, 3, 6, 18), 0)


def test_pending_then_overdue() -> None:
    assert judge("1h", None, sh(2024, 3, 6, 16, 30)) == Verdict(
        SlaStatus.PENDING, sh(2024, 3, 6, 17), None, 0
    )
    assert judge("1h", None, sh(2024, 3, 6, 17)).status is SlaStatus.PENDING  # due, not past due
    # now Thursday 10:00: 30 covered minutes on Wednesday + 2 h on Thursday
    assert judge("1h", None, sh(2024, 3, 7, 10)) == Verdict(
        SlaStatus.OVERDUE, sh(2024, 3, 6, 17), None, 150
    )


def test_a_pause_after_the_due_time_stops_the_overdue_minutes() -> None:
    pause = Pause(sh(2024, 3, 7, 9), sh(2024, 3, 7, 10))
    assert judge("1h", None, sh(2024, 3, 7, 10), pauses=[pause]).breach_minutes == 90


def test_an_open_pause_before_the_due_time_keeps_the_target_pending() -> None:
    pause = Pause(sh(2024, 3, 6, 16, 30))
    assert judge("1h", None, sh(2024, 4, 1), pauses=[pause]) == Verdict(
        SlaStatus.PENDING, None, None, 0
    )
    assert judge("1h", sh(2024, 3, 20), sh(2024, 4, 1), pauses=[pause]).status is SlaStatus.MET


def test_an_open_pause_after_the_due_time_does_not_hide_the_breach() -> None:
    pause = Pause(sh(2024, 3, 7, 9))
    assert judge("1h", None, sh(2024, 4, 1), pauses=[pause]) == Verdict(
        SlaStatus.OVERDUE, sh(2024, 3, 6, 17), None, 90
    )


def test_a_done_verdict_is_final_whatever_now_is() -> None:
    # the engineer's clock ran ahead: done a minute after the ledger's "now"
    done = sh(2024, 3, 6, 16, 31)
    assert judge("1h", done, sh(2024, 3, 6, 16, 30)).status is SlaStatus.MET
    assert judge("30m", done, sh(2024, 3, 6, 16, 30)).status is SlaStatus.BREACHED


def test_wall_clock_days_breach_in_wall_clock_minutes() -> None:
    v = judge("1 day", sh(2024, 3, 7, 18), sh(2024, 3, 8))  # 2 h late, after hours
    assert (v.status, v.breach_minutes) == (SlaStatus.BREACHED, 120)


def test_evaluate_the_issue_example() -> None:
    reported = sh(2024, 2, 9, 16, 40)
    target = parse_target("2 workdays")
    on_monday = evaluate(target, reported, sh(2024, 2, 19, 17), sh(2024, 2, 20), BUSINESS)
    assert on_monday.status is SlaStatus.MET
    on_tuesday = evaluate(target, reported, sh(2024, 2, 20, 9), sh(2024, 2, 21), BUSINESS)
    assert on_tuesday == Verdict(
        SlaStatus.BREACHED, sh(2024, 2, 19, 17, 30), sh(2024, 2, 20, 9), 60
    )


# --------------------------------------------------------------------------- properties

COVERAGES = st.sampled_from(
    [
        ALWAYS,
        BUSINESS,
        Coverage.business(time(9), time(12), PLAIN, BERLIN),
        Coverage.around_the_clock(ZoneInfo("America/New_York")),
    ]
)
STARTS = st.datetimes(datetime(2024, 1, 1), datetime(2025, 12, 1), timezones=st.just(SH))
DURATIONS = st.timedeltas(timedelta(seconds=1), timedelta(days=15))


@st.composite
def closed_pauses(draw: st.DrawFn, start: datetime) -> list[Pause]:
    pauses = []
    for _ in range(draw(st.integers(0, 4))):
        begin = start + draw(st.timedeltas(timedelta(hours=-12), timedelta(days=30)))
        pauses.append(Pause(begin, begin + draw(st.timedeltas(timedelta(0), timedelta(days=3)))))
    return pauses


@settings(max_examples=200, deadline=None)
@given(COVERAGES, STARTS, DURATIONS, st.data())
def test_due_after_is_exactly_when_the_duration_has_run(
    coverage: Coverage, start: datetime, duration: timedelta, data: st.DataObject
) -> None:
    pauses = data.draw(closed_pauses(start))
    at = due_after(start, duration, coverage, pauses)
    assert at is not None and at > start
    assert covered_between(start, at, coverage, pauses) == duration
    # and it is the first such instant
    assert covered_between(start, at - timedelta(microseconds=1), coverage, pauses) < duration


@settings(max_examples=200, deadline=None)
@given(COVERAGES, STARTS, DURATIONS, DURATIONS, st.data())
def test_covered_time_is_monotonic_additive_and_bounded_by_wall_clock(
    coverage: Coverage, start: datetime, a: timedelta, b: timedelta, data: st.DataObject
) -> None:
    pauses = data.draw(closed_pauses(start))
    middle, end = start + a, start + a + b
    first = covered_between(start, middle, coverage, pauses)
    second = covered_between(middle, end, coverage, pauses)
    whole = covered_between(start, end, coverage, pauses)
    assert timedelta(0) <= first <= whole <= end - start
    assert whole == first + second


@given(
    st.one_of(
        st.builds(
            CoveredDuration, st.integers(1, 60 * 24 * 30).map(lambda m: timedelta(minutes=m))
        ),
        st.builds(WallClockDays, st.integers(1, 365)),
        st.builds(SameDay),
        st.builds(Workdays, st.integers(1, 60)),
    )
)
def test_targets_round_trip_through_their_text(target: Target) -> None:
    assert parse_target(str(target)) == target


@settings(max_examples=100, deadline=None)
@given(
    COVERAGES,
    STARTS,
    st.sampled_from(["30m", "4h", "same-day", "2 workdays", "1 day"]),
    st.timedeltas(timedelta(0), timedelta(days=10)),
)
def test_verdict_status_follows_the_due_time(
    coverage: Coverage, reported: datetime, text: str, later: timedelta
) -> None:
    if text.endswith("workdays") and coverage.calendar is None:
        return
    target = parse_target(text)
    at = deadline(target, reported, coverage)
    assert at is not None and at > reported
    now = reported + later
    open_verdict = evaluate(target, reported, None, now, coverage)
    done_verdict = evaluate(target, reported, now, now, coverage)
    if now <= at:
        assert (open_verdict.status, done_verdict.status) == (SlaStatus.PENDING, SlaStatus.MET)
        assert open_verdict.breach_minutes == done_verdict.breach_minutes == 0
    else:
        assert (open_verdict.status, done_verdict.status) == (SlaStatus.OVERDUE, SlaStatus.BREACHED)
        assert open_verdict.breach_minutes == done_verdict.breach_minutes >= 0


def _covered_minute_by_minute(
    start: datetime, end: datetime, coverage: Coverage, pauses: list[Pause]
) -> int:
    """A slow, obviously right oracle: count the minutes that are covered and not paused."""
    count, minute = 0, start
    while minute < end:
        local = minute.astimezone(coverage.tz)
        covered = coverage.open is None or (
            coverage.calendar is not None
            and coverage.close is not None
            and coverage.calendar.is_workday(local.date())
            and coverage.open <= local.time() < coverage.close
        )
        paused = any(p.start <= minute and (p.end is None or minute < p.end) for p in pauses)
        count += covered and not paused
        minute += timedelta(minutes=1)
    return count


@settings(max_examples=60, deadline=None)
@given(
    COVERAGES,
    STARTS.map(lambda t: t.replace(second=0, microsecond=0)),
    st.integers(0, 3 * 24 * 60),
    st.lists(
        st.tuples(st.integers(-600, 3 * 24 * 60), st.none() | st.integers(0, 24 * 60)),
        max_size=3,
    ),
)
def test_covered_time_matches_a_minute_by_minute_count(
    coverage: Coverage, start: datetime, minutes: int, spans: list[tuple[int, int | None]]
) -> None:
    pauses = [
        Pause(
            start + timedelta(minutes=offset),
            None if length is None else start + timedelta(minutes=offset + length),
        )
        for offset, length in spans
    ]
    end = start + timedelta(minutes=minutes)
    expected = _covered_minute_by_minute(start, end, coverage, pauses)
    assert covered_between(start, end, coverage, pauses) == timedelta(minutes=expected)
