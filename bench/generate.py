"""A seeded synthetic service history as ``ledger import`` lines, for the benchmarks.

The history is a run of monthly blocks, each one the demo's month of service
(``examples/demo_tickets.py``: the five seed contracts, the hotline's mix of tickets with
escalations, suspensions, loaner units, reopenings and cancellations, then the quality
department's return visits, corrective actions, complaints and periodic visits), made
with the demo's own functions and moved back in time by 31 days per block so that the last
block is October 2026. Each block is written as the demo writes its month: ticket lines in
time order, then the follow-up. Refs are prefixed with the block (``m07-00042``), so a
line may name any earlier record. A block moved back before a contract's warranty starts
holds tickets out of contract: each gets its work contact sheet (工作联系单) right after its
response, before any dispatch (docs/sla.md). The same size and seed always give the same file.

Usage: ``python -m bench.generate --size small --seed 2026 > history.jsonl``.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO

import orjson

from examples import demo_tickets as demo
from ledger.commands.contracts import parse_contract, read_toml
from ledger.domain.contract import Policy

CONTRACT_FILES = sorted((Path(__file__).parents[1] / "examples" / "contracts").glob("*.toml"))

NOW = "2026-11-20T18:00+08:00"
"""``LEDGER_NOW`` for the import: after the last line of the last block, as in the demo."""
BLOCK_STEP = timedelta(days=31)
"""Each block is the demo's October (reports over 30 days), one step earlier than the next."""
DEFAULT_SEED = 2026


@dataclass(frozen=True)
class Size:
    name: str
    tickets: int
    months: int


SIZES = {
    "tiny": Size("tiny", tickets=24, months=1),
    "small": Size("small", tickets=1_000, months=3),
    "medium": Size("medium", tickets=10_000, months=12),
    "large": Size("large", tickets=200_000, months=36),
}


@dataclass
class Summary:
    """What a generated file holds."""

    lines: int = 0
    tickets: int = 0
    commands: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "tickets": self.tickets,
            "commands": dict(self.commands.most_common()),
        }


def history(size: Size, seed: int = DEFAULT_SEED) -> Iterator[dict[str, object]]:
    """Every line, block by block (oldest first)."""
    rng = random.Random(seed)
    base, extra = divmod(size.tickets, size.months)
    for month in range(size.months):
        count = base + (1 if month < extra else 0)
        shift = -BLOCK_STEP * (size.months - 1 - month)
        yield from month_lines(rng, count, f"m{month:02d}", shift)


def month_lines(
    rng: random.Random, count: int, prefix: str, shift: timedelta
) -> list[dict[str, object]]:
    """The demo's month (``demo_tickets.main``) with ``count`` tickets, refs prefixed with
    ``prefix``, every time moved by ``shift``."""
    start = datetime(2026, 10, 1, 0, 0, tzinfo=demo.TZ)
    reports = sorted(
        start + timedelta(minutes=rng.randint(0, 30 * 24 * 60 - 1)) for _ in range(count)
    )
    policies = {path.stem: parse_contract(read_toml(path)).policy for path in CONTRACT_FILES}
    tickets = [
        _with_contact_sheet(demo.ticket_lines(rng, f"{prefix}-{i + 1:05d}", t), policies, shift)
        for i, t in enumerate(reports)
    ]
    lines = sorted(
        (line for ticket in tickets for line in ticket),
        key=lambda line: (str(line["at"]), line["command"] != "report"),
    )
    quality = [q for ticket in tickets for q in demo.quality_lines(rng, ticket)]
    quality += [_prefixed(line, prefix) for line in demo.periodic_visit_lines(rng)]
    quality.sort(key=lambda line: str(line["at"]))
    return [_shifted(line, shift) for line in (*lines, *quality)]


def _with_contact_sheet(
    ticket: list[dict[str, object]], policies: dict[str, Policy], shift: timedelta
) -> list[dict[str, object]]:
    """A ticket's lines, with the work contact sheet its report needs once moved by ``shift``
    outside its contract's warranty: right after the response (same time), before any
    dispatch. Draws nothing from the generator's random numbers."""
    report = ticket[0]
    policy = policies[str(report["contract"])]
    reported = datetime.fromisoformat(str(report["at"])) + shift
    if policy.warranty.covers(reported.astimezone(policy.zone).date()):
        return ticket
    after = next(i for i, line in enumerate(ticket) if line["command"] == "respond") + 1
    sheet = {
        "command": "contact_sheet",
        "ticket": report["ref"],
        "at": ticket[after - 1]["at"],
        **demo.DISPATCHER,
        "sheet": f"LXD-{report['ref']}",
        "fee": "800",
        "confirmed_by": report["contact_name"],
    }
    return [*ticket[:after], sheet, *ticket[after:]]


def _prefixed(line: dict[str, object], prefix: str) -> dict[str, object]:
    """The demo's periodic visits have fixed refs (``periodic-01``): one set per block."""
    return {
        key: f"{prefix}-{value}" if key in ("ref", "visit") else value
        for key, value in line.items()
    }


def _shifted(line: dict[str, object], shift: timedelta) -> dict[str, object]:
    if not shift:
        return line
    moved = dict(line)
    for key in ("at", "planned_at"):
        if key in moved:
            moved[key] = demo.iso(datetime.fromisoformat(str(moved[key])) + shift)
    if "due_on" in moved:
        moved["due_on"] = (date.fromisoformat(str(moved["due_on"])) + shift).isoformat()
    return moved


def write_history(out: IO[bytes], size: Size, seed: int = DEFAULT_SEED) -> Summary:
    """Write the history as JSON lines; return what was written."""
    summary = Summary()
    for line in history(size, seed):
        out.write(orjson.dumps(line) + b"\n")
        summary.lines += 1
        summary.commands[str(line["command"])] += 1
    summary.tickets = summary.commands["report"]
    return summary


def generate_file(path: Path, size: Size, seed: int = DEFAULT_SEED) -> Summary:
    with path.open("wb") as out:
        return write_history(out, size, seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    summary = write_history(sys.stdout.buffer, SIZES[args.size], args.seed)
    sys.stdout.flush()
    print(orjson.dumps(summary.as_dict()).decode(), file=sys.stderr)


if __name__ == "__main__":
    main()
