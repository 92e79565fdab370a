# Developer and CI entry points. Everything runs from the repository's own .venv.
PY          := .venv/bin/python
STAMP       := .venv/.installed
PYTEST_ARGS ?=
# make test runs the suite on this many pytest-xdist workers, each with its own PostgreSQL
# cluster (tests/pg_server.py), a test file whole on one worker; auto: one per core, at most
# 8; 0: serially in one process.
TEST_WORKERS ?= auto
BENCH_ARGS  ?=

.PHONY: all venv test test-unit lint fmt demo bench clean

all: lint test

venv: $(STAMP)

# (Re)install whenever pyproject.toml changes; the stamp records the last install.
$(STAMP): pyproject.toml
	@test -x $(PY) || { echo "creating .venv"; python3 -m venv .venv; }
	$(PY) -m pip install --disable-pip-version-check -e ".[dev]"
	@touch $@

# The whole suite: tests/unit, tests/integration, tests/e2e (tests/conftest.py).
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --maxprocesses=8 --dist loadfile $(PYTEST_ARGS)

# The fast loop: the pure tests only (no database, no subprocess, no server).
test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check ledger tests bench
	$(PY) -m ruff format --check ledger tests bench
	$(PY) -m mypy ledger

fmt: $(STAMP)
	$(PY) -m ruff format ledger tests bench
	$(PY) -m ruff check --fix ledger tests bench

demo: $(STAMP)
	bash examples/demo.sh

# Benchmarks (bench/README.md): one JSON document on stdout (so the recipe is not echoed), e.g.
# make bench BENCH_ARGS="--size large --db sqlite --out bench.json"
bench: $(STAMP)
	@$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist demo *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
