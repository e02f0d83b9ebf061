# One entry point for people and CI. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PACKAGES := libs/events libs/web services/identity services/requests services/protocol deploy/simulators deploy/local

.PHONY: venv
venv: $(VENV)/.installed

$(VENV)/.installed: constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

.PHONY: lint
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The local stack (deploy/local/portal_stack): real PostgreSQL, Kafka, simulators, services, nginx.
.PHONY: up down status logs reset
up: venv
	$(PY) -m portal_stack up

down: venv
	$(PY) -m portal_stack down

status: venv
	$(PY) -m portal_stack status

logs: venv
	$(PY) -m portal_stack logs $(NAME)

reset: venv
	$(PY) -m portal_stack reset

# The tests' session fixture calls portal_stack.ensure_up(), so no separate `make up` is needed.
.PHONY: test
test: venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

.PHONY: bench
bench: venv
	$(PY) bench/submissions.py
