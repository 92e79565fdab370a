"""The search read model on SQLite (FTS5, trigram) and PostgreSQL (pg_trgm): the same
tickets found by number, customer, contact phone, device, site and Chinese free text; kept
in step as tickets change; rebuilt to the same answers."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ledger.projections.search import search_terms, search_tickets
from tests.support import Desk, open_desk


def _found(desk: Desk, query: str) -> list[str]:
    desk.ledger.projections.catch_up(["search"])
    with desk.ledger.engine.connect() as conn:
        return search_tickets(conn, query)


@pytest.fixture
def desk(db_url: str) -> Desk:
    return open_desk(db_url)


def test_every_field_a_person_searches_by_finds_the_ticket(desk: Desk) -> None:
    gate = desk.report(device="门禁控制器", description="门禁控制器无法开机").number
    desk.later(5)
    camera = desk.report(
        device="枪式摄像机",
        site="城关派出所",
        contact_name="李四",
        contact_phone="13900000002",
        description="画面模糊 after rain",
    ).number
    assert gate != camera
    assert _found(desk, gate) == [gate]
    assert _found(desk, "禹州市公安局") == [camera, gate]
    assert _found(desk, "13900000002") == [camera]
    assert _found(desk, "0000000") == [camera]  # a part of a phone number
    assert _found(desk, "门禁控制") == [gate]
    assert _found(desk, "门禁") == [gate]  # two characters: below a trigram, still found
    assert _found(desk, "派出所") == [camera]
    assert _found(desk, "AFTER RAIN") == [camera]  # case does not count
    assert _found(desk, "摄像机 模糊") == [camera]  # every term
    assert _found(desk, "摄像机 门禁") == []
    assert _found(desk, "100%") == []  # a wildcard is text, not a pattern
    assert _found(desk, "   ") == []


def test_notes_and_new_contacts_are_found_and_a_rebuild_agrees(desk: Desk) -> None:
    number = desk.report().number
    desk.later(2)
    desk.do("respond", ticket=number, note="已电话联系客户，约定下午上门")
    desk.do(
        "change_contact",
        ticket=number,
        contact_name="王五",
        contact_phone="13700000003",
        changed_at="2026-10-08T09:01",
    )
    assert _found(desk, "约定下午") == [number]
    assert _found(desk, "13700000003") == [number]
    assert _found(desk, "王五") == [number]
    desk.ledger.projections.rebuild(["search"])
    assert _found(desk, "约定下午") == [number]
    assert _found(desk, "13800138001") == [number]  # the first contact still finds it


def test_the_index_is_the_databases_trigram_index(desk: Desk) -> None:
    with desk.ledger.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            sql = conn.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = 'ticket_search_fts'")
            )
            assert "fts5" in sql and "trigram" in sql
        else:
            assert conn.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
            index = conn.scalar(
                text(
                    "SELECT indexdef FROM pg_indexes "
                    "WHERE indexname = 'ticket_search_document_trgm'"
                )
            )
            assert "gin_trgm_ops" in index


def test_terms_are_text_not_patterns() -> None:
    assert search_terms(" 门禁  A_b%c\\ ") == ["门禁", "a", "b", "c"]
