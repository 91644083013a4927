# Developer entry points. `make demo` and `make test` are all a newcomer needs; `make help` lists the rest.
# Other topics add their targets in mk/<topic>.mk (included at the end).

VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PYTEST := $(PY) -m pytest

# The Lambda runs Python 3.12: use a working 3.12 when there is one (a pyenv shim named python3.12 may
# exist and fail, so each candidate is run), else python3. Evaluated only when the venv is created.
BASE_PYTHON = $(or $(firstword $(foreach candidate,python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12),\
	$(shell $(candidate) -c '' >/dev/null 2>&1 && echo $(candidate)))),python3)

.DEFAULT_GOAL := help
.PHONY: help venv install demo test unit integration lint format mypy parity clean

help: ## List the targets
	@grep -hE '^[a-z][a-zA-Z0-9_-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(PY):
	$(BASE_PYTHON) -m venv $(VENV)

# Re-installs only when a requirements file changed since the last install.
$(INSTALLED): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(PY) ## Create .venv (Python 3.12 when available)

install: $(INSTALLED) ## Create .venv and install the runtime and development requirements

demo: install ## Score a demo address on an embedded PostgreSQL with demo data and print the response
	$(PY) -m tools.demo

test: install ## Run the whole test suite
	$(PYTEST)

unit: install ## Run the unit tests (no database)
	$(PYTEST) tests/unit

integration: install ## Run the integration tests (real PostgreSQL)
	$(PYTEST) tests/integration

lint: install ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Format the code and apply ruff's safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

mypy: install ## Type-check scorer_core, handlers, tools, mirror and bench
	$(VENV)/bin/mypy scorer_core handlers tools mirror bench

# The rate-limit scenario needs a scratch Redis whose counters the checker resets: the local one, if any.
PARITY_REDIS_URL ?= $(shell $(PY) -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1).close(); \
	print('redis://127.0.0.1:6379/0')" 2>/dev/null)

parity: install ## Replay the recorded reference scenarios against the handler (both event shapes)
	PARITY_REDIS_URL=$(PARITY_REDIS_URL) \
		$(PY) -m tools.localdb exec -- $(PY) ../shared/parity/check.py --project . --event-shape both

clean: ## Remove caches, build output and the embedded database (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .aws-sam build dist .local/pgdata
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

-include mk/*.mk
