"""``ledger privacy``: find, export and erase a data subject's personal information, and the
retention sweep (docs/privacy.md)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson

from ledger.cli.support import (
    Settings,
    fail,
    json_option,
    pass_settings,
    plural,
    print_json,
    time_option,
    who_options,
)
from ledger.commands.privacy import DEFAULT_KEEP_YEARS, UnknownSubject
from ledger.domain.values import Role
from ledger.storage.evidence import EvidenceError, EvidenceSettings, EvidenceStore
from ledger.storage.location import Location

KEEP_YEARS_ENV = "LEDGER_PRIVACY_KEEP_YEARS"

lang_option = click.option(
    "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True
)


@click.group("privacy")
def privacy() -> None:
    """Personal information (个人信息, PIPL): find, export and erase a data subject's."""


def _subject_options(f: Any) -> Any:
    f = click.option("--phone", help="The subject a contact's phone number identifies.")(f)
    f = click.option("--name", help="The subject a name identifies (a signer, a confirmer).")(f)
    return click.option("--subject", "subject_id", help="A data subject id (s-...).")(f)


def _chosen(ledger: Any, subject_id: str | None, name: str | None, phone: str | None) -> list[str]:
    if bool(subject_id) + bool(name or phone) != 1:
        fail("give --subject, or --name and/or --phone")
    return [subject_id] if subject_id else ledger.privacy.subject_ids(name=name, phone=phone)


def _evidence(settings: Settings, location: Location) -> Callable[[], EvidenceStore] | None:
    """The evidence store, when one is configured (PostgreSQL without a setting has none)."""
    try:
        store = EvidenceSettings.from_env(settings.evidence).open(location)
    except EvidenceError:
        return None
    return lambda: store


@privacy.command("subjects")
@click.option("--name", help="A person's name.")
@click.option("--phone", help="A contact's phone number.")
@json_option
@pass_settings
def subjects(settings: Settings, name: str | None, phone: str | None, as_json: bool) -> None:
    """The data subject ids a name or phone number names, and where each appears."""
    if not (name or phone):
        fail("give --name and/or --phone")
    with settings.open() as ledger:
        ids = ledger.privacy.subject_ids(name=name, phone=phone)
        index = ledger.privacy.index()
        rows: list[dict[str, Any]] = [
            {
                "subject_id": subject_id,
                "key": ledger.keys.state(subject_id),
                "events": index.events(subject_id),
                "records": len(index.aggregates(subject_id)),
            }
            for subject_id in ids
        ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['subject_id']}  key {row['key']}, "
            f"{plural(row['events'], 'event')} in {plural(row['records'], 'record')}"
        )


@privacy.command("export")
@_subject_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@pass_settings
def export(
    settings: Settings,
    subject_id: str | None,
    name: str | None,
    phone: str | None,
    out: Path | None,
) -> None:
    """What the ledger holds about a data subject, as JSON (PIPL art. 45)."""
    with settings.open() as ledger:
        chosen = _chosen(ledger, subject_id, name, phone)
        if subject_id:
            found = [ledger.privacy.export(subject_id)]
        else:
            found = []
            for subject in chosen:
                try:
                    found.append(ledger.privacy.export(subject))
                except UnknownSubject:
                    continue  # a name or number given that names nobody here
        if not found:
            fail("no data subject by that name or phone number in this ledger")
    data = found[0] if subject_id else found
    if out is None:
        print_json(data)
    else:
        out.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        click.echo(f"wrote {out}")


@privacy.command("erase")
@_subject_options
@click.option("--reason", required=True, help="Why (the person's request, PIPL art. 47 ...).")
@who_options
@json_option
@lang_option
@pass_settings
def erase(
    settings: Settings,
    subject_id: str | None,
    name: str | None,
    phone: str | None,
    reason: str,
    actor: str,
    role: str,
    as_json: bool,
    lang: str,
) -> None:
    """Erase a data subject: record SubjectErased, destroy its key, delete its evidence files.

    Its personal fields then read as [已删除] everywhere; the chain, verify and the SLA
    figures are unchanged. Erasing an erased subject does nothing.
    """
    with settings.open() as ledger:
        chosen = _chosen(ledger, subject_id, name, phone)
        evidence = _evidence(settings, ledger.location)
        index = ledger.privacy.index()
        if not subject_id:
            chosen = [
                s for s in chosen if s in index.appearances or ledger.keys.state(s) != "unknown"
            ]
            if not chosen:
                fail("no data subject by that name or phone number in this ledger")
        done = [
            ledger.privacy.erase(
                s, reason, actor=actor, role=Role(role), evidence=evidence, index=index
            )
            for s in chosen
        ]
    if as_json:
        print_json([_view(e) for e in done])
        return
    for erasure in done:
        click.echo(_line(erasure, lang))


def _view(erasure: Any) -> dict[str, Any]:
    return {
        "subject_id": erasure.subject_id,
        "recorded": erasure.event is not None,
        "key_destroyed": erasure.key_destroyed,
        "files_deleted": list(erasure.files_deleted),
    }


def _line(erasure: Any, lang: str) -> str:
    files = len(erasure.files_deleted)
    if erasure.event is None and not erasure.key_destroyed and not files:
        if lang == "en":
            return f"{erasure.subject_id}: already erased, nothing to do"
        return f"{erasure.subject_id}：已删除过，无需处理"
    if lang == "en":
        deleted = plural(files, "evidence file")
        return f"{erasure.subject_id}: erased (key destroyed, {deleted} deleted)"
    return f"{erasure.subject_id}：已删除（密钥已销毁，删除证据文件 {files} 个）"


@privacy.command("sweep")
@click.option(
    "--keep-years",
    type=click.IntRange(min=0),
    help=f"Keep personal information N years after a ticket or visit is finished "
    f"(or {KEEP_YEARS_ENV}; default 3).",
)
@click.option("--now", "now_text", help="Sweep as of this time (ISO 8601). Default: now.")
@click.option("--dry-run", is_flag=True, help="List who is due, erase nothing.")
@who_options
@json_option
@lang_option
@pass_settings
def sweep(
    settings: Settings,
    keep_years: int | None,
    now_text: str | None,
    dry_run: bool,
    actor: str,
    role: str,
    as_json: bool,
    lang: str,
) -> None:
    """Erase the personal information whose retention period has ended (safe to repeat)."""
    years = keep_years if keep_years is not None else _env_years(DEFAULT_KEEP_YEARS)
    now = time_option("--now", now_text, settings.tz)
    with settings.open() as ledger:
        result = ledger.privacy.sweep(
            now or ledger.clock.now(),
            years,
            actor=actor,
            role=Role(role),
            evidence=_evidence(settings, ledger.location),
            dry_run=dry_run,
        )
    if as_json:
        print_json(
            {
                "keep_years": years,
                "dry_run": dry_run,
                "erased": [_view(e) for e in result.erased],
                "kept": result.kept,
            }
        )
        return
    for erasure in result.erased:
        if dry_run:
            click.echo(
                f"{erasure.subject_id}: due" if lang == "en" else f"{erasure.subject_id}：到期"
            )
        else:
            click.echo(_line(erasure, lang))
    count = len(result.erased)
    if lang == "en":
        verb = "due" if dry_run else "erased"
        click.echo(
            f"{plural(count, 'subject')} {verb}, {result.kept} kept "
            f"(retention {years} years after finishing)"
        )
    else:
        verb = "到期" if dry_run else "已删除"
        click.echo(f"{verb} {count} 个主体，保留 {result.kept} 个（办结后保存 {years} 年）")


def _env_years(default: int) -> int:
    text = os.environ.get(KEEP_YEARS_ENV)
    if not text:
        return default
    if not text.isdigit():
        fail(f"{KEEP_YEARS_ENV}: {text!r} is not a number of years")
    return int(text)
