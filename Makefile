# InfoCity — run `make help` for the list of targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## Show this list
	@grep -E '^[a-z][a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("InfoCity needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install InfoCity with its development tools

PORT ?= 8000

run: install ## Migrate the SQLite database, load the demo city and serve it on :8000 (or make run PORT=8080)
	$(BIN)/infocity db upgrade
	$(BIN)/infocity seed demo
	INFOCITY_BASE_URL=$${INFOCITY_BASE_URL:-http://127.0.0.1:$(PORT)} INFOCITY_DEMO_MAILBOX=$${INFOCITY_DEMO_MAILBOX:-true} \
		$(BIN)/infocity serve --host 127.0.0.1 --port $(PORT) --with-worker

worker: install ## Deliver notifications and run periodic jobs
	$(BIN)/infocity worker

lint: install ## ruff (with DTZ), ruff format --check, mypy --strict (tests too), import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy infocity tests bench
	$(BIN)/lint-imports

format: install ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint ## Lint, then the whole suite on SQLite and PostgreSQL, browser tests included
	bash scripts/ensure-test-deps.sh
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

messages: install ## Extract translatable strings and update each service's ru/en catalogue
	$(BIN)/python scripts/update_catalogues.py

bench: install ## Run the benchmarks (figures go to bench/results/)
	$(BIN)/python -m bench

clean: ## Remove the virtual environment and local data
	rm -rf $(VENV) var

.PHONY: help install run worker lint format test messages bench clean
