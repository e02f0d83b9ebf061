# One entry point for people and CI. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# Every package to install, in order, from the list of processes (deploy/services.toml); the
# script needs nothing but the standard library, so it runs before the venv exists.
SERVICE_LIST := deploy/services.toml
PACKAGES := $(shell $(PYTHON) deploy/local/portal_stack/services.py packages)
ifeq ($(PACKAGES),)
$(error could not list the packages of $(SERVICE_LIST) with $(PYTHON))
endif

.PHONY: venv web-assets
venv: $(VENV)/.installed web-assets

# The web pages' assets from the npm registry (web/assets.toml: the gov.gr design system's CSS,
# axe-core for the browser tests), checked against their pinned integrity; a no-op once fetched.
web-assets:
	$(PYTHON) web/fetch_assets.py

$(VENV)/.installed: constraints.txt requirements-dev.txt $(SERVICE_LIST) $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

.PHONY: lint
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m portal_stack.generate --check

# After a change of deploy/services.toml: rewrite docker-compose.yml and the gateway's routes.
.PHONY: generate
generate: venv
	$(PY) -m portal_stack.generate

# The local stack (deploy/local/portal_stack): real PostgreSQL, Kafka, Mailpit (SMTP and a web
# mailbox), simulators, services, nginx. `make up` prints every address.
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

# The back-office worklist rebuilt from zero out of the event topics (kept forever for this),
# with a progress display (SPEC X-3); by default against the local stack (its settings' defaults,
# and the stack's database password unless POSTGRES_PASSWORD says otherwise).
.PHONY: rebuild-worklist
rebuild-worklist: venv
	POSTGRES_PASSWORD=$${POSTGRES_PASSWORD:-postgres} $(PY) -m backoffice_service.rebuild $(ARGS)

# Every service's read models rebuilt from zero beside the live ones and compared with them, with
# a progress display (SPEC X-1; `SERVICE=requests` for one service, `ARGS=--keep` to keep the
# rebuilt tables); by default against the local stack, as rebuild-worklist.
.PHONY: rebuild-read-models
rebuild-read-models: venv
	@status=0; for service in $(or $(SERVICE),$(shell $(PY) -c 'from portal_stack.services import load; print(*(p.name for p in load().services))')); do \
	  POSTGRES_PASSWORD=$${POSTGRES_PASSWORD:-postgres} $(PY) -m portal_web.rebuild $$service $(ARGS) || status=1; \
	done; exit $$status

# Every service's history verified against the audit archive's hashes and checkpoints (SPEC X-1),
# offline from an export with ARGS='--export FILE [--checkpoints FILE]'; and a whole history, or
# every service's, replayed into the NDJSON export (ARGS='--service requests --out FILE ...').
# Usage: `python -m audit_service.cli --help`. By default against the local stack, as
# rebuild-worklist.
.PHONY: verify-history export-history
verify-history: venv
	POSTGRES_PASSWORD=$${POSTGRES_PASSWORD:-postgres} $(PY) -m audit_service.cli verify $(ARGS)

export-history: venv
	POSTGRES_PASSWORD=$${POSTGRES_PASSWORD:-postgres} $(PY) -m audit_service.cli export $(ARGS)

# The tests' session fixture calls portal_stack.ensure_up(), so no separate `make up` is needed.
.PHONY: test
test: venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

.PHONY: bench bench-submissions bench-payments bench-certificates bench-tax bench-audit bench-rebuild
bench: bench-submissions bench-payments bench-certificates bench-tax bench-audit bench-rebuild

bench-submissions: venv
	$(PY) bench/submissions.py

bench-payments: venv
	$(PY) bench/payments.py

bench-certificates: venv
	$(PY) bench/certificates.py

bench-tax: venv
	$(PY) bench/tax_declarations.py

bench-audit: venv
	POSTGRES_PASSWORD=$${POSTGRES_PASSWORD:-postgres} $(PY) bench/audit.py

bench-rebuild: venv
	$(PY) bench/rebuild.py
