"""Maps immutable pydantic events to the library's stored events and back.

The 9.5 wheel of eventsourcing does not ship its pydantic mapper (it lives in the
library's examples), so this is ours, in that style: pydantic for the shape, orjson
for the bytes, and the library's ``class_version`` / ``upcast_vN_vM`` convention so an
event written by an older schema still loads after the schema changes.
"""

from __future__ import annotations

import re
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic, resolve_topic

from ledger.domain.model import DomainEvent
from ledger.domain.privacy import personal_fields
from ledger.storage.field_cipher import PII_BYTES, FieldCipher, PrivacyKeyError

ID_FIELDS = {"originator_id", "originator_version"}


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


class PydanticMapper(Mapper[Any]):
    """Events as compact JSON (the fields of ``model_dump(mode="json")``, ids left out, in
    orjson's bytes), ``class_version`` added from version 2 on.

    With the plain orjson transcoder (no compressor, no cipher) both directions take
    pydantic's own JSON path, which produces and reads exactly those bytes without an
    intermediate dict: an event of version 1 is serialised by ``to_json``; a stored state
    that carries no ``class_version`` is validated from its bytes with the ids spliced in
    front. Anything else (upcasting, another transcoder, a state the fast path cannot read)
    goes the dict way, which also reports what is wrong with a corrupt state.

    With a :class:`~ledger.storage.field_cipher.FieldCipher` (``privacy``, set by the ledger when
    it opens), an event with personal fields takes the dict way both directions: those
    fields are encrypted before the bytes are made and decrypted (or read as erased) after
    they are parsed (docs/privacy.md)."""

    privacy: FieldCipher | None = None

    def _plain(self) -> bool:
        return isinstance(self.transcoder, OrjsonTranscoder) and not (
            self.compressor or self.cipher
        )

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        event = cast(DomainEvent, domain_event)
        if self.privacy is not None and personal_fields(type(event)) and self.privacy.enabled():
            stored_state = self._encode(event)
        elif type(event).class_version == 1 and self._plain():
            stored_state = event.__pydantic_serializer__.to_json(event, exclude=ID_FIELDS)
        else:
            stored_state = self._encode(event)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=get_topic(type(event)),
            state=stored_state,
        )

    def _encode(self, event: DomainEvent) -> bytes:
        state = event.model_dump(mode="json", exclude=ID_FIELDS)
        if type(event).class_version > 1:
            state["class_version"] = type(event).class_version
        if self.privacy is not None and self.privacy.enabled():
            self.privacy.encrypt(type(event), state)
        stored_state = self.transcoder.encode(state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return stored_state

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        return self.decode(
            stored_event.topic,
            stored_event.originator_id,
            stored_event.originator_version,
            stored_event.state,
        )

    def decode(
        self, topic: str, originator_id: UUID | str, version: int, state: bytes
    ) -> DomainEventProtocol[Any]:
        """A stored event's fields as the driver returns them (the originator id a ``UUID``
        or, from SQLite, its 32 hex digits) to the domain event."""
        try:
            cls: type[DomainEvent] = resolve_topic(topic)
        except Exception as e:
            raise _error(topic, originator_id, version, e) from e
        oid = originator_id.hex if isinstance(originator_id, UUID) else originator_id
        if (
            cls.class_version == 1
            and isinstance(state, bytes)
            and state[:1] == b"{"
            and _CLASS_VERSION not in state
            and _ORIGINATOR not in state  # the row's ids must win, as they do the dict way
            and not (PII_BYTES in state and personal_fields(cls))
            and _HEX_ID.fullmatch(oid)
            and self._plain()
        ):
            try:
                head = b'{"originator_id":"%s","originator_version":%d,' % (oid.encode(), version)
                return cast(DomainEventProtocol[Any], cls.model_validate_json(head + state[1:]))
            except ValueError:
                pass  # the dict way says what is wrong
        return self._decode(cls, StoredEvent(_as_uuid(originator_id), version, topic, state))

    def _decode(
        self, cls: type[DomainEvent], stored_event: StoredEvent
    ) -> DomainEventProtocol[Any]:
        try:
            stored_state = stored_event.state
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            state: dict[str, Any] = self.transcoder.decode(stored_state)
            cls.upcast(state, state.pop("class_version", 1))
            if personal_fields(cls):
                self._open_personal(cls, state)
            state["originator_id"] = stored_event.originator_id
            state["originator_version"] = stored_event.originator_version
            return cast(DomainEventProtocol[Any], cls.model_validate(state))
        except PrivacyKeyError:
            raise  # its own message: a key store to restore, not a corrupt event
        except Exception as e:
            raise _error(
                stored_event.topic, stored_event.originator_id, stored_event.originator_version, e
            ) from e

    def _open_personal(self, cls: type[DomainEvent], state: dict[str, Any]) -> None:
        if self.privacy is None:
            if orjson.dumps(state).find(PII_BYTES) >= 0:
                raise PrivacyKeyError("personal fields are encrypted but no key store is open")
            return
        self.privacy.decrypt(cls, state)


def _error(
    topic: str, originator_id: object, version: int, e: Exception
) -> MapperDeserialisationError:
    return MapperDeserialisationError(
        f"cannot load stored event {topic!r} of {originator_id} v{version}: {e}"
    )


def _as_uuid(value: UUID | str) -> UUID | str:
    """An id read as text, as the library's recorders give it (a ``UUID`` when it is one)."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except (TypeError, ValueError):
        return value


_HEX_ID = re.compile(r"[0-9a-fA-F]{32}")
_CLASS_VERSION = b'"class_version"'
_ORIGINATOR = b'"originator_'
"""A state naming ids of its own (corrupt or forged: ours never do) takes the dict way, where
the row's ids overwrite them; spliced in front, JSON's last key would win instead."""
