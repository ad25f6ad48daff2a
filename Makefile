# The two commands that matter: `make run` (the app with demo data) and `make test` (the test suite).
# Both create .venv and install the dependencies from pyproject.toml on first use; only Python 3.11 is needed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
# pytest-xdist workers; `make test PYTEST_WORKERS=0` runs everything in one process. PYTEST_ARGS adds options,
# e.g. `make test PYTEST_ARGS="-k seed -x"`.
PYTEST_WORKERS ?= auto
HOST ?= 127.0.0.1
PORT ?= 8000
# Profiles in the demo's Production sandbox.
PROFILES ?= 3000

.DEFAULT_GOAL := help
.PHONY: help install run seed test lint format worker beat bench

help:
	@echo "make run      set up the embedded mode (SQLite, a file broker and a worker), load demo data, serve http://$(HOST):$(PORT)"
	@echo "make seed     migrate and load the demo data only"
	@echo "make test     run the test suite (PostgreSQL when DATABASE_URL is set, SQLite otherwise)"
	@echo "make lint     ruff check, ruff format --check and the import contracts (lint-imports)"
	@echo "make format   ruff format and ruff check --fix"
	@echo "make worker   Celery worker (needs CELERY_BROKER_URL)"
	@echo "make beat     Celery beat, the periodic scheduler (needs CELERY_BROKER_URL)"
	@echo "make bench    run every benchmark in bench/"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Install the project's dependencies and test extras straight from pyproject.toml (the project itself is not a
# package to install); reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["test"]))' > $(VENV)/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt
	touch $@

install: $(VENV)/.installed

# Embedded mode: DEBUG on (plain HTTP on loopback, demo passwords printed), SQLite unless DATABASE_URL says
# otherwise, and a Celery worker with beat on a broker of files in var/broker (no server): audience evaluations,
# dataflow runs and alerts work as in production. `make seed` alone keeps the environment's DEBUG.
run: export DEBUG = 1
run: export CELERY_BROKER_URL ?= filesystem://

seed: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --profiles $(PROFILES)

run: seed
	@echo "Serving http://$(HOST):$(PORT)/ (Ctrl-C stops it); sign in with a login printed above."
	@echo "Celery worker and beat: log (alert emails included) in var/worker.log."
	@$(VENV)/bin/celery -A personalization worker --beat --pool=solo --loglevel=INFO \
		--schedule=var/celerybeat-schedule > var/worker.log 2>&1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# pytest exits 5 when it collected no tests; that fails here like any other non-zero exit.
test: install
	@status=0; $(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests." >&2; fi; exit $$status

# lint-imports checks the app boundaries declared in pyproject.toml ([tool.importlinter]).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

worker: install
	@test -n "$$CELERY_BROKER_URL" || { echo "Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) first." >&2; exit 2; }
	$(VENV)/bin/celery -A personalization worker --loglevel=INFO

beat: install
	@test -n "$$CELERY_BROKER_URL" || { echo "Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) first." >&2; exit 2; }
	mkdir -p var
	$(VENV)/bin/celery -A personalization beat --loglevel=INFO --schedule=var/celerybeat-schedule

bench: install
	@set -e; scripts="$$(ls bench/[!_]*.py 2>/dev/null || true)"; \
	if [ -z "$$scripts" ]; then echo "bench/ holds no benchmark scripts yet."; exit 0; fi; \
	for script in $$scripts; do echo "== $$script"; $(PY) $$script; done
