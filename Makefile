# pubwatch — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/include

.PHONY: run test test-pg test-airflow test-browser bench venv clean serve-demo db-upgrade ui

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' || { echo "需要 Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .    # the `pubwatch` command
	touch $(STAMP)

venv: $(STAMP)

## make run — the weekly job for the demo week, through real Airflow (airflow dags test), on SQLite
run: $(STAMP)
	$(BIN)/python -m pubwatch.demo.run

## make test — the whole suite (PostgreSQL tests run when 127.0.0.1:5432 answers)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## make ui — not part of the quick start: the Airflow UI + board on the demo state until Ctrl-C
ui: $(STAMP)
	$(BIN)/python -m pubwatch.demo.ui

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

serve-demo: $(STAMP)
	$(BIN)/python -m pubwatch demo-serve --port 8765

db-upgrade: $(STAMP)
	$(BIN)/python -m pubwatch db upgrade

clean:
	rm -rf var/ .pytest_cache
