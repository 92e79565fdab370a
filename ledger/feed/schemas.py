"""JSON Schemas of the feed: one per event type (the shape of a CloudEvent's ``data``) and
one for the CloudEvent envelope the feed wraps them in. ``ledger schema export DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from eventsourcing.utils import get_topic

from ledger.domain.model import ENVELOPE_FIELDS, DomainEvent
from ledger.feed.cloudevents import (
    DATA_CONTENT_TYPE,
    EVENT_TYPES,
    SEQUENCE_DIGITS,
    SPEC_VERSION,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_FILE = "cloudevent.json"
INDEX_FILE = "index.json"
SCHEMA_ID_PREFIX = "urn:ledger:schema:"
RFC3339 = {"type": "string", "format": "date-time"}


def data_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of ``data`` for ``event_type``: pydantic's schema of the event class
    as serialised, without the envelope fields (those are CloudEvent attributes)."""
    cls = EVENT_TYPES[event_type]
    schema = cls.model_json_schema(mode="serialization")
    document: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID_PREFIX + event_type,
        "title": event_type,
        "description": _description(cls),
        "type": "object",
        "properties": {
            k: v for k, v in schema.get("properties", {}).items() if k not in ENVELOPE_FIELDS
        },
        "required": [k for k in schema.get("required", []) if k not in ENVELOPE_FIELDS],
        "additionalProperties": False,
    }
    if "$defs" in schema:
        document["$defs"] = schema["$defs"]
    return document


def _description(cls: type[DomainEvent]) -> str:
    """The class's own docstring (not inherited: ``__doc__`` of a class without one is None)."""
    own = " ".join((cls.__doc__ or "").split())
    return f"data of {get_topic(cls)} (class_version {cls.class_version})" + (
        f": {own}" if own else ""
    )


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of a feed CloudEvent (``data`` left to the per-type schemas)."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID_PREFIX + "cloudevent",
        "title": "ledger feed CloudEvent",
        "description": "One ledger event in the CloudEvents 1.0 JSON format (docs/feed.md).",
        "type": "object",
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "datacontenttype",
            "sequence",
            "recordedtime",
            "eventhash",
            "originatorid",
            "originatorversion",
            "actor",
            "role",
            "data",
        ],
        "properties": {
            "specversion": {"const": SPEC_VERSION},
            "id": {"type": "string", "format": "uuid"},
            "source": {"type": "string", "pattern": "^/ledger/[A-Za-z0-9._~-]+$"},
            "type": {"enum": sorted(EVENT_TYPES)},
            "subject": {
                "type": "string",
                "description": "ticket, visit, corrective action or complaint number; "
                "contract id; for a number-issued event, the number issued; for an access "
                "event (ledger.user.*), the user's name",
            },
            "time": {**RFC3339, "description": "when it happened (occurred_at), UTC"},
            "datacontenttype": {"const": DATA_CONTENT_TYPE},
            "sequence": {
                "type": "string",
                "pattern": f"^[0-9]{{{SEQUENCE_DIGITS}}}$",
                "description": "the chain position, zero-padded: gap-free and commit-ordered",
            },
            "recordedtime": {**RFC3339, "description": "when the ledger recorded it, UTC"},
            "eventhash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "originatorid": {"type": "string", "format": "uuid"},
            "originatorversion": {"type": "integer", "minimum": 1},
            "actor": {"type": "string"},
            "role": {"type": "string"},
            "data": {"type": "object"},
        },
        "additionalProperties": False,
    }


def export_schemas(directory: Path) -> list[Path]:
    """Write ``<type>.json`` for every event type, ``cloudevent.json`` and ``index.json``
    (type → file, class topic, class version) into ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    index: dict[str, Any] = {"envelope": ENVELOPE_FILE, "types": {}}
    for event_type in sorted(EVENT_TYPES):
        cls = EVENT_TYPES[event_type]
        name = f"{event_type}.json"
        written.append(_write(directory / name, data_schema(event_type)))
        index["types"][event_type] = {
            "schema": name,
            "topic": get_topic(cls),
            "class_version": cls.class_version,
        }
    written.append(_write(directory / ENVELOPE_FILE, envelope_schema()))
    written.append(_write(directory / INDEX_FILE, index))
    return written


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return path
