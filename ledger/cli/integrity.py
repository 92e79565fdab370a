"""``ledger digest`` and ``ledger verify``: checkpoints of the hash chain for auditors to
keep, and the check that the log is whole and extends them (docs/integrity.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console

from ledger.cli.support import (
    FAILURE,
    LedgerGroup,
    Settings,
    check_output,
    fail,
    force_option,
    is_stdout,
    json_option,
    out_path,
    pass_settings,
    plural,
    print_json,
    write_output,
)
from ledger.integrity.digest import (
    KEY_ENV,
    Digest,
    DigestError,
    digest_json,
    generate_key,
    load_digest,
    load_private_key,
    load_public_key,
    public_key_path,
    take_digest,
)
from ledger.integrity.findings import CHECKS, DigestResult, Verdict
from ledger.integrity.verify import verify_ledger
from ledger.storage.evidence import EvidenceSettings
from ledger.storage.reads import chain_head
from ledger.timeutil import show

path_type = click.Path(dir_okay=False, path_type=Path)

# --------------------------------------------------------------------------- digest


@click.group(cls=LedgerGroup, invoke_without_command=True)
@click.option("--out", type=out_path, help="Write the digest to FILE (-: stdout).")
@force_option
@click.option(
    "--key",
    type=path_type,
    envvar=KEY_ENV,
    help=f"Ed25519 private key (PEM) to sign with (or {KEY_ENV}). Without: unsigned.",
)
@json_option
@click.pass_context
def digest(
    ctx: click.Context, out: Path | None, key: Path | None, as_json: bool, force: bool
) -> None:
    """Take a digest: the chain's head (position, hash, time), signed when a key is set.

    Keep it outside the system; `ledger verify --digest FILE` proves the log extends it.
    Without --out the document is printed.
    """
    if ctx.invoked_subcommand is not None:
        given = [
            flag
            for name, flag in (
                ("out", "--out"),
                ("key", "--key"),
                ("as_json", "--json"),
                ("force", "--force"),
            )
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
        ]
        if given:
            fail(f"{', '.join(given)}: options of `ledger digest`, not of its subcommands")
        return
    settings = ctx.find_object(Settings)
    assert settings is not None
    if is_stdout(out):
        out = None
    if out is not None:
        check_output(out, force=force)
    with digest_errors():
        signing_key = None if key is None else load_private_key(key)
        with settings.open() as ledger:
            taken = take_digest(
                ledger.engine,
                ledger.location.events_table,
                ledger=ledger.location.describe(),
                now=ledger.clock.now(),
                key=signing_key,
            )
        if out is not None:
            write_output(out, digest_json(taken), force=force)
    if out is None or as_json:
        sys.stdout.write(digest_json(taken))
    else:
        click.echo(f"digest written to {out}: {digest_line(taken, settings.tz)}")
    if not taken.signed:
        click.echo(
            f"unsigned digest: give --key (or {KEY_ENV}) to sign it (ledger digest keygen)",
            err=True,
        )
    if taken.event_count != taken.position:
        click.echo(
            f"warning: the log holds {plural(taken.event_count, 'event')} but its chain ends at "
            f"position {taken.position}: run `ledger verify`",
            err=True,
        )


@digest.command("keygen")
@click.option(
    "--out",
    type=out_path,
    required=True,
    help="Private key file to create (mode 0600); the public key goes to OUT.pub.",
)
@force_option
def digest_keygen(out: Path, force: bool) -> None:
    """Create an Ed25519 key pair to sign digests with (an existing key file is replaced
    only with --force)."""
    if is_stdout(out):
        fail("--out -: a key pair is two files (OUT and OUT.pub): name a file")
    for path in (out, public_key_path(out)):
        check_output(path, force=force)
    with digest_errors():
        private, public, raw = generate_key(out, replace=force)
    click.echo(f"private key {private} (mode 0600): keep it secret, sign with --key {private}")
    click.echo(f"public key {public}: give it to auditors (ledger verify --public-key)")
    click.echo(f"public key (hex): {raw.hex()}")


@contextmanager
def digest_errors() -> Iterator[None]:
    """A digest or key file that cannot be used is bad input (exit 2)."""
    try:
        yield
    except DigestError as e:
        fail(str(e))


def load_digests(
    digest_files: tuple[Path, ...], public_key: Path | None
) -> tuple[list[Digest], bytes | None]:
    """The ``--digest`` files and the ``--public-key`` they must be signed with (bad input,
    exit 2, when unusable or when a key is given without a digest)."""
    if public_key is not None and not digest_files:
        fail("--public-key checks digests: give --digest FILE as well")
    with digest_errors():
        digests = [load_digest(path) for path in digest_files]
        key = None if public_key is None else load_public_key(public_key)
    return digests, key


def digest_line(d: Digest, tz: tzinfo, *, full: bool = True) -> str:
    """What a digest says: in full when taken, shortened in verify's list."""
    head, signer = d.head_hash.hex(), "" if d.public_key is None else d.public_key.hex()
    if not full:
        head, signer = head[:16] + "…", signer[:16] + "…"
    taken = show(datetime.fromisoformat(d.created_at), tz)
    signed = f"signed by {signer}" if d.signed else "unsigned"
    of = f" of {d.ledger}" if full else ""
    return f"position {d.position}, head {head}, taken {taken}{of}, {signed}"


# --------------------------------------------------------------------------- verify


@click.command("verify")
@click.option(
    "--digest",
    "digest_files",
    type=path_type,
    multiple=True,
    help="A digest the log must extend (repeatable).",
)
@click.option(
    "--public-key",
    type=path_type,
    help="The key every digest must be signed with (PEM, or 64 hex digits).",
)
@json_option
@pass_settings
def verify(
    settings: Settings, digest_files: tuple[Path, ...], public_key: Path | None, as_json: bool
) -> None:
    """Check the whole log: every hash, positions, versions, and each digest.

    Exit 0 only when everything holds; 1 with the first bad position otherwise.
    """
    digests, key = load_digests(digest_files, public_key)
    with settings.open() as ledger:
        engine, table = ledger.engine, ledger.location.events_table
        with engine.connect() as conn:
            total = chain_head(conn)[0]
        with progress_bar(total, enabled=not as_json) as on_progress:
            location, evidence = ledger.location, settings.evidence
            verdict = verify_ledger(
                engine,
                table,
                digests,
                public_key=key,
                on_progress=on_progress,
                evidence=lambda: EvidenceSettings.from_env(evidence).open(location),
            )
    if as_json:
        print_json(verdict_json(verdict))
    else:
        print_verdict(verdict, settings.tz)
    if not verdict.ok:
        first = verdict.problems[0]
        fail(
            f"{plural(verdict.problem_count, 'problem')}; first: {first.message}",
            FAILURE,
        )


@contextmanager
def progress_bar(total: int, *, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal's stderr (links checked of ``total``); else none."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("verifying the chain", total=total)
        yield lambda done: bar.update(task, completed=done)


SAYS_OK = {
    "hashes": "every link recomputes from the one before",
    "positions": "gap-free from 1",
    "events": "every link's event is present",
    "unchained": "every event is in the chain",
    "ids": "every id is stored as the recorder writes it",
    "versions": "every aggregate's versions run 1..n",
    "times": "recorded times never go backwards (nor before a digest)",
    "read_models": "no read model is ahead of the log",
    "evidence": "every evidence file the chain names is stored, its bytes unchanged "
    "(or erased with its data subject)",
    "keys": "every encrypted personal field has its key, or its data subject was erased",
    "digests": "the log extends every digest",
    "signatures": "every signed digest verifies",
}


def print_verdict(verdict: Verdict, tz: tzinfo) -> None:
    click.echo(
        f"{plural(verdict.events, 'event')} checked: head position {verdict.head_position}, "
        f"hash {verdict.head_hash.hex()}"
    )
    for name in CHECKS:
        result = verdict.checks[name]
        if result.ok:
            click.echo(f"  ok      {name}: {SAYS_OK[name]}")
            continue
        first, *rest = sorted(result.kept, key=lambda p: p.sort_key())
        click.echo(f"  FAILED  {name}: {first.message}")
        for problem in rest:
            click.echo(f"          {problem.message}")
        if result.count > len(result.kept):
            click.echo(f"          … and {result.count - len(result.kept)} more")
    for checked in verdict.digests:
        state = "ok    " if checked.ok else "FAILED"
        line = digest_line(checked.digest, tz, full=False)
        click.echo(f"  {state}  digest {checked.digest.name}: {line}")
    if verdict.fixed_clock_since is not None:
        click.echo(f"  note    clock: {fixed_clock_note(verdict.fixed_clock_since, tz)}")
    if verdict.ok:
        click.echo("ledger verified: every check holds")


def fixed_clock_note(since: datetime, tz: tzinfo) -> str:
    return (
        "recorded times come from a fixed clock (LEDGER_NOW), not the real time: a demo or "
        f"test ledger (declared at {show(since, tz)})"
    )


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "ok": verdict.ok,
        "events": verdict.events,
        "head": {"position": verdict.head_position, "hash": verdict.head_hash.hex()},
        "checks": {
            name: {"ok": result.ok, "problems": result.count}
            for name, result in verdict.checks.items()
        },
        "problems": [p.as_json() for p in verdict.problems],
        "digests": [digest_result_json(r) for r in verdict.digests],
        "clock": clock_json(verdict.fixed_clock_since),
    }


def clock_json(fixed_since: datetime | None) -> dict[str, Any]:
    """Where recorded times come from: ``real``, or ``fixed`` (a demo or test ledger)."""
    if fixed_since is None:
        return {"kind": "real", "fixed_since": None}
    return {"kind": "fixed", "fixed_since": fixed_since.astimezone(UTC).isoformat()}


def digest_result_json(result: DigestResult) -> dict[str, Any]:
    d = result.digest
    return {
        "file": d.source,
        "ok": result.ok,
        "position": d.position,
        "head_hash": d.head_hash.hex(),
        "created_at": d.created_at,
        "ledger": d.ledger,
        "signed": d.signed,
        "public_key": None if d.public_key is None else d.public_key.hex(),
        "problems": [p.message for p in result.problems],
    }
