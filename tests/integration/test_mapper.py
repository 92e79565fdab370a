"""The pydantic event mapper: round trips, schema versions and upcasting on a real store."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import uuid4

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic

from ledger.bootstrap import Ledger
from ledger.domain.model import DomainEvent
from tests.support import START, open_desk


class NoteTaken(DomainEvent):
    """Version 1 of a test event: just a text."""

    text: str


class NoteTakenV2(DomainEvent):
    """The same fact after a schema change: a priority was added (v2), then the text
    was renamed to ``body`` (v3). Old stored events must still load."""

    class_version: ClassVar[int] = 3

    body: str
    priority: int

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["priority"] = 3

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["body"] = state.pop("text")


def _stamp() -> dict[str, Any]:
    return {"timestamp": START, "occurred_at": START, "actor": "测试", "role": "admin"}


def test_round_trip_through_a_real_store(db_url: str) -> None:
    desk = open_desk(db_url)
    try:
        app = desk.ledger.app
        event = NoteTaken(originator_id=uuid4(), originator_version=1, text="备注", **_stamp())
        app.save(event)
        (loaded,) = app.events.get(event.originator_id)
        assert loaded == event
        stored = app.mapper.to_stored_event(event)
        assert b"class_version" not in stored.state  # version 1 stores no marker
    finally:
        desk.ledger.close()


def test_old_events_are_upcast_when_loaded(db_url: str) -> None:
    desk = open_desk(db_url)
    try:
        app = desk.ledger.app
        v1 = NoteTaken(originator_id=uuid4(), originator_version=1, text="旧格式", **_stamp())
        old = app.mapper.to_stored_event(v1)
        # The stored bytes of a v1 event, now under the topic of the evolved class.
        app.recorder.insert_events(
            [StoredEvent(old.originator_id, 1, get_topic(NoteTakenV2), old.state)]
        )
        v2_state = {**NoteTaken.model_validate(v1).model_dump(mode="json"), "priority": 1}
        del v2_state["originator_id"], v2_state["originator_version"]
        v2 = StoredEvent(
            old.originator_id,
            2,
            get_topic(NoteTakenV2),
            app.mapper.transcoder.encode({**v2_state, "class_version": 2}),
        )
        app.recorder.insert_events([v2])

        first, second = app.events.get(old.originator_id)
        assert isinstance(first, NoteTakenV2)
        assert (first.body, first.priority) == ("旧格式", 3)
        assert (second.body, second.priority) == ("旧格式", 1)
        # Saving the current version writes its class_version, and reads back unchanged.
        v3 = NoteTakenV2(
            originator_id=old.originator_id, originator_version=3, body="新", priority=2, **_stamp()
        )
        assert b'"class_version":3' in app.mapper.to_stored_event(v3).state
        app.save(v3)
        assert list(app.events.get(old.originator_id, gt=2)) == [v3]
    finally:
        desk.ledger.close()


def test_a_corrupt_stored_event_gives_a_precise_error(sqlite_url: str) -> None:
    desk = open_desk(sqlite_url)
    try:
        broken = StoredEvent(uuid4(), 1, get_topic(NoteTaken), b'{"text": 1}')
        desk.ledger.app.recorder.insert_events([broken])
        with pytest.raises(MapperDeserialisationError, match=r"NoteTaken.*v1"):
            list(desk.ledger.app.events.get(broken.originator_id))
    finally:
        desk.ledger.close()


def test_an_uninitialised_database_is_refused(tmp_path: Any) -> None:
    from ledger.storage.tables import LedgerNotInitialised

    with pytest.raises(LedgerNotInitialised, match="run `ledger init`"):
        Ledger.open(f"sqlite:///{tmp_path}/missing.db")
    assert not (tmp_path / "missing.db").exists()
