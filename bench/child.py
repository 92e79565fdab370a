"""Jobs the harness runs in a fresh process, so each one's time excludes interpreter start
and its peak RSS is its own: ``python -m bench.child JOB PARAMS_JSON``. The result is one
JSON object on the last line of stdout.

* ``import``: ``ledger import --json FILE`` through the CLI function (the real command:
  its parsing, service, store and whatever the command does around them);
* ``catch_up``: ``ProjectionRunner.catch_up`` of every projection (after the import: what
  the read models still had to apply);
* ``rebuild``: ``ProjectionRunner.rebuild`` of some projections (all when none are named),
  then the raw scan+decode baseline of the same events (for one projection).
"""

from __future__ import annotations

import io
import json
import resource
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from time import perf_counter
from typing import Any

from bench.raw import scan_decode
from ledger.bootstrap import Ledger


def _rss_mb() -> float:
    """Peak resident set size of this process so far: Linux's ``VmHWM``, the high-water mark
    of this program's own memory. Not ``ru_maxrss``: a process started by fork and exec
    inherits its parent's, so a child of a bench grown to 1.2 GB reported 1.2 GB whatever it
    used (docs/performance.md). ``ru_maxrss`` (KiB on Linux) only where there is no /proc."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 1024


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far (the machine may be shared: wall time
    alone would count other processes' load)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _event_count(url: str) -> int:
    with Ledger.open(url) as ledger:
        return ledger.event_count()


def run_import(url: str, file: str) -> dict[str, Any]:
    from ledger.cli import cli

    cli.commands["import"]  # its module is imported on first use: before the clock starts
    before = _event_count(url)
    out = io.StringIO()
    cpu, start = _cpu_seconds(), perf_counter()
    try:
        with redirect_stdout(out):
            cli.main(
                args=["--db", url, "import", "--json", file],
                prog_name="ledger",
                standalone_mode=False,
            )
        exit_code: object = 0
    except SystemExit as e:
        exit_code = e.code
    seconds, cpu = perf_counter() - start, _cpu_seconds() - cpu
    peak = _rss_mb()
    try:
        report = json.loads(out.getvalue())
    except ValueError:
        report = {}
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "exit_code": exit_code,
        "applied": report.get("applied"),
        "rejected": len(report.get("rejected") or ()),
        "first_rejections": (report.get("rejected") or [])[:5],
        "events": _event_count(url) - before,
        "peak_rss_mb": peak,
    }


def run_catch_up(url: str) -> dict[str, Any]:
    with Ledger.open(url) as ledger:
        cpu, start = _cpu_seconds(), perf_counter()
        applied = ledger.projections.catch_up()
        return {
            "events": applied,
            "seconds": perf_counter() - start,
            "cpu_seconds": _cpu_seconds() - cpu,
            "peak_rss_mb": _rss_mb(),
        }


def run_rebuild(url: str, names: list[str]) -> dict[str, Any]:
    with Ledger.open(url) as ledger:
        chosen = ledger.projections.select(names)
        rss_before = _rss_mb()
        cpu, start = _cpu_seconds(), perf_counter()
        applied = ledger.projections.rebuild(names)
        seconds, cpu = perf_counter() - start, _cpu_seconds() - cpu
        peak = _rss_mb()
        result: dict[str, Any] = {
            "projections": [p.name for p in chosen],
            "events": applied,
            "seconds": seconds,
            "cpu_seconds": cpu,
            "rss_before_mb": rss_before,
            "peak_rss_mb": peak,
        }
        if len(chosen) == 1:
            topics = chosen[0].topics
            baseline = scan_decode(ledger.location, ledger.app.mapper, topics)
            result["baseline"] = {
                "events": baseline.events,
                "scan_seconds": baseline.scan_seconds,
                "scan_decode_seconds": baseline.scan_decode_seconds,
            }
    return result


JOBS: dict[str, Callable[..., dict[str, Any]]] = {
    "import": run_import,
    "catch_up": run_catch_up,
    "rebuild": run_rebuild,
}


def main() -> None:
    job, params = sys.argv[1], json.loads(sys.argv[2])
    # The models are built lazily since issue 18 (a command builds the few it uses); a job
    # builds them all before its clock starts, as importing them did before.
    import ledger.commands.registry  # every command and event model defined
    from ledger.commands.models import Command
    from ledger.domain.model import Immutable, build_validators

    build_validators(Immutable, Command)
    ledger.commands.registry.build_parsers()
    result = JOBS[job](**params)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
