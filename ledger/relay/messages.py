"""What the relay puts on the broker, and where it resumes: pure, no client library.

A feed event becomes one JetStream message in CloudEvents *structured* mode: the body is the
CloudEvent JSON exactly as ``ledger feed`` writes it, ``Content-Type:
application/cloudevents+json``. Its subject is ``<prefix>.<aggregate>.<event>`` (the type
without ``ledger.`` and ``.v<N>``). The headers make the stream the relay's memory:

* ``Nats-Msg-Id``: the CloudEvent ``id`` (JetStream drops a repeat within its duplicate
  window);
* ``Nats-Expected-Last-Sequence``: the stream sequence of the message before it, so the
  stream stores it only right after that one (a second relay, or a restarted one with a
  stale idea of the stream, is refused instead of storing out of order or twice);
* ``Nats-Expected-Stream``: the stream's name (set by the client);
* ``Ledger-Position``: the event's chain position, so the stream's last message says where
  to go on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.feed.cloudevents import FEED_CONTENT_TYPE, position_of

MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"
POSITION_HEADER = "Ledger-Position"
CONTENT_TYPE = "Content-Type"

_TOKEN = r"[A-Za-z0-9_-]+"
_PREFIX = re.compile(rf"\A{_TOKEN}(\.{_TOKEN})*\Z")
_STREAM = re.compile(r"\A[A-Za-z0-9_-]{1,255}\Z")
_TYPE = re.compile(r"\Aledger\.([a-z_]+)\.([a-z_]+)\.v[0-9]+\Z")


class RelayError(RuntimeError):
    """The relay cannot go on safely (a foreign or unreadable stream): it stops and says why."""


class BadRelayOption(RelayError, ValueError):
    """A stream name or subject prefix that NATS would refuse (bad input)."""


def check_stream_name(name: str) -> str:
    if not _STREAM.match(name):
        raise BadRelayOption(
            f"stream name {name!r}: use 1 to 255 letters, digits, '_' or '-' "
            "(JetStream refuses '.', '*', '>' and spaces)"
        )
    return name


def check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise BadRelayOption(
            f"subject prefix {prefix!r}: use dot-separated tokens of letters, digits, '_' "
            "or '-' (e.g. ledger or acme.ledger; no wildcards)"
        )
    return prefix


def subject_for(event_type: str, prefix: str = "ledger") -> str:
    """``ledger.ticket.responded.v1`` → ``<prefix>.ticket.responded``."""
    m = _TYPE.match(event_type)
    if m is None:
        raise RelayError(f"{event_type!r} is not a ledger event type")
    return f"{prefix}.{m.group(1)}.{m.group(2)}"


@dataclass(frozen=True)
class Message:
    subject: str
    body: bytes
    headers: dict[str, str]
    position: int


def message_for(cloud_event: dict[str, Any], prefix: str, after_stream_seq: int) -> Message:
    """The message for ``cloud_event``, to be stored right after stream sequence
    ``after_stream_seq``."""
    position = position_of(cloud_event)
    return Message(
        subject=subject_for(cloud_event["type"], prefix),
        body=orjson.dumps(cloud_event),
        headers={
            MSG_ID: cloud_event["id"],
            EXPECTED_LAST_SEQUENCE: str(after_stream_seq),
            POSITION_HEADER: str(position),
            CONTENT_TYPE: FEED_CONTENT_TYPE,
        },
        position=position,
    )


def position_in(headers: dict[str, str] | None) -> int | None:
    """The chain position a stored message carries, None when it carries none (a message the
    relay did not publish)."""
    value = (headers or {}).get(POSITION_HEADER)
    if value is None or not value.isdigit():
        return None
    return int(value)


@dataclass(frozen=True)
class Mark:
    """A stream sequence and the chain position of the message stored there (0, 0: an empty
    stream, nothing relayed)."""

    stream_seq: int
    position: int


def resume_mark(stream: str, last_seq: int, last_position: int | None, saved: Mark | None) -> Mark:
    """Where to go on, from the stream's own state.

    ``last_seq`` is the stream's last sequence; ``last_position`` what its message says, None
    when retention (interest, age) has removed it. Every stored message follows the one before
    it (``Nats-Expected-Last-Sequence``) and carries the next chain position, so sequence and
    position advance together: from a ``saved`` mark at or before ``last_seq`` (the one the
    relay stored in the ledger's database after an ack) the position at ``last_seq`` follows.
    """
    if last_seq == 0:
        return Mark(0, 0)
    if last_position is not None:
        return Mark(last_seq, last_position)
    if saved is not None and saved.stream_seq <= last_seq:
        return Mark(last_seq, saved.position + (last_seq - saved.stream_seq))
    raise RelayError(
        f"stream {stream}: its last message (sequence {last_seq}) is gone (retention removed "
        "it) and this ledger has no relay position for this stream at or before it, so the "
        "chain position to go on from is unknown; relay into a new stream, or delete and "
        "recreate this one to replay the feed from the start"
    )
