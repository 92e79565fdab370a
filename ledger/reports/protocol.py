"""What a report module offers, written down: the CLI (``ledger report ...``) prints,
exports and serialises any report through it. Each of ``sla``, ``satisfaction``,
``assessment``, ``actions``, ``complaints`` and ``audit`` is one (a module is checked
against a protocol like any object): it computes its report dataclass elsewhere
(``*_report(read_models, query)``) and shapes it here."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from ledger.reports.common import Words
from ledger.reports.export import Lang, Sheet

R_contra = TypeVar("R_contra", contravariant=True)


class ReportModule(Protocol[R_contra]):
    """A report module over report objects of type ``R_contra``."""

    @property
    def WORDS(self) -> Words:
        """The report's word table (zh / en) over the common words."""
        ...

    def title(self, report: R_contra, lang: Lang) -> str:
        """The summary table's title (period, contract, as-of)."""
        ...

    def sheets(self, report: R_contra, lang: Lang) -> list[Sheet]:
        """The tables: the summary first (its last row the total), then each list; the
        terminal, ``--csv`` and ``--xlsx`` show exactly these."""
        ...

    def report_json(self, report: R_contra) -> dict[str, Any]:
        """The report as ``--json`` prints it (and the HTTP API serves the SLA one)."""
        ...
