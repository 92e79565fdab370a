"""Benchmarks (issue 6): a seeded synthetic history and the harness that measures the
ledger's real paths against the raw database. See bench/README.md and docs/performance.md."""
