"""Contracts without declared metrics judge exactly as before metrics existed (issue 21).

``tests/fixtures/before-metrics/`` holds the five seed contracts as they were before issue 21
(the first encoding, no ``[metrics.*]``), the demo's month of tickets and the benchmark's
``small`` history generated from them, and what the ledger *before* issue 21 (commit
9e7296e, the parent of the metrics work) answered on them: the sweep, ``report sla`` by
contract, severity and month, and every stored verdict (the ``sla_targets`` read model).
Today's ledger must answer the same, byte for byte, on SQLite and PostgreSQL: the built-in
four, now definitions of the declared kind, judge as the fixed four did.

The golden file is written by running this module as a script with the old tree first on
the path (it imports nothing but the CLI, the read model's table and SQLAlchemy, which both
trees have)::

    git archive 9e7296e | tar -x -C /tmp/before21
    PYTHONPATH=/tmp/before21 python tests/e2e/test_contracts_unchanged.py
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import create_engine, select

from ledger.cli import cli
from ledger.projections.sla import sla_targets
from ledger.storage.location import parse_location

FIXTURES = Path(__file__).parents[1] / "fixtures" / "before-metrics"
GOLDEN = FIXTURES / "golden.json"
NOW = "2026-11-20T18:00+08:00"
"""The demo's and the benchmark's ``LEDGER_NOW``: after the last line of either history."""
HISTORIES = {
    # name: (history file, the report's first and last date)
    "demo": ("demo.jsonl", "2026-10-01", "2026-10-31"),
    "bench-small": ("bench-small.jsonl.gz", "2026-08-01", "2026-10-31"),
}


def _run(db_url: str, *args: str) -> str:
    env = {"LEDGER_DB": db_url, "LEDGER_NOW": NOW, "LEDGER_TZ": "Asia/Shanghai"}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _history_file(name: str, workdir: Path) -> Path:
    path = FIXTURES / HISTORIES[name][0]
    if path.suffix != ".gz":
        return path
    plain = workdir / path.stem
    plain.write_bytes(gzip.decompress(path.read_bytes()))
    return plain


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _verdicts(db_url: str) -> list[list[object]]:
    """Every stored verdict, in one spelling on both databases (UTC instants)."""
    engine = create_engine(parse_location(db_url).sqlalchemy_url())
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(sla_targets)).all()
    finally:
        engine.dispose()
    return sorted(
        [
            *(str(r.ticket_id), r.metric, r.target, r.status, _utc(r.due_at), _utc(r.done_at)),
            *(r.breach_minutes, r.elapsed_seconds, r.note),
        ]
        for r in rows
    )


def observe(db_url: str, name: str, workdir: Path) -> dict[str, Any]:
    """A fresh ledger at ``db_url`` with the old contracts and a history, swept as of
    :data:`NOW`; what the sweep and the reports say, and every verdict."""
    _, first, last = HISTORIES[name]
    _run(db_url, "init", "--fixed-clock")
    contracts = [str(p) for p in sorted(FIXTURES.glob("seed-*.toml"))]
    _run(db_url, "contract", "load", "--actor", "系统管理员", "--role", "admin", *contracts)
    _run(db_url, "import", str(_history_file(name, workdir)))
    seen: dict[str, Any] = {"sweep": json.loads(_run(db_url, "sweep", "--json"))}
    for by in ("contract", "severity", "month"):
        report = _run(db_url, "report", "sla", "--from", first, "--to", last, "--by", by, "--json")
        seen[f"report_by_{by}"] = json.loads(report)
    seen["verdicts"] = _verdicts(db_url)
    return seen


def digest(seen: dict[str, Any]) -> dict[str, str]:
    """Each answer's SHA-256 (the benchmark's answers are kept as digests: 1 MB in full)."""
    return {
        key: hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()
        for key, value in seen.items()
    }


def _golden() -> dict[str, Any]:
    golden: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return golden


# --------------------------------------------------------------------------- tests


def test_the_demo_judges_as_before(db_url: str, tmp_path: Path) -> None:
    seen = observe(db_url, "demo", tmp_path)
    golden = _golden()["demo"]
    # Not vacuous: the month has verdicts of every kind and a sweep that records something.
    statuses = {row[3] for row in golden["verdicts"]}
    assert {"met", "breached", "pending", "n/a"} <= statuses
    assert golden["sweep"]["actions"]
    for key in golden:
        assert seen[key] == golden[key], key


def test_the_benchmark_history_judges_as_before(sqlite_url: str, tmp_path: Path) -> None:
    """The benchmark's small history (1,000 tickets over three months), on SQLite: the same
    answers as the old ledger's, compared by digest."""
    seen = observe(sqlite_url, "bench-small", tmp_path)
    assert len(seen["verdicts"]) > 3000
    assert digest(seen) == _golden()["bench-small"]


if __name__ == "__main__":  # write the golden file with the tree first on PYTHONPATH
    import tempfile

    answers: dict[str, Any] = {}
    for history_name in HISTORIES:
        with tempfile.TemporaryDirectory() as tmp:
            found = observe(f"sqlite:///{tmp}/ledger.db", history_name, Path(tmp))
        answers[history_name] = found if history_name == "demo" else digest(found)
    GOLDEN.write_text(json.dumps(answers, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}", file=sys.stderr)
