"""``ledger ticket|visit|action attach NUMBER FILE``: an evidence file into the store, its
hash into the chain (``ledger/commands/evidence.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ledger.cli.support import (
    FAILURE,
    Settings,
    actor_options,
    choices,
    fail,
    json_option,
    pass_settings,
    print_json,
)
from ledger.commands.evidence import EvidenceService
from ledger.domain.evidence import Evidence, EvidenceKind
from ledger.domain.values import Role
from ledger.presenters.tickets import evidence_view
from ledger.reports.common import EVENT_WORDS
from ledger.reports.export import Lang
from ledger.storage.evidence import (
    EvidenceNotConfigured,
    EvidenceRefused,
    EvidenceSettings,
    EvidenceStore,
    EvidenceUnavailable,
    TooLarge,
)
from ledger.storage.location import Location

NOUNS = {"ticket": "ticket", "visit": "return visit", "action": "corrective action"}
BYTES = {"zh": "字节", "en": "bytes"}
KINDS_ZH = {
    EvidenceKind.SIGNED_FORM: "签字服务单",
    EvidenceKind.SIGNATURE: "签名",
    EvidenceKind.PHOTO: "照片",
    EvidenceKind.FAX: "传真件",
    EvidenceKind.REPORT: "报告",
    EvidenceKind.OTHER: "其他",
}


def evidence_store(settings: Settings, location: Location) -> EvidenceStore:
    """The configured store (``--evidence``, ``LEDGER_EVIDENCE``, the default), or exit 2."""
    try:
        return EvidenceSettings.from_env(settings.evidence).open(location)
    except EvidenceNotConfigured as e:
        fail(str(e))


def read_file(path: Path, max_bytes: int) -> bytes:
    """The file's bytes; one over the limit is refused before it is read whole."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TooLarge(
                f"{path.name} is {size} bytes: over the evidence limit of {max_bytes} bytes "
                f"({max_bytes / 1024 / 1024:g} MiB)"
            )
        with path.open("rb") as file:
            return file.read(max_bytes + 1)
    except OSError as e:
        fail(f"{path}: cannot read: {e.strerror or e}")


def attached_line(number: str, evidence: Evidence, lang: Lang) -> str:
    """``T-2026-000001 已附证据文件 form.pdf (签字服务单, application/pdf, 1234 字节,
    sha256 …) (版本 7)``."""
    kind = KINDS_ZH[evidence.kind] if lang == "zh" else evidence.kind.value
    return (
        f"{number} {EVENT_WORDS('EvidenceAttached', lang)} {evidence.file_name} "
        f"({kind}, {evidence.media_type}, {evidence.size} {BYTES[lang]}, "
        f"sha256 {evidence.sha256}) ({EVENT_WORDS('version', lang)} {evidence.version})"
    )


def attach_command(group: click.Group, kind: str) -> None:
    """Register ``ledger GROUP attach NUMBER FILE`` on ``group`` (``kind``: ticket, visit
    or action)."""
    noun = NOUNS[kind]

    @group.command(
        "attach",
        help=f"Attach an evidence file to a {noun} (a signed form, a signature, a photo, a "
        "fax, a report): the bytes go into the evidence store (their media type read from "
        "the bytes), their SHA-256 into the hash chain.",
    )
    @click.argument(kind)
    @click.argument(
        "file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
    )
    @click.option("--kind", required=True, type=choices(EvidenceKind))
    @click.option("--name", help="The file name to record. Default: FILE's own name.")
    @actor_options
    @json_option
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
    @pass_settings
    def attach(settings: Settings, /, **options: Any) -> None:
        path: Path = options["file"]
        lang: Lang = "en" if options["lang"] == "en" else "zh"
        with settings.open() as ledger:
            store = evidence_store(settings, ledger.location)
            service = EvidenceService(store, ledger.tickets, ledger.quality)
            try:
                data = read_file(path, store.max_bytes)
                done = service.attach(
                    kind,
                    options[kind],
                    data,
                    file_name=options["name"] or path.name,
                    evidence_kind=options["kind"],
                    actor=options["actor"],
                    role=Role(options["role"]),
                    at=options["at"],
                )
            except EvidenceRefused as e:
                fail(str(e))
            except EvidenceUnavailable as e:
                fail(str(e), FAILURE)
        number = done.record.number
        if options["as_json"]:
            print_json({kind: number, "attachment": evidence_view(done.evidence, settings.tz)})
            return
        click.echo(attached_line(number, done.evidence, lang))
