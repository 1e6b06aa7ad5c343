# Two commands from a fresh clone: `make run` (set up + run the pipeline on the bundled data) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home
HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: setup run test test-slow ui clean browser

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

$(DAGSTER_HOME)/dagster.yaml: config/dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp config/dagster.yaml $@

run: setup
	$(BIN)/python -m mmm_pipeline.run

test: setup browser
	$(BIN)/python -m pytest

# Headless Chromium for the dashboard's browser test (Debian's package). Never fatal: without it that test skips.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium (needs root and a network); the browser test will skip"

test-slow: setup
	$(BIN)/python -m pytest -m slow

# Dagster UI on $(HOST):$(PORT) plus the daemon (schedules); Ctrl-C stops both.
ui: setup
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/dagster-daemon run -w workspace.yaml & \
	$(BIN)/dagster-webserver -h $(HOST) -p $(PORT) -w workspace.yaml

clean:
	rm -rf $(VENV) $(DAGSTER_HOME) data/warehouse.duckdb* data/models data/serving data/reports
