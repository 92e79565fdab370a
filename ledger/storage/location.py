"""Where the ledger lives: a database URL mapped onto the library and onto SQLAlchemy.

``sqlite:///path/ledger.db`` (the default, ``./ledger.db``) uses the library's core
``eventsourcing.sqlite`` recorder in WAL mode; ``postgresql://user:pw@host:port/db``
uses ``eventsourcing.postgres``. The read models live in the same database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_URL = "sqlite:///ledger.db"


class LocationError(ValueError):
    pass


@dataclass(frozen=True)
class Location:
    url: str
    kind: str  # "sqlite" | "postgresql"
    path: Path | None = None
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""
    dbname: str = ""

    @property
    def events_table(self) -> str:
        return "stored_events" if self.kind == "sqlite" else "ledger_events"

    def library_env(self, *, create_tables: bool) -> dict[str, str]:
        create = "y" if create_tables else "n"
        if self.kind == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "APPLICATION_RECORDER_TOPIC": "ledger.storage.recorders:LedgerSQLiteRecorder",
                "SQLITE_DBNAME": str(self.path),
                "SQLITE_LOCK_TIMEOUT": "10",
                "CREATE_TABLE": create,
            }
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": (
                "ledger.storage.postgres_recorders:LedgerPostgresRecorder"
            ),
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": self.port,
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "2",
            "CREATE_TABLE": create,
        }

    def sqlalchemy_url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        return "postgresql+psycopg://" + self.url.partition("://")[2]

    def describe(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"


def resolve_url(url: str | None) -> str:
    return url or os.environ.get("LEDGER_DB") or DEFAULT_URL


def parse_location(url: str) -> Location:
    text = url.strip()
    if "://" not in text:
        # A bare path is a SQLite file.
        return _sqlite(text, url)
    scheme = text.split("://", 1)[0].lower()
    if scheme == "sqlite":
        path = text[len("sqlite:///") :] if text.startswith("sqlite:///") else ""
        if not path or path == ":memory:":
            raise LocationError(
                f"{url!r}: give a SQLite file, e.g. sqlite:///ledger.db or "
                "sqlite:////var/lib/ledger/ledger.db (in-memory databases are not shared)"
            )
        return _sqlite(path, url)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        parts = urlsplit(text)
        query = parse_qs(parts.query)
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname:
            raise LocationError(f"{url!r}: the PostgreSQL URL names no database")
        return Location(
            url=f"postgresql://{text.split('://', 1)[1]}",
            kind="postgresql",
            host=query.get("host", [parts.hostname or "127.0.0.1"])[0],
            port=str(parts.port or 5432),
            user=unquote(parts.username or os.environ.get("PGUSER", "postgres")),
            password=unquote(parts.password or os.environ.get("PGPASSWORD", "")),
            dbname=dbname,
        )
    raise LocationError(
        f"{url!r}: unsupported database (use sqlite:///FILE or postgresql://USER@HOST/DB)"
    )


def _sqlite(path: str, url: str) -> Location:
    resolved = Path(path).expanduser()
    return Location(url=url, kind="sqlite", path=resolved)
