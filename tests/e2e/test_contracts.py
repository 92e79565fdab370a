"""Contracts and working-day tables: `ledger contract` and `ledger calendar`, end to end on
real databases, plus the contract service's revision rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ledger.bootstrap import Ledger
from ledger.clock import FixedClock
from ledger.commands.contracts import parse_contract, parse_holiday_table, read_toml
from ledger.commands.models import CommandError
from ledger.domain.errors import RuleViolation
from ledger.domain.values import Role
from tests.e2e.test_cli import ADMIN, REPORT_ARGS, Cli, make_cli
from tests.support import SEED_CONTRACTS, SHANGHAI

SEED_002 = next(p for p in SEED_CONTRACTS if p.stem == "seed-002")

# TEST DATA: a made-up holiday notice for 2031, a year no real notice covers yet.
CALENDAR_2031 = """\
year = 2031
source = "TEST DATA: made-up 2031 notice"
holidays = [2031-01-01, "2031-01-22..2031-01-28", "2031-10-01..2031-10-07"]
workdays = ["2031-01-19", 2031-10-11]
"""


def fresh_cli(url: str) -> Cli:
    """A CLI on an initialised ledger without any contract, used by the administrator."""
    cli = Cli(url)
    cli.env.update(ADMIN)
    cli.run("init", "--fixed-clock")
    return cli


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def revised_seed_002(tmp_path: Path) -> Path:
    """seed-002 with a looser fix target: a second revision of the same contract."""
    text = SEED_002.read_text(encoding="utf-8").replace('resolve = "4h"', 'resolve = "6h"', 1)
    assert 'resolve = "6h"' in text
    return write(tmp_path / "seed-002-revised.toml", text)


# --------------------------------------------------------------------------- contract load

BAD_CONTRACT = """\
id = "seed 9"
name = "坏合同"
customer = "某单位"
warranty = { start = 2026-01-01 }
calendar = "24x7"
colour = "blue"

[targets.emergency]
respond = "5 minuts"

[escalation]
engineer_boss = "5m"
"""


def test_a_bad_contract_file_lists_every_problem_and_records_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    cli = fresh_cli(sqlite_url)
    bad = write(tmp_path / "bad.toml", BAD_CONTRACT)
    broken = write(tmp_path / "broken.toml", "id = \n")
    before = cli.event_count()
    result = cli.run("contract", "load", str(SEED_002), str(bad), str(broken), ok=False)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert [line for line in lines if line.startswith(f"{bad}: ")] == [
        f'{bad}: id: "seed 9" is not a contract id: letters, digits, ".", "_" and "-", '
        "starting with a letter or digit, at most 100 characters",
        f"{bad}: warranty: give either years or end, not both or neither",
        f'{bad}: targets.emergency.respond: "5 minuts" is not a duration '
        '(e.g. "30m", "2h", "1h30m", "3 days", "same-day", "2 workdays")',
        f"{bad}: escalation.engineer_boss: Input should be 'engineer', 'department_manager', "
        "'project_general_manager' or 'chief_engineer_office' (got 'engineer_boss')",
        f"{bad}: colour: unknown field",
    ]
    assert any(line.startswith(f"{broken}: not valid TOML") for line in lines)
    assert lines[-1] == "Error: 6 problems: nothing recorded"
    assert cli.event_count() == before  # not even the good seed-002


def test_two_files_with_one_id_are_refused(sqlite_url: str, tmp_path: Path) -> None:
    cli = fresh_cli(sqlite_url)
    copy = revised_seed_002(tmp_path)
    result = cli.run("contract", "load", str(SEED_002), str(copy), ok=False)
    assert result.returncode == 2
    assert f'{copy}: id: "seed-002" is also the id in {SEED_002}' in result.stderr
    assert cli.event_count() == 0


def test_loading_the_same_files_twice_records_once(db_url: str) -> None:
    cli = fresh_cli(db_url)
    seeds = [str(p) for p in SEED_CONTRACTS]
    first = cli.run("contract", "load", *seeds).stdout.splitlines()
    assert first == [f"{p.stem}: registered (revision 1)" for p in SEED_CONTRACTS]
    assert cli.event_count() == len(SEED_CONTRACTS)

    again = cli.run("contract", "load", *seeds)  # exit 0: unchanged is not an error
    assert again.stdout.splitlines() == [
        f"{p.stem}: unchanged (revision 1)" for p in SEED_CONTRACTS
    ]
    assert cli.event_count() == len(SEED_CONTRACTS)
    assert cli.json("contract", "load", str(SEED_002)) == [
        {
            "id": "seed-002",
            "outcome": "unchanged",
            "revision": 1,
            "effective_from": None,
            "recorded_at": "2026-10-08T12:00:00+08:00",
        }
    ]


def test_a_revision_cannot_take_effect_in_the_past(sqlite_url: str, tmp_path: Path) -> None:
    cli = make_cli(sqlite_url)
    revised = revised_seed_002(tmp_path)
    before = cli.event_count()
    past = cli.run(
        "contract", "load", str(revised), "--effective", "2026-10-08T11:59", ok=False, **ADMIN
    )
    assert past.returncode == 2
    assert "seed-002 cannot take effect in the past" in past.stderr
    assert cli.event_count() == before

    new = write(tmp_path / "new.toml", SEED_002.read_text().replace("seed-002", "seed-102"))
    both = cli.run(
        "contract", "load", str(revised), str(new), "--effective", "2026-11-01", ok=False, **ADMIN
    )
    assert both.returncode == 2 and "contract seed-102 is new" in both.stderr
    assert cli.event_count() == before  # neither the revision nor the registration

    bad_time = cli.run("contract", "load", str(revised), "--effective", "soon", ok=False, **ADMIN)
    assert bad_time.returncode == 2 and "--effective: 'soon' is not an ISO 8601" in bad_time.stderr

    revision = cli.run(
        "contract",
        "load",
        str(revised),
        "--effective",
        "2026-11-01",
        "--note",
        "客户同意放宽",
        **ADMIN,
    )
    assert revision.stdout == (
        "seed-002: revised → revision 2, in force from 2026-11-01T00:00:00+08:00\n"
    )
    assert cli.event_count() == before + 1


def test_a_revision_changes_policy_at_only_from_its_effective_time(db_url: str) -> None:
    now = datetime(2026, 10, 8, 4, 0, tzinfo=UTC)
    clock = FixedClock(now)
    with Ledger.open(db_url, clock=clock, tz=SHANGHAI, create=True) as ledger:
        original = parse_contract(read_toml(SEED_002))
        ledger.contracts.load(original, actor="admin", role=Role.ADMIN)
        looser = original.policy.model_copy(
            update={"customer": "禹州市公安局看守所", "pausing": False}
        )
        effective = now + timedelta(days=7)
        document = type(original)(original.contract_id, looser)
        contract = ledger.contracts.load(
            document, actor="admin", role=Role.ADMIN, effective_from=effective, note="续约"
        )
        assert [r.number for r in contract.revisions] == [1, 2]
        assert contract.latest.note == "续约"

        def policy_at(when: datetime) -> str:
            return ledger.contracts.policy_at("seed-002", when).customer

        assert policy_at(datetime(2020, 1, 1, tzinfo=UTC)) == "禹州市公安局"  # first: always
        assert policy_at(now) == "禹州市公安局"
        assert policy_at(effective - timedelta(seconds=1)) == "禹州市公安局"
        assert policy_at(effective) == "禹州市公安局看守所"
        assert policy_at(effective + timedelta(days=400)) == "禹州市公安局看守所"

        # A third revision must take effect after the second one.
        clock.advance(timedelta(days=1))
        third = document.policy.model_copy(update={"pausing": True})
        with pytest.raises(RuleViolation, match="must take effect after it"):
            ledger.contracts.load(
                type(original)("seed-002", third),
                actor="admin",
                role=Role.ADMIN,
                effective_from=effective - timedelta(hours=1),
            )
        assert ledger.event_count() == 2


# --------------------------------------------------------------------------- list and show


def test_contract_list_json(db_url: str) -> None:
    cli = make_cli(db_url)
    rows = cli.json("contract", "list")
    assert [r["id"] for r in rows] == [p.stem for p in SEED_CONTRACTS]
    assert rows[0] == {
        "id": "seed-000",
        "name": "测绘数据成果售后服务",
        "customer": "某市自然资源和规划局",
        "timezone": "Asia/Shanghai",
        "calendar": "business 08:00–17:30",
        "revision": 1,
        "revision_count": 1,
        "warranty_start": "2026-03-15",
        "warranty_last_day": "2027-03-14",
        "in_warranty": True,
    }
    assert {r["calendar"] for r in rows[1:]} == {"24x7"}
    # Today is the clock's today in the contract's zone: 2027-01-09 is seed-001's last day.
    last_day = cli.json("contract", "list", LEDGER_NOW="2027-01-09T23:59+08:00")
    assert [r["in_warranty"] for r in last_day][:2] == [True, True]
    after = cli.json("contract", "list", LEDGER_NOW="2027-01-09T16:00:00+00:00")  # 00:00 +08
    assert [r["in_warranty"] for r in after][:2] == [True, False]
    human = cli.run("contract", "list").stdout
    assert "5 contracts" in human and "2024-06-01 – 2027-05-31" in human


def test_contract_show_json_and_revisions(db_url: str, tmp_path: Path) -> None:
    cli = make_cli(db_url)
    shown = cli.json("contract", "show", "seed-002")
    assert shown["revision"] == 1 and shown["at"] == "2026-10-08T12:00:00+08:00"
    # Seed 002's text: 4 h to fix, 8 h only for 重大 (critical); the unit 30 minutes after
    # the 8 h its own clock starts at; the manager the first minute overdue, then 5 more.
    assert shown["targets"] == {
        "emergency": {"respond": "5m", "arrive": "20m", "resolve": "4h", "replacement": "30m"},
        "critical": {"respond": "5m", "arrive": "30m", "resolve": "8h", "replacement": "30m"},
        "major": {"respond": "5m", "arrive": "30m", "resolve": "4h", "replacement": "30m"},
        "general": {"respond": "5m", "arrive": "30m", "resolve": "4h", "replacement": "30m"},
    }
    assert shown["metrics"]["replacement"]["start_after"] == "8h"
    assert shown["escalation"] == {"department_manager": "1m", "project_general_manager": "6m"}
    assert shown["business_hours"] is None and shown["pausing"] is True
    assert shown["notices"] == {"inspection": None, "rectification": None}
    assert shown["workdays"] == {"extra_holidays": [], "extra_workdays": []}
    [first] = shown["revisions"]
    assert first["number"] == 1 and first["effective_from"] is None and first["note"] is None
    assert first["policy"]["targets"]["default"]["resolve"] == "4h"
    assert first["policy"]["warranty"] == {"start": "2024-06-01", "years": 3, "end": None}

    # A severity with no target for a metric is not promised: null, and "—" for people.
    # Seed 001 promises no fix time (its 24 h is a solution proposed) and no unit.
    seed_001 = cli.json("contract", "show", "seed-001")["targets"]
    assert seed_001["critical"] == {
        "respond": "1h",
        "arrive": "8h",
        "resolve": None,
        "replacement": None,
        "diagnose": "3h",
        "consult_solution": "3h",
        "fault_solution": "24h",
    }
    seed_000 = cli.run("contract", "show", "seed-000").stdout
    assert "business 08:00–17:30" in seed_000 and "same-day" in seed_000 and "—" in seed_000

    cli.run(
        "contract",
        "load",
        str(revised_seed_002(tmp_path)),
        "--effective",
        "2026-11-01T00:00",
        "--note",
        "客户同意放宽",
        **ADMIN,
    )
    now = cli.json("contract", "show", "seed-002")
    later = cli.json("contract", "show", "seed-002", "--at", "2026-11-01T00:00")
    assert now["revision"] == 1 and now["targets"]["general"]["resolve"] == "4h"
    assert later["revision"] == 2 and later["targets"]["general"]["resolve"] == "6h"
    assert later["revision_count"] == 2
    assert [(r["number"], r["effective_from"], r["note"]) for r in later["revisions"]] == [
        (1, None, None),
        (2, "2026-11-01T00:00:00+08:00", "客户同意放宽"),
    ]
    assert later["revisions"][1]["policy"]["targets"]["default"]["resolve"] == "6h"

    missing = cli.run("contract", "show", "seed-999", ok=False)
    assert missing.returncode == 2
    assert "no contract seed-999: load it with `ledger contract load FILE.toml`" in missing.stderr


def test_a_report_without_customer_takes_the_contracts(sqlite_url: str) -> None:
    cli = make_cli(sqlite_url)
    i = REPORT_ARGS.index("--customer")
    without = REPORT_ARGS[:i] + REPORT_ARGS[i + 2 :]
    assert cli.json(*without)["customer"] == "禹州市公安局"
    unknown = cli.run(*[("seed-777" if a == "seed-002" else a) for a in without], ok=False)
    assert unknown.returncode == 2 and "no contract seed-777" in unknown.stderr


# --------------------------------------------------------------------------- calendar


def test_calendar_load_and_show_a_future_year(db_url: str, tmp_path: Path) -> None:
    cli = fresh_cli(db_url)
    path = write(tmp_path / "2031.toml", CALENDAR_2031)
    loaded = cli.run("calendar", "load", str(path))
    assert loaded.stdout == "2031: loaded 15 days off in 3 periods and 2 make-up workdays\n"
    assert cli.event_count() == 1

    again = cli.run("calendar", "load", str(path))
    assert "2031: unchanged" in again.stdout
    assert cli.event_count() == 1

    shown = cli.json("calendar", "show", "2031")
    assert shown["origin"] == "loaded" and shown["source"] == "TEST DATA: made-up 2031 notice"
    assert shown["replaces_bundled"] is False
    assert shown["holidays"][:3] == ["2031-01-01", "2031-01-22", "2031-01-23"]
    assert len(shown["holidays"]) == 15
    assert shown["workdays"] == ["2031-01-19", "2031-10-11"]
    assert shown["periods"][1] == {"start": "2031-01-22", "end": "2031-01-28", "days": 7}
    human = cli.run("calendar", "show", "2031").stdout
    assert "2031-01-22 Wed – 2031-01-28 Tue (7 days)" in human and "2031-01-19 Sun" in human

    with Ledger.open(db_url) as ledger:
        calendar = ledger.contracts.work_calendar()
        assert calendar.is_workday(date(2031, 1, 19))  # a Sunday worked
        assert not calendar.is_workday(date(2031, 1, 22))  # a Wednesday off
        assert calendar.is_workday(date(2031, 1, 29))


def test_a_loaded_year_replaces_the_bundled_table(sqlite_url: str, tmp_path: Path) -> None:
    cli = fresh_cli(sqlite_url)
    bundled = cli.json("calendar", "show", "2026")
    assert bundled["origin"] == "bundled" and "chinesecalendar" in bundled["source"]
    assert "2026-10-01" in bundled["holidays"] and "2026-10-10" in bundled["workdays"]

    # TEST DATA: a made-up correction of 2026.
    path = write(tmp_path / "2026.toml", 'year = 2026\nholidays = ["2026-10-01..2026-10-08"]\n')
    result = cli.run("calendar", "load", str(path))
    assert result.stdout == (
        "2026: loaded 8 days off in 1 period and 0 make-up workdays; "
        "replaces the bundled 2026 table\n"
    )
    shown = cli.json("calendar", "show", "2026")
    assert shown["origin"] == "loaded" and shown["replaces_bundled"] is True
    assert shown["workdays"] == []


def test_calendar_file_problems_name_their_entries(sqlite_url: str, tmp_path: Path) -> None:
    cli = fresh_cli(sqlite_url)
    path = write(
        tmp_path / "bad-2031.toml",
        """\
year = 2031
holidays = [2031-01-01, "2031-01-28..2031-01-22", "2030-12-30..2031-01-02", "soon"]
workdays = ["2031-01-19", "2031-03-04"]
""",
    )
    result = cli.run("calendar", "load", str(path), ok=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'{path}: holidays[1]: "2031-01-28..2031-01-22" ends before it starts',
        f'{path}: holidays[3]: "soon" is not a date or a range of dates '
        '(e.g. 2027-10-01, "2027-10-01" or "2027-10-01..2027-10-07")',
        f"{path}: holidays[2]: 2030-12-30 is not in 2031",
        f"{path}: workdays[1]: 2031-03-04 is a Tuesday: only a Saturday or Sunday can be "
        "a make-up workday",
        "Error: 4 problems: nothing recorded",
    ]
    assert cli.event_count() == 0


def test_parse_holiday_table_expands_ranges() -> None:
    table = parse_holiday_table(
        {"year": 2031, "holidays": ["2031-05-01..2031-05-05", date(2031, 5, 3)]}
    )
    assert table.holidays == tuple(date(2031, 5, d) for d in range(1, 6))
    assert table.workdays == () and table.source is None
    with pytest.raises(CommandError) as raised:
        parse_holiday_table({"year": 2031, "holidays": ["2031-01-01..2031-03-01"]})
    assert raised.value.problems == [
        'holidays[0]: "2031-01-01..2031-03-01" is 60 days long: a holiday period is at most a month'
    ]


def test_an_unknown_year_says_how_to_load_it(sqlite_url: str) -> None:
    cli = fresh_cli(sqlite_url)
    result = cli.run("calendar", "show", "2032", ok=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: no official working-day table for 2032 (known years: 2004–2026): "
        "load it with `ledger calendar load FILE.toml`"
    )
