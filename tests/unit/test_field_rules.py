"""The engineer's phone facts (issue 16): setting off ("on my way") and arriving with the
phone's location, and the signature captured on the screen linked to its image."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.commands.models import CommandError
from ledger.commands.registry import ALLOWED, parse_command
from ledger.domain.evidence import EvidenceFacts, EvidenceKind
from ledger.domain.ticket import Arrived, CustomerSigned, EngineerSetOff, Geolocation
from ledger.domain.ticket_progress import decide_set_off
from ledger.domain.ticket_rules import (
    decide_arrive,
    decide_attach,
    decide_dispatch,
    decide_resolve,
    decide_sign,
)
from ledger.domain.values import ResolutionMode, Role
from tests.unit.test_ticket_rules import SHANGHAI, History, rejected, stamp

HERE = Geolocation(latitude=34.1557, longitude=113.4703, accuracy_m=12.5)
PNG_SHA = "a" * 64


def engineer(h: History, decide: Any, minute: float, *args: Any, **kwargs: Any) -> Any:
    return h.do(decide, minute, *args, actor="bob", role=Role.ENGINEER, **kwargs)


def test_set_off_records_the_engineer_and_where_the_phone_was() -> None:
    h = History().dispatched("bob")
    event = engineer(h, decide_set_off, 20, location=HERE)
    assert type(event) is EngineerSetOff
    assert (event.engineer, event.location, event.actor) == ("bob", HERE, "bob")
    assert h.ticket.set_off_at == event.occurred_at


def test_set_off_needs_a_dispatch_and_comes_once_per_dispatch() -> None:
    h = History()
    with rejected("has not been dispatched: no one sets off"):
        decide_set_off(h.ticket, stamp(5))
    h.dispatched("bob")
    engineer(h, decide_set_off, 20)
    with rejected("bob already set off for ticket T-2026-000123 at "):
        decide_set_off(h.ticket, stamp(21, actor="bob", role=Role.ENGINEER))
    h.do(decide_dispatch, 30, "carol")  # dispatched again: carol sets off anew
    assert h.ticket.set_off_at is None
    event = h.do(decide_set_off, 31, actor="carol", role=Role.ENGINEER)
    assert event.engineer == "carol"


def test_another_engineer_may_not_set_off_on_bobs_ticket() -> None:
    h = History().dispatched("bob")
    with rejected("is dispatched to bob: engineer carol may not set off for it"):
        decide_set_off(h.ticket, stamp(20, actor="carol", role=Role.ENGINEER))


def test_no_set_off_once_on_site_or_resolved() -> None:
    h = History().on_site("bob")
    with rejected("bob is already on site"):
        decide_set_off(h.ticket, stamp(70, actor="bob", role=Role.ENGINEER))
    h.do(decide_resolve, 80, "fixed", ResolutionMode.ON_SITE, actor="bob", role=Role.ENGINEER)
    with rejected("is resolved|already resolved"):
        decide_set_off(h.ticket, stamp(85, actor="bob", role=Role.ENGINEER))


def test_set_off_before_the_dispatch_time_is_rejected() -> None:
    h = History().dispatched("bob", minute=10)
    with rejected("before the dispatch"):
        decide_set_off(h.ticket, stamp(5, recorded=20, actor="bob", role=Role.ENGINEER))


def test_arrival_keeps_its_location_and_comes_after_setting_off() -> None:
    h = History().dispatched("bob")
    engineer(h, decide_set_off, 20)
    with rejected("before setting off"):
        decide_arrive(h.ticket, stamp(15, recorded=30, actor="bob", role=Role.ENGINEER))
    event = engineer(h, decide_arrive, 40, location=HERE)
    assert type(event) is Arrived
    assert event.location == HERE


def test_a_version_1_arrival_and_signature_load_without_the_new_fields() -> None:
    assert Arrived.upcast({"engineer": "bob"}, 1) == {"engineer": "bob", "location": None}
    state = CustomerSigned.upcast({"signer": "Wang", "kind": "customer"}, 1)
    assert state["evidence_sha256"] is None


def _signature_attached(h: History, kind: EvidenceKind = EvidenceKind.SIGNATURE) -> None:
    facts = EvidenceFacts(
        sha256=PNG_SHA, size=900, media_type="image/png", file_name="signature.png", kind=kind
    )
    engineer(h, decide_attach, 95, facts)


def test_a_signature_names_its_image_among_the_tickets_files() -> None:
    h = History().on_site("bob")
    engineer(h, decide_resolve, 90, "fixed", ResolutionMode.ON_SITE)
    with rejected("has no evidence file aaaaaaaaaaaa…: attach the signature image first"):
        decide_sign(
            h.ticket,
            stamp(96, actor="bob", role=Role.ENGINEER),
            "Wang Wei",
            evidence_sha256=PNG_SHA,
        )
    _signature_attached(h)
    event = engineer(h, decide_sign, 96, "Wang Wei", evidence_sha256=PNG_SHA)
    assert event.evidence_sha256 == PNG_SHA
    assert h.ticket.signature is not None
    assert h.ticket.signature.evidence_sha256 == PNG_SHA


def test_a_photo_is_no_signature_image() -> None:
    h = History().on_site("bob")
    engineer(h, decide_resolve, 90, "fixed", ResolutionMode.ON_SITE)
    _signature_attached(h, EvidenceKind.PHOTO)
    with rejected("signature.png is a photo, not a signature"):
        decide_sign(
            h.ticket,
            stamp(96, actor="bob", role=Role.ENGINEER),
            "Wang Wei",
            evidence_sha256=PNG_SHA,
        )


def _command(**fields: Any) -> Any:
    base = {"command": "set_off", "ticket": "T-2026-000123", "actor": "bob", "role": "engineer"}
    return parse_command(base | fields, SHANGHAI)


def test_the_command_takes_a_whole_position_or_none() -> None:
    command = _command(latitude="34.1557", longitude=113.4703, accuracy=12.5)
    assert command.location() == HERE
    assert _command().location() is None
    with pytest.raises(CommandError, match="longitude: is required with the other coordinate"):
        _command(latitude=34.1)
    with pytest.raises(CommandError, match="accuracy: needs latitude and longitude"):
        _command(accuracy=5)
    with pytest.raises(CommandError, match="latitude"):
        _command(latitude=91, longitude=0)
    with pytest.raises(CommandError, match="longitude"):
        _command(latitude=0, longitude=-181)


def test_set_off_is_the_engineers_and_the_desks() -> None:
    assert Role.ENGINEER in ALLOWED["set_off"]
    assert Role.DISPATCHER in ALLOWED["set_off"]
    assert Role.AUDITOR not in ALLOWED["set_off"]
    assert Role.CUSTOMER not in ALLOWED["set_off"]
