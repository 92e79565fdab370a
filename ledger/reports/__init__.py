"""Reports computed from the read models (``ledger report ...``)."""
