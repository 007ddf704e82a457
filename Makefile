# spotify-audiences: run `make help` for the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
N ?= 1000000

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned dependencies into $(VENV) (about a minute; log in $(VENV)/install.log)"
	@$(BIN)/pip install -c constraints.txt -e '.[dev]' > $(VENV)/install.log 2>&1 \
		|| { tail -n 40 $(VENV)/install.log; exit 1; }
	touch $@

.PHONY: install
install: $(STAMP) ## Create .venv and install the pinned dependencies

.PHONY: demo
demo: $(STAMP) ## Build the demo audiences on DuckDB and sync them to the local Spotify sandbox
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

# sqlfluff's dbt templater compiles the models on the local DuckDB target, offline, into a
# database file of its own; see .sqlfluff and docs/development.md.
SQL_PATHS := models tests/dbt
SQLFLUFF := SPOTIFY_AUDIENCES_DUCKDB=target/sqlfluff.duckdb $(BIN)/sqlfluff

.PHONY: lint
lint: $(STAMP) ## ruff lint and format check, sqlfluff on the SQL
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(SQLFLUFF) lint $(SQL_PATHS)

.PHONY: sqlfix
sqlfix: $(STAMP) ## Apply sqlfluff's fixes to the SQL (review the diff)
	$(SQLFLUFF) fix $(SQL_PATHS)

.PHONY: format
format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: dbt-build
dbt-build: $(STAMP) ## dbt build (models, data tests, unit tests) on the local DuckDB target
	PATH="$(CURDIR)/$(BIN):$$PATH" dbt build --profiles-dir . --target local

.PHONY: pytest
pytest: $(STAMP) ## The Python test suite
	$(BIN)/pytest

.PHONY: test
test: lint dbt-build pytest ## Everything CI runs: lint, dbt build, pytest

.PHONY: lock
lock: ## Re-resolve the dependencies and rewrite constraints.txt
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	{ head -n 2 constraints.txt; .lock-venv/bin/pip freeze --exclude-editable; } > constraints.new && mv constraints.new constraints.txt
	rm -rf .lock-venv

.PHONY: clean
clean: ## Remove build output (keeps .venv)
	rm -rf target logs .pytest_cache .ruff_cache

.PHONY: bench
bench: $(STAMP) ## Measure the pipeline on N members (default 1M): make bench N=3000000 BENCH_ARGS=--repeats=1
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/bench.py --members $(N) $(BENCH_ARGS)
