# Thin, named targets. `make run` and `make test` are all a newcomer needs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BIN ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# uv installs the exact versions and hashes of uv.lock; it is bootstrapped with
# the machine's python3 (pip --target, or a small venv where pip is missing).
TOOLS := .tools
UV_VERSION := 0.13.9
UV := $(TOOLS)/bin/uv
# Bytecode is compiled at install, as the image does: where PYTHONDONTWRITEBYTECODE is
# set (as on this machine and in most containers) every process would otherwise compile
# each module it imports, ~1.1 s per start of the worker. Our own sources are compiled too.
UV_ENV := UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(VENV) UV_COMPILE_BYTECODE=1
COMPILE := $(PY) -m compileall -q -j 0 processor
KAFKA := PYTHON=$(abspath $(PY)) deploy/kafka/kafka.sh
PYTEST_ARGS ?=

.PHONY: help venv lock tools run test test-unit test-integration check lint format typecheck \
        kafka-up kafka-down kafka-logs topics bench-ingress bench-worker bench-explorer clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(UV):
	if $(PYTHON_BIN) -m pip --version >/dev/null 2>&1; then \
	  PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
	    $(PYTHON_BIN) -m pip install -q --target $(TOOLS) uv==$(UV_VERSION); \
	else \
	  $(PYTHON_BIN) -m venv $(TOOLS) && $(TOOLS)/bin/python -m pip install -q uv==$(UV_VERSION); \
	fi

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV_ENV) $(UV) sync --locked --extra dev --python $(PYTHON_BIN) --quiet
	$(COMPILE)
	touch $@

venv: $(STAMP) ## Create the virtualenv with the locked dependencies (uv.lock)

lock: | $(UV) ## Re-resolve uv.lock after changing dependencies in pyproject.toml
	$(UV_ENV) $(UV) lock --python $(PYTHON_BIN)

run: $(STAMP) ## Run the pipeline locally with simulated traffic (starts Kafka)
	@bash deploy/tools/install-tools.sh >/dev/null 2>&1 || echo "Alertmanager not installed (needs apt-get); alerts still show in the console"
	$(PY) -m processor run --start-kafka

tools: ## Install promtool and Alertmanager (Debian packages) if missing
	bash deploy/tools/install-tools.sh

test: $(STAMP) tools ## The whole suite: unit + integration against a real Kafka broker
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Unit tests only (no network)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP) ## Integration tests only (real broker)
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check processor tests
	$(VENV)/bin/ruff format --check processor tests

format: $(STAMP) ## Apply ruff formatting and safe fixes
	$(VENV)/bin/ruff check --fix processor tests
	$(VENV)/bin/ruff format processor tests

typecheck: $(STAMP) ## mypy --strict on the package
	$(VENV)/bin/mypy --strict processor

check: lint typecheck test ## Lint, types and the whole suite

kafka-up: $(STAMP) ## Start the local single-node Kafka (idempotent)
	$(KAFKA) up

kafka-down: ## Stop the local Kafka
	$(KAFKA) down

kafka-logs: ## Follow the local Kafka's log
	$(KAFKA) logs

topics: kafka-up ## Create the project's topics (idempotent)
	$(PY) -m processor topics create

# The Go reference of bench-ingress, built from tests/bench/goref (go.sum pins franz-go).
GOREF_BIN := .bench/goref
GOREF_SRC := $(wildcard tests/bench/goref/*.go tests/bench/goref/go.*)
BENCH_INGRESS_ARGS ?=

$(GOREF_BIN): $(GOREF_SRC)
	cd tests/bench/goref && go build -trimpath -o $(abspath $(GOREF_BIN)) .

bench-ingress: $(STAMP) kafka-up $(GOREF_BIN) ## Ingress webhooks/s, latency, CPU/request vs a Go server, a naive receiver, Kafka's limit
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
	$(COMPILE)
	$(PY) -m tests.bench.ingress --goref $(GOREF_BIN) $(BENCH_INGRESS_ARGS)

# Peers measured beside the project live in their own environment, never in the runtime install.
BENCH_VENV := .venv-bench
QUIX_VERSION := 3.28.1

$(BENCH_VENV)/.installed: | $(UV)
	$(UV) venv --quiet --python $(PYTHON_BIN) $(BENCH_VENV)
	VIRTUAL_ENV=$(BENCH_VENV) UV_COMPILE_BYTECODE=1 $(UV) pip install --quiet quixstreams==$(QUIX_VERSION) orjson
	touch $@

bench-worker: $(STAMP) kafka-up $(BENCH_VENV)/.installed ## Worker events/s with exactly-once vs Quix Streams, aiokafka and Kafka's limits; 1M-call restore
	$(COMPILE)
	$(PY) -m tests.bench.worker

bench-explorer: $(STAMP) kafka-up ## Explorer apply rate into SQLite; GET /calls/{id} p99 with 1M calls
	$(PY) -m tests.bench.explorer

clean: kafka-down ## Remove the virtualenv, the local Kafka and caches
	rm -rf $(VENV) $(BENCH_VENV) $(TOOLS) .kafka .pytest_cache .mypy_cache .ruff_cache
