"""``ledger export``: one ticket's audit dossier as JSON, a self-contained HTML page or PDF."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from ledger.cli.integrity import load_digests, path_type
from ledger.cli.support import (
    FAILURE,
    STDOUT,
    Settings,
    check_output,
    fail,
    force_option,
    is_stdout,
    out_path,
    pass_settings,
    write_output,
)
from ledger.reports.dossier import build_dossier
from ledger.reports.dossier_render import FontMissing, render_html, render_pdf
from ledger.reports.export import Lang
from ledger.storage.evidence import EvidenceNotConfigured, EvidenceSettings


@click.command("export")
@click.option("--ticket", "ref", required=True, help="Ticket number (T-2026-000123) or id.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "html", "pdf"]),
    default="html",
    show_default=True,
)
@click.option(
    "--out",
    type=out_path,
    help="Write to FILE (default or -: stdout; a PDF not to a terminal).",
)
@force_option
@click.option(
    "--digest",
    "digest_files",
    type=path_type,
    multiple=True,
    help="A digest to check the ticket's events against (repeatable).",
)
@click.option("--public-key", type=path_type, help="The key the digests must be signed with.")
@click.option(
    "--verify-log",
    is_flag=True,
    help="Also walk the whole chain (as `ledger verify`); slower on a large log.",
)
@click.option("--lang", type=click.Choice(["en", "zh"]), default="zh", show_default=True)
@pass_settings
def export(
    settings: Settings,
    ref: str,
    fmt: str,
    out: Path | None,
    digest_files: tuple[Path, ...],
    public_key: Path | None,
    verify_log: bool,
    lang: str,
    force: bool,
) -> None:
    """The audit dossier of one ticket: timeline (who, occurred vs recorded, back-dated
    flags), SLA verdicts, signature, linked visits/actions/complaints, each event's hash
    and the digests it was checked against. Exit 1 when an integrity check fails (the
    dossier is still written, saying so)."""
    binary = fmt == "pdf"
    target = out or Path(STDOUT)
    check_output(target, force=force, binary=binary, what="a PDF")
    digests, key = load_digests(digest_files, public_key)
    with settings.open() as ledger:
        try:
            store = EvidenceSettings.from_env(settings.evidence).open(ledger.location)
        except EvidenceNotConfigured:
            store = None  # no store: the files are listed, not re-hashed nor drawn
        dossier = build_dossier(
            ledger,
            ref,
            digests=digests,
            public_key=key,
            whole_log=verify_log,
            evidence=store,
            images=fmt != "json",
        )
    language: Lang = "zh" if lang == "zh" else "en"
    if fmt == "json":
        content = orjson.dumps(dossier, option=orjson.OPT_INDENT_2) + b"\n"
    elif fmt == "html":
        content = render_html(dossier, language).encode()
    else:
        try:
            content = render_pdf(dossier, language)
        except FontMissing as e:
            fail(str(e), FAILURE)
    write_output(target, content, force=force, binary=binary)
    if not is_stdout(target):
        click.echo(f"dossier of {dossier['ticket']['number']} written to {target}", err=True)
    if not dossier["integrity"]["ok"]:
        fail(f"integrity check failed: {dossier['integrity']['summary']}", FAILURE)
