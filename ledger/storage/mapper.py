"""Maps immutable pydantic events to the library's stored events and back.

The 9.5 wheel of eventsourcing does not ship its pydantic mapper (it lives in the
library's examples), so this is ours, in that style: pydantic for the shape, orjson
for the bytes, and the library's ``class_version`` / ``upcast_vN_vM`` convention so an
event written by an older schema still loads after the schema changes.
"""

from __future__ import annotations

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
    goes the dict way, which also reports what is wrong with a corrupt state."""

    def _plain(self) -> bool:
        return isinstance(self.transcoder, OrjsonTranscoder) and not (
            self.compressor or self.cipher
        )

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        event = cast(DomainEvent, domain_event)
        if type(event).class_version == 1 and self._plain():
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
        stored_state = self.transcoder.encode(state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return stored_state

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        try:
            cls: type[DomainEvent] = resolve_topic(stored_event.topic)
        except Exception as e:
            raise self._error(stored_event, e) from e
        state = stored_event.state
        oid = stored_event.originator_id
        if (
            cls.class_version == 1
            and isinstance(oid, UUID)
            and isinstance(state, bytes)
            and state[:1] == b"{"
            and _CLASS_VERSION not in state
            and self._plain()
        ):
            try:
                head = b'{"originator_id":"%s","originator_version":%d,' % (
                    oid.hex.encode(),
                    stored_event.originator_version,
                )
                return cast(DomainEventProtocol[Any], cls.model_validate_json(head + state[1:]))
            except ValueError:
                pass  # the dict way says what is wrong
        return self._decode(cls, stored_event)

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
            state["originator_id"] = stored_event.originator_id
            state["originator_version"] = stored_event.originator_version
            return cast(DomainEventProtocol[Any], cls.model_validate(state))
        except Exception as e:
            raise self._error(stored_event, e) from e

    @staticmethod
    def _error(stored_event: StoredEvent, e: Exception) -> MapperDeserialisationError:
        return MapperDeserialisationError(
            f"cannot load stored event {stored_event.topic!r} of "
            f"{stored_event.originator_id} v{stored_event.originator_version}: {e}"
        )


_CLASS_VERSION = b'"class_version"'
