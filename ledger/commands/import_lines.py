"""A line of ``ledger import``'s JSON-lines format (and of ``POST /commands``): its bytes
read as one JSON object, its command parsed (any ticket or quality command; an attach line
refused), its own ``command_id`` checked, its idempotency key when it has none (what it
says and which occurrence it is), and the refs of earlier lines turned into numbers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

import orjson

from ledger.commands.application import NotFound
from ledger.commands.models import AnyCommand, CommandError, check_command_name
from ledger.commands.quality_models import QualityCommand
from ledger.commands.registry import (
    COMMAND_NAMES,
    COMMANDS,
    CREATING,
    QUALITY_COMMAND_NAMES,
    parse_command,
    parse_quality_command,
)

IMPORTABLE = (*COMMAND_NAMES, *QUALITY_COMMAND_NAMES)
NEW_RECORDS = {
    "report": "ticket: its report",
    "visit_schedule": "return visit: its scheduling",
    "action_raise": "corrective action: its raising",
    "complaint_receive": "complaint: its receipt",
}
"""The commands whose line may carry a ``ref`` for the record they make, and what a ref
of a rejected line of each names (for the message of a later line that uses it)."""
assert NEW_RECORDS.keys() == {"report", *CREATING}
REF_FIELDS = ("ticket", "visit", "action", "complaint")
COMMAND_ID_LENGTH = 200


def parse_line(data: dict[str, Any], tz: tzinfo) -> AnyCommand | QualityCommand:
    """One command of any kind, ticket or quality. An attach line is refused: a line
    carries no file, and the ledger records no hash whose bytes it has not stored itself."""
    name = check_command_name(data, IMPORTABLE)
    if COMMANDS[name].upload:
        group = "ticket" if name == "attach" else name.split("_", 1)[0]
        raise CommandError(
            [
                f"command: {name} attaches a file, which an import line cannot carry: use "
                f"`ledger {group} attach NUMBER FILE` or the HTTP API's attachments endpoint"
            ]
        )
    if name in QUALITY_COMMAND_NAMES:
        return parse_quality_command(data, tz)
    return parse_command(data, tz)


def read_line(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CommandError([f"not valid UTF-8 ({e.reason} at byte {e.start})"]) from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise CommandError([f"not valid JSON ({e})"]) from None
    if not isinstance(data, dict):
        raise CommandError(["a command must be a JSON object"])
    return data


def checked_command_id(value: object) -> str | None:
    """A line's own ``command_id``: a string (or integer) of 1 to 200 printable characters."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > COMMAND_ID_LENGTH
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        raise CommandError(
            [
                "command_id: must be a string of 1 to "
                f"{COMMAND_ID_LENGTH} characters without control characters"
            ]
        )
    return value


def content_digest(command: AnyCommand | QualityCommand) -> bytes:
    """What a line says, as validated: the fields it set (after ``--actor``/``--role``
    defaults and refs, times made aware in the zone), as canonical JSON, hashed."""
    fields = command.model_dump(mode="json", exclude_unset=True)
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).digest()


def content_key(digest: bytes, occurrence: int) -> str:
    """The idempotency key of a line without a ``command_id``: what it says and which
    occurrence of that content in the file it is (so two identical lines of one file are
    two commands, and an edited file keeps the keys of the lines it did not change). A
    line's own ``command_id`` is its key as ``id:<command_id>``."""
    return "sha256:" + hashlib.sha256(digest + b"#%d" % occurrence).hexdigest()


def number_for(
    name: object, refs: Mapping[str, str], failed: Mapping[str, tuple[int, str]]
) -> object:
    """A ref of an earlier line becomes the number of the record it made."""
    if not isinstance(name, str | int):
        return name
    key = str(name)
    if key in failed:
        line, command = failed[key]
        raise NotFound(f"ref {key!r} names no {NEW_RECORDS[command]} (line {line}) was rejected")
    return refs.get(key, name)


def resolve_refs(
    data: dict[str, Any], refs: Mapping[str, str], failed: Mapping[str, tuple[int, str]]
) -> None:
    """Every field that names a record may name it by the ref of an earlier line."""
    for key in REF_FIELDS:
        if key in data:
            data[key] = number_for(data[key], refs, failed)
    if data.get("about") == "ticket" and "reference" in data:
        data["reference"] = number_for(data["reference"], refs, failed)
    if isinstance(data.get("links"), list):
        data["links"] = [number_for(link, refs, failed) for link in data["links"]]
