"""The HTTP API (``ledger serve``): its routes in :mod:`ledger.api.routes`, mounted beside
the dashboard by :mod:`ledger.web`; the users and tokens it checks are
:mod:`ledger.commands.users`."""
