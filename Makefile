# SessionHub — `make serve` runs the hub, `make test` runs the whole suite. Both set up .venv.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser serve test lint typecheck unit smoke demo clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Pages are tested in Debian's Chromium (driven by Playwright's Python package, no browser download)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

serve: install
	$(BIN)/sessionhub migrate
	$(BIN)/sessionhub serve

demo: install
	$(BIN)/sessionhub demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Known vulnerabilities in the installed dependencies (pip-audit). Without a reachable vulnerability
# database it says SKIPPED; SESSIONHUB_AUDIT_REQUIRED=1 turns that into a failure (tools/audit.py).
.PHONY: audit
audit: install
	$(BIN)/python tools/audit.py
test: audit

typecheck: install
	$(BIN)/mypy

unit: install browser
	$(BIN)/pytest --ignore=tests/smoke

# The production layout of deploy/ on loopback: private redis-server, PostgreSQL schema, sandbox,
# migrate, gunicorn (deploy/gunicorn.conf.py) + 2 workers; SIGTERM and Redis-restart drills; and
# the deploy files linted (hadolint, yamllint, kubernetes-validate).
smoke: install
	$(BIN)/pytest tests/smoke -p no:cacheprovider

test: lint typecheck unit smoke

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# Benchmarks (not part of `make test`): every tests/bench/bench_*.py, each figure beside its
# baseline, written to tests/bench/results/latest.{json,md}. `make bench ONLY=ingest` runs one.
# The load generator is Debian's wrk, installed here if missing (as `browser` does for chromium).
.PHONY: bench wrk
wrk:
	@command -v wrk >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)

bench: install wrk
	$(BIN)/python -m tests.bench.run $(if $(ONLY),--only $(ONLY))
