"""The workbench's search read model: one row per ticket with the text a person searches
by — number, customer, contact names and phones, site, device, the description and every
note written on it (work notes, customer replies, resolutions) — in one ``document``.

Chinese has no spaces to split words on, so the index is of **trigrams** (every run of
three characters), which finds any substring of three characters or more, in Chinese as in
Latin script:

* SQLite: an FTS5 table with the ``trigram`` tokenizer (SQLite ≥ 3.34), kept in step with
  ``ticket_search`` by triggers (an external-content table: the text is stored once). A
  term is looked up as a phrase of its trigrams (``MATCH '"term"'``: its trigrams one after
  the other, i.e. the term as a substring), answered from the index alone; ``LIKE
  '%term%'`` would also use the index but re-reads every candidate's text to check it,
  ten times slower for a term in thousands of tickets.
* PostgreSQL: the ``pg_trgm`` extension and a GIN ``gin_trgm_ops`` index on ``document``,
  which ``ILIKE '%term%'`` uses.

Both answer the same question (every term a case-insensitive substring of the document), so
the two databases find the same tickets; a term of one or two characters is still found (a
scan, not the index).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Table,
    Text,
    event,
    select,
    text,
)

from ledger.domain.model import DomainEvent
from ledger.domain.ticket import TICKET_EVENT_TYPES, Ticket
from ledger.projections.base import Projection
from ledger.projections.rows import chunks, insert_rows, update_rows
from ledger.projections.tickets import fold_tickets, ticket_columns, ticket_values
from ledger.storage.tables import metadata

NOTE_FIELDS = ("note", "text", "summary", "reason", "resolution", "diagnosis", "solution")
"""An event's free-text fields that go into the document (whichever it has)."""
MAX_TERMS = 8
TRIGRAM = 3

ticket_search = Table(
    "ticket_search",
    metadata,
    *ticket_columns(),
    Column("phones", Text, nullable=False),
    Column("notes", Text, nullable=False),
    Column("document", Text, nullable=False),
    Column("last_position", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
)

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS ticket_search_fts USING fts5("
    "document, content='ticket_search', content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS ticket_search_ai AFTER INSERT ON ticket_search BEGIN "
    "INSERT INTO ticket_search_fts(rowid, document) VALUES (new.rowid, new.document); END",
    "CREATE TRIGGER IF NOT EXISTS ticket_search_ad AFTER DELETE ON ticket_search BEGIN "
    "INSERT INTO ticket_search_fts(ticket_search_fts, rowid, document) "
    "VALUES ('delete', old.rowid, old.document); END",
    "CREATE TRIGGER IF NOT EXISTS ticket_search_au AFTER UPDATE ON ticket_search BEGIN "
    "INSERT INTO ticket_search_fts(ticket_search_fts, rowid, document) "
    "VALUES ('delete', old.rowid, old.document); "
    "INSERT INTO ticket_search_fts(rowid, document) VALUES (new.rowid, new.document); END",
]
_POSTGRES_TRGM = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ticket_search_document_trgm "
    "ON ticket_search USING gin (document gin_trgm_ops)",
]


@event.listens_for(ticket_search, "after_create")
def _create_trigram_index(_: Table, conn: Connection, **__: Any) -> None:
    """The database's trigram index, made with the table (``metadata.create_all``)."""
    statements = _SQLITE_FTS if conn.dialect.name == "sqlite" else _POSTGRES_TRGM
    for statement in statements:
        conn.execute(text(statement))


def document_of(ticket: Ticket, notes: str, phones: str) -> str:
    """Everything a ticket is searched by, one line each, lower-cased (the match ignores
    case in both databases, but a lower-cased text makes it so for any script)."""
    parts = [
        ticket.number,
        ticket.customer,
        ticket.contact.name,
        phones,
        ticket.site,
        ticket.device,
        ticket.description,
        ticket.external_ref or "",
        notes,
    ]
    return "\n".join(p for p in parts if p).lower()


@cache
def _declared(kind: type[DomainEvent], names: tuple[str, ...]) -> tuple[str, ...]:
    """Which of ``names`` the event class has as fields, worked out once per class: asking
    a pydantic model for a field it lacks goes through its ``__getattr__`` and an exception,
    which cost more than the rest of the search projection's work per event (issue 18)."""
    return tuple(name for name in names if name in kind.__pydantic_fields__)


def _event_texts(event: DomainEvent) -> list[str]:
    return [
        v
        for name in _declared(type(event), NOTE_FIELDS)
        if isinstance(v := getattr(event, name), str) and v
    ]


def _contact_of(event: DomainEvent) -> list[str]:
    if not _declared(type(event), ("contact",)):
        return []
    contact = getattr(event, "contact", None)
    if contact is None:
        return []
    return [f"{contact.name} {contact.phone}"]


class TicketSearchProjection(Projection):
    name = "search"
    event_types = TICKET_EVENT_TYPES
    tables = (ticket_search,)

    def apply(self, conn: Connection, events: Sequence[tuple[int, DomainEvent]]) -> None:
        t = ticket_search
        texts: dict[UUID, tuple[str, str]] = {}
        states: dict[UUID, str] = {}
        for chunk in chunks({e.originator_id for _, e in events if e.originator_version > 1}):
            found = conn.execute(
                select(t.c.ticket_id, t.c.state, t.c.notes, t.c.phones).where(
                    t.c.ticket_id.in_(chunk)
                )
            )
            for r in found:
                texts[r.ticket_id] = (r.notes, r.phones)
                states[r.ticket_id] = r.state

        def stored(ids: Collection[UUID]) -> dict[UUID, Ticket]:
            return {tid: Ticket.model_validate_json(states[tid]) for tid in ids if tid in states}

        folded = fold_tickets(events, stored)
        for _, event_ in events:
            notes, phones = texts.get(event_.originator_id, ("", ""))
            notes = "\n".join(x for x in (notes, *_event_texts(event_)) if x)
            phones = "\n".join(x for x in (phones, *_contact_of(event_)) if x)
            texts[event_.originator_id] = (notes, phones)
        rows = {tid: _row((f.ticket, *texts[tid]), f.position) for tid, f in folded.items()}
        update_rows(conn, t, "ticket_id", {k: v for k, v in rows.items() if folded[k].existed})
        insert_rows(conn, t, [v for k, v in rows.items() if not folded[k].existed])


def _row(folded: tuple[Ticket, str, str], position: int) -> dict[str, Any]:
    ticket, notes, phones = folded
    return {
        **ticket_values(ticket),
        "phones": phones,
        "notes": notes,
        "document": document_of(ticket, notes, phones),
        "last_position": position,
        "state": ticket.model_dump_json(),
    }


def search_terms(query: str) -> list[str]:
    """The query's terms: split on white space, lower-cased, LIKE's wildcards (``%``,
    ``_``) and the escape character taken out (a search matches text, not patterns)."""
    cleaned = query.lower().replace("%", " ").replace("_", " ").replace("\\", " ")
    return cleaned.split()[:MAX_TERMS]


def _phrase(term: str) -> str:
    """``term`` as an FTS5 phrase (in double quotes, a double quote doubled)."""
    return '"' + term.replace('"', '""') + '"'


def _matching(
    dialect: str, query: str, engineer: str | None
) -> tuple[str, str, dict[str, Any]] | None:
    """The FROM and WHERE of the tickets whose document holds every term of ``query``
    (``s``: ``ticket_search``) on ``dialect``'s database, and their parameters; ``None``
    for a query without terms. ``engineer`` keeps that engineer's tickets (the SLA read
    model's ``sla_tickets`` knows who works which)."""
    terms = search_terms(query)
    if not terms:
        return None
    params: dict[str, Any] = {}
    if dialect == "sqlite":
        # FTS5's trigram index finds a term of three characters or more as a phrase of
        # its trigrams (consecutive: the term is a substring), all of them at once; a
        # shorter term has no trigram to look up and is matched on the stored text.
        indexed = [term for term in terms if len(term) >= TRIGRAM]
        short = [term for term in terms if len(term) < TRIGRAM]
        where = [f"s.document LIKE :t{i}" for i in range(len(short))]
        params |= {f"t{i}": f"%{term}%" for i, term in enumerate(short)}
        source = "ticket_search s"
        if indexed:
            source = "ticket_search_fts f JOIN ticket_search s ON s.rowid = f.rowid"
            where.insert(0, "ticket_search_fts MATCH :phrases")
            params["phrases"] = " ".join(_phrase(term) for term in indexed)
    else:
        where = [f"s.document ILIKE :t{i}" for i in range(len(terms))]
        params |= {f"t{i}": f"%{term}%" for i, term in enumerate(terms)}
        source = "ticket_search s"
    if engineer is not None:
        source += " JOIN sla_tickets e ON e.number = s.number"
        where.append("e.engineer = :engineer")
        params["engineer"] = engineer
    return source, " AND ".join(where), params


def search_tickets(
    conn: Connection, query: str, limit: int = 50, *, engineer: str | None = None
) -> list[str]:
    """The numbers of the tickets whose document holds every term of ``query``, newest
    number first (at most ``limit``); ``engineer``'s only, if given."""
    matching = _matching(conn.dialect.name, query, engineer)
    if matching is None:
        return []
    source, where, params = matching
    sql = f"SELECT s.number FROM {source} WHERE {where} ORDER BY s.number DESC LIMIT :limit"
    return [row[0] for row in conn.execute(text(sql), {**params, "limit": limit})]


def count_tickets(conn: Connection, query: str, *, engineer: str | None = None) -> int:
    """How many tickets :func:`search_tickets` finds without its limit."""
    matching = _matching(conn.dialect.name, query, engineer)
    if matching is None:
        return 0
    source, where, params = matching
    return int(
        conn.execute(text(f"SELECT COUNT(*) FROM {source} WHERE {where}"), params).scalar_one()
    )
