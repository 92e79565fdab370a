# Developer and CI entry points. Everything runs from the repository's own .venv.
PY          := .venv/bin/python
STAMP       := .venv/.installed
PYTEST_ARGS ?=

.PHONY: all venv test lint fmt demo clean

all: lint test

venv: $(STAMP)

# (Re)install whenever pyproject.toml changes; the stamp records the last install.
$(STAMP): pyproject.toml
	@test -x $(PY) || { echo "creating .venv"; python3 -m venv .venv; }
	$(PY) -m pip install --disable-pip-version-check -e ".[dev]"
	@touch $@

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check ledger tests
	$(PY) -m ruff format --check ledger tests
	$(PY) -m mypy ledger

fmt: $(STAMP)
	$(PY) -m ruff format ledger tests
	$(PY) -m ruff check --fix ledger tests

demo: $(STAMP)
	bash examples/demo.sh

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist demo *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
