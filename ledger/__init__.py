"""ledger: an event-sourced ledger for after-sales service commitments."""

__version__ = "0.1.0"
