"""The composition root: opens a store and wires the application, the services, the
projections, the ticket queries and the clock together; it answers nothing itself. The CLI
and the tests start here; reports take only what they read (``ledger.reports.common``'s
protocols), which a :class:`Ledger` is."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from sqlalchemy import Engine, create_engine, func, inspect, select, table

from ledger.clock import Clock, FixedClock, SystemClock
from ledger.commands.application import LedgerApplication
from ledger.commands.contracts import ContractService
from ledger.commands.privacy import PrivacyService
from ledger.commands.quality import QualityService
from ledger.commands.sweep import SweepService
from ledger.commands.tickets import TicketService
from ledger.notify.log import deliveries  # noqa: F401 (init creates the delivery log)
from ledger.projections import ProjectionRunner, all_projections
from ledger.queries import TicketQueries
from ledger.storage.api_users import api_users  # noqa: F401 (init creates its table)
from ledger.storage.append_only import install_append_only
from ledger.storage.clock_mode import declare_fixed_clock, fixed_clock_since
from ledger.storage.location import Location, LocationError, parse_location, resolve_url
from ledger.storage.privacy import FieldCipher, KeyStore
from ledger.storage.recorders import chain_unchained
from ledger.storage.tables import LedgerNotInitialised
from ledger.timeutil import zone


class Ledger:
    """An open store. Close it (or use ``with``) to release connections."""

    def __init__(
        self,
        location: Location,
        *,
        clock: Clock | None = None,
        tz: tzinfo | None = None,
        create: bool = False,
        parents: bool = False,
        fixed_clock: bool | None = None,
    ) -> None:
        """``create`` (``ledger init``): create the tables, safe to repeat. ``fixed_clock``
        with ``create``: declare the new ledger one whose recorded times come from a fixed
        clock (a demo or test ledger; default: when ``clock`` is a :class:`FixedClock`)."""
        self.location = location
        self.clock = clock or SystemClock()
        self.tz = tz or zone(None)
        if location.kind == "sqlite" and not create and not location.path.exists():  # type: ignore[union-attr]
            raise LedgerNotInitialised(
                f"no ledger at {location.describe()}: run `ledger init` first"
            )
        if location.kind == "sqlite" and create:
            _sqlite_directory(location, parents=parents)
        self.engine = _engine(location)
        if not create and not inspect(self.engine).has_table(location.events_table):
            self.engine.dispose()
            raise LedgerNotInitialised(
                f"no ledger at {location.describe()}: run `ledger init` first"
            )
        self.app = LedgerApplication(env=location.library_env(create_tables=create))
        self.contracts = ContractService(self.app, self.clock)
        self.tickets = TicketService(self.app, self.clock, self.tz, self.contracts.policy_at)
        self.quality = QualityService(self.app, self.clock, self.tz, self.contracts, self.tickets)
        self.projections = ProjectionRunner(
            self.app.recorder,
            self.app.mapper,
            self.engine,
            all_projections(),
            events_table=location.events_table,
        )
        self.sweep = SweepService(
            self.tickets, self.contracts, self.projections, self.engine, self.clock
        )
        self.queries = TicketQueries(self.tickets, self.contracts, self.clock)
        if create:
            chain_unchained(self.engine, location.events_table)
            install_append_only(self.engine, location.events_table)
            self.projections.create_tables()
            if isinstance(self.clock, FixedClock) if fixed_clock is None else fixed_clock:
                declare_fixed_clock(self.engine, location.events_table, self.clock.now())
        self.fixed_clock_since = fixed_clock_since(self.engine)
        """When the ledger was declared to record a fixed clock's time; ``None``: real time."""
        self.keys = KeyStore(
            self.engine,
            self.clock,
            events_table=location.events_table,
            deterministic=self.fixed_clock_since is not None,
        )
        """The data subjects' keys (docs/privacy.md): the mapper encrypts personal fields."""
        self.app.mapper.privacy = FieldCipher(self.keys)  # type: ignore[attr-defined]
        self.privacy = PrivacyService(
            self.app, self.keys, self.clock, self.projections, self.engine
        )

    @classmethod
    def open(cls, url: str | None = None, **kwargs: Any) -> Ledger:
        return cls(parse_location(resolve_url(url)), **kwargs)

    def event_count(self) -> int:
        """How many events the store holds (every aggregate), straight from the table."""
        with self.engine.connect() as conn:
            return int(
                conn.scalar(select(func.count()).select_from(table(self.location.events_table)))
                or 0
            )

    def close(self) -> None:
        self.app.close()
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sqlite_directory(location: Location, *, parents: bool) -> None:
    """The SQLite file's directory exists: created (with its parents) when ``parents``,
    else refused (a typo in ``--db`` must not leave a new directory tree behind)."""
    directory = location.path.parent  # type: ignore[union-attr]
    if parents:
        directory.mkdir(parents=True, exist_ok=True)
    elif not directory.is_dir():
        raise LocationError(
            f"no directory {directory} for {location.describe()}: create it first, "
            "or run `ledger init --parents`"
        )


def _engine(location: Location) -> Engine:
    if location.kind == "sqlite":
        return create_engine(location.sqlalchemy_url(), connect_args={"timeout": 10})
    # Sessions in UTC: psycopg hands back times in the session's zone, and in the server's
    # default (Etc/UTC, Asia/Shanghai: a ZoneInfo) each one read costs a zone conversion
    # (12 % of a PostgreSQL `report sla`); in UTC they come as datetime.UTC. No query of
    # ours depends on the session's zone.
    return create_engine(
        location.sqlalchemy_url(),
        pool_pre_ping=True,
        pool_size=2,
        connect_args={"connect_timeout": 5, "options": "-c TimeZone=UTC"},
    )
