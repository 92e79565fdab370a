"""The relay's pure parts (ledger/relay/messages.py): subjects from types, the headers that
make the stream the relay's memory, and where a relay goes on."""

from __future__ import annotations

import pytest

from ledger.feed.cloudevents import EVENT_TYPES
from ledger.relay.messages import (
    BadRelayOption,
    Mark,
    RelayError,
    check_prefix,
    check_stream_name,
    message_for,
    position_in,
    resume_mark,
    subject_for,
)


@pytest.mark.parametrize(
    ("event_type", "prefix", "subject"),
    [
        ("ledger.ticket.responded.v1", "ledger", "ledger.ticket.responded"),
        ("ledger.corrective_action.planned.v1", "ledger", "ledger.corrective_action.planned"),
        ("ledger.user.granted.v2", "acme.ledger", "acme.ledger.user.granted"),
    ],
)
def test_subjects_drop_the_ledger_word_and_the_version(
    event_type: str, prefix: str, subject: str
) -> None:
    assert subject_for(event_type, prefix) == subject


def test_every_event_type_has_a_subject_of_three_plain_tokens() -> None:
    subjects = {subject_for(t) for t in EVENT_TYPES}
    for subject in subjects:
        tokens = subject.split(".")
        assert len(tokens) == 3 and all(t and t.replace("_", "").isalnum() for t in tokens)
    # one subject per event class, unless two versions of one event (none today)
    assert len(subjects) == len(EVENT_TYPES)


def test_a_message_carries_the_event_and_the_headers_that_order_it() -> None:
    event = {
        "id": "2b4146d8-a110-5301-ad72-610778a9da46",
        "type": "ledger.ticket.responded.v1",
        "sequence": "00000000000000000008",
    }
    m = message_for(event, "ledger", after_stream_seq=7)
    assert m.subject == "ledger.ticket.responded"
    assert m.position == 8
    assert m.headers == {
        "Nats-Msg-Id": event["id"],
        "Nats-Expected-Last-Sequence": "7",
        "Ledger-Position": "8",
        "Content-Type": "application/cloudevents+json",
    }
    assert position_in(m.headers) == 8
    assert position_in({"Ledger-Position": "x"}) is None
    assert position_in(None) is None


@pytest.mark.parametrize("name", ["", "a.b", "a b", "A*", "x>", "é"])
def test_stream_names_jetstream_refuses_are_refused(name: str) -> None:
    with pytest.raises(BadRelayOption, match="stream name"):
        check_stream_name(name)


@pytest.mark.parametrize("prefix", ["", "ledger.", ".ledger", "ledger.*", "ledger.>", "a..b"])
def test_prefixes_with_wildcards_or_empty_tokens_are_refused(prefix: str) -> None:
    with pytest.raises(BadRelayOption, match="subject prefix"):
        check_prefix(prefix)


def test_an_empty_stream_starts_at_the_beginning() -> None:
    assert resume_mark("S", 0, None, Mark(40, 45)) == Mark(0, 0)


def test_the_streams_last_message_wins_over_the_saved_mark() -> None:
    """Killed between the ack and saving: the stream is ahead of the saved mark."""
    assert resume_mark("S", 12, 30, Mark(10, 28)) == Mark(12, 30)


def test_a_removed_last_message_is_found_from_the_saved_mark() -> None:
    """Sequence and position advance together, so the saved pair gives the position at
    any later sequence (retention removed the message)."""
    assert resume_mark("S", 12, None, Mark(10, 28)) == Mark(12, 30)
    assert resume_mark("S", 10, None, Mark(10, 28)) == Mark(10, 28)


def test_no_message_and_no_usable_mark_stops_the_relay() -> None:
    with pytest.raises(RelayError, match="position to go on from is unknown"):
        resume_mark("S", 12, None, None)
    with pytest.raises(RelayError, match="unknown"):
        resume_mark("S", 12, None, Mark(13, 40))  # a mark from past this stream's end
