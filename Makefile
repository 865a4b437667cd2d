# Tamaru: every workflow starts here. `make run` and `make test` are the two a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PROTOS := $(shell find protos -name '*.proto' | sort)

.PHONY: help install gen lint test test-fast run demo bench bench-scale chaos lock clean migrate

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(VENV)/.installed gen/.stamp ## create .venv, install pinned dependencies, generate protobuf code

$(VENV)/.installed: requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tamaru needs Python 3.11 or newer (set PYTHON=python3.x)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --python $(PY) requirements.lock
	@# The repository root, the generated code and the operator package are importable from the
	@# venv, wherever it runs.
	@printf '%s\n%s\n%s\n' "$(CURDIR)" "$(CURDIR)/gen" "$(CURDIR)/operator" > "$$($(PY) -c 'import site; print(site.getsitepackages()[0])')/tamaru.pth"
	@touch $@

gen/.stamp: $(VENV)/.installed $(PROTOS)
	@rm -rf gen && mkdir -p gen
	PATH=$(BIN):$$PATH $(PY) -m grpc_tools.protoc -I protos \
		--python_out=gen --grpc_python_out=gen --mypy_out=gen --mypy_grpc_out=gen $(PROTOS)
	@touch $@

gen: gen/.stamp ## regenerate Python code from protos/

lock: ## re-pin requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

lint: install ## buf lint, ruff, mypy, import-linter
	cd protos && ../$(BIN)/buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: lint ## lint + the whole test suite (real PostgreSQL and NATS; started here if none are reachable)
	$(BIN)/pytest

test-fast: install ## the test suite without lint
	$(BIN)/pytest -x -q

migrate: install ## apply every service's database migrations
	$(PY) -m tamaructl migrate

run: install ## bring the whole system up locally, run the demo, serve until Ctrl-C
	$(PY) -m tamaructl dev up

demo: install ## like `make run`, but exit after the demo (non-zero if it fails)
	$(PY) -m tamaructl dev up --demo-only

bench: install ## benchmarks (see docs/performance.md)
	$(PY) -m bench

bench-scale: install ## the accounts ledger at 10,000,000 accounts (30+ min, about 10 GB of disk)
	$(PY) -m bench --sizes scale --only accounts

chaos: install ## the bank test under faults, then a verdict; long: CHAOS_ARGS="--seconds 600 --programs 5 --clients 32"
	$(PY) -m chaos $(CHAOS_ARGS)

clean: ## remove generated code and local data (keeps .venv)
	rm -rf gen .tamaru .mypy_cache .pytest_cache .ruff_cache
