# Two commands from a fresh clone: `make run` (set up + run the pipeline on the bundled data) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Dagster instance (run history, materialisations) lives beside the data it describes: with MMM_DATA_DIR set,
# in $(MMM_DATA_DIR)/.dagster_home, so a dataset in its own data folder never mixes with the sample's runs in
# `make ui`; otherwise in .dagster_home. An explicit DAGSTER_HOME wins.
ifdef MMM_DATA_DIR
DAGSTER_HOME ?= $(abspath $(MMM_DATA_DIR))/.dagster_home
else
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
endif
export DAGSTER_HOME
# `make run SPEC=path/to/spec.yaml WEEK=2024-06-03 CONFIG='{"ops": {"mmm_model": {"config": {"epochs": 300}}}}'`:
# the dataset spec (MMM_SPEC_PATH), the refresh week (default: the data's newest) and the run config (JSON).
ifdef SPEC
export MMM_SPEC_PATH := $(abspath $(SPEC))
endif
HOST ?= 127.0.0.1
PORT ?= 3000

CLIENT_VENV := .venv-duckdb-client
CLIENT_STAMP := $(CLIENT_VENV)/.installed

.PHONY: setup run test test-slow ui clean browser duckdb-client bench-deps

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP) $(DAGSTER_HOME)/dagster.yaml

$(DAGSTER_HOME)/dagster.yaml: config/dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp config/dagster.yaml $@

run: setup
	$(BIN)/python -m mmm_pipeline.run $(if $(WEEK),--refresh-week '$(WEEK)') $(if $(CONFIG),--run-config '$(CONFIG)')

test: setup browser duckdb-client
	$(BIN)/python -m pytest

# An older DuckDB client in its own venv: tests/pipeline/test_serving_clients.py opens the serving file with it.
duckdb-client: $(CLIENT_STAMP)

$(CLIENT_STAMP): tests/clients/requirements.txt
	@test -x $(CLIENT_VENV)/bin/python || $(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
	@touch $(CLIENT_STAMP)

# Headless Chromium for the dashboard's browser test (Debian's package). Never fatal: without it that test skips.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium (needs root and a network); the browser test will skip"

# The optional `bench` extra (third-party data generators for benchmarks/external_benchmark.py), pinned like the rest.
bench-deps: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,bench]'

test-slow: setup
	$(BIN)/python -m pytest -m slow

# Dagster UI on $(HOST):$(PORT) plus the daemon (schedules); Ctrl-C stops both.
ui: setup
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/dagster-daemon run -w workspace.yaml & \
	$(BIN)/dagster-webserver -h $(HOST) -p $(PORT) -w workspace.yaml

# The sample's files only: an instance elsewhere (DAGSTER_HOME, MMM_DATA_DIR) is never deleted from here.
clean:
	rm -rf $(VENV) $(CLIENT_VENV) .dagster_home data/warehouse.duckdb* data/models data/serving data/reports
