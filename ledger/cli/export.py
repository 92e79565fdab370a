"""``ledger export``: one ticket's audit dossier as JSON, a self-contained HTML page or PDF."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from ledger.cli.integrity import load_digests, path_type
from ledger.cli.support import FAILURE, Settings, fail, pass_settings
from ledger.reports.dossier import build_dossier
from ledger.reports.dossier_render import FontMissing, render_html, render_pdf
from ledger.reports.export import Lang


@click.command("export")
@click.option("--ticket", "ref", required=True, help="Ticket number (T-2026-000123) or id.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "html", "pdf"]),
    default="html",
    show_default=True,
)
@click.option("--out", type=path_type, help="Write to this new file (default: stdout; not PDF).")
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
) -> None:
    """The audit dossier of one ticket: timeline (who, occurred vs recorded, back-dated
    flags), SLA verdicts, signature, linked visits/actions/complaints, each event's hash
    and the digests it was checked against. Exit 1 when an integrity check fails (the
    dossier is still written, saying so)."""
    if fmt == "pdf" and out is None:
        fail("a PDF needs --out FILE")
    if out is not None and out.exists():
        fail(f"{out}: already exists (a dossier is never overwritten)")
    digests, key = load_digests(digest_files, public_key)
    with settings.open() as ledger:
        dossier = build_dossier(ledger, ref, digests=digests, public_key=key, whole_log=verify_log)
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
    if out is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
    else:
        try:
            with out.open("xb") as file:
                file.write(content)
        except OSError as e:
            fail(f"{out}: cannot write: {e.strerror or e}")
        click.echo(f"dossier of {dossier['ticket']['number']} written to {out}", err=True)
    if not dossier["integrity"]["ok"]:
        fail(f"integrity check failed: {dossier['integrity']['summary']}", FAILURE)
