# Two commands on a fresh machine with Python >= 3.11: `make demo` and `make test`.
# Each creates .venv and installs the project into it on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
STUDY  ?= configs/studies/meal_kit_free.yaml

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "simFocus needs Python 3.11 or newer: set PYTHON=python3.11 (or newer) and run make again")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/simfocus run $(STUDY)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check simfocus actors serve tests scripts
	$(BIN)/mypy simfocus actors

bench: $(STAMP)
	$(BIN)/python scripts/bench_engine.py

clean:
	rm -rf $(VENV) runs .pytest_cache
