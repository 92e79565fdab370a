"""The HTTP side of the ledger (``ledger serve``): a FastAPI app in :mod:`ledger.api.app`,
API users and bearer tokens in :mod:`ledger.api.auth` (framework-free, so the CLI can
manage users without importing the web stack)."""
