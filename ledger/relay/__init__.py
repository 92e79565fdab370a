"""Relays of the event feed into brokers (``ledger relay nats``: NATS JetStream).

``messages.py`` is pure (subjects, headers, where to resume) and imports no client;
``jetstream.py`` imports ``nats-py`` and is imported only by the ``ledger relay nats`` command,
so ``ledger --help`` never loads it. The design and its guarantees: docs/feed.md, "At scale".
"""
