# Callback Supervisor — developer entry points. Each target installs what it needs first.
#   make run     demo: Redis + migrate + demo data + web, worker, beat, simulator (Ctrl-C stops)
#   make test    full test suite (PYTEST_ARGS="..." passes arguments to pytest)
#   make lint    ruff check + ruff format --check
#   make bench   load harness: 1,000 business processes, 1,000,000 callbacks, 200 events/s, 200 monitors (PostgreSQL)
#   make stop    stop the private Redis
#   make clean   remove runtime files and caches (make distclean: also .venv and db.sqlite3)

SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help install venv redis run test lint format stop clean distclean postgres bench

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# Python virtualenv; pip runs only when requirements.txt changed.
venv:
	@scripts/venv.sh

install: venv
	@scripts/ensure-apt.sh redis-server
	@[ -x /usr/bin/chromium ] || scripts/ensure-apt.sh chromium fonts-liberation

redis:
	@scripts/redis.sh start

run: venv redis
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@echo
	@echo "================================================================"
	@echo "  Callback Supervisor: http://127.0.0.1:8000/"
	@echo "  Log in with one of the demo logins printed above by load_demo."
	@echo "  Ctrl-C stops everything (web, worker, beat, simulator)."
	@echo "================================================================"
	@echo
	PYTHONUNBUFFERED=1 $(VENV)/bin/honcho -f Procfile.local start

test:
	@scripts/test.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Not part of the fixed targets: applies ruff's formatting.
format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The load harness (bench/monitor_load.py; BENCH_ARGS="..." passes options): installs and starts PostgreSQL and
# Redis, loads the bench database on first use, then measures the live system and the naive baseline.
bench: venv redis
	DATABASE_URL=$$(scripts/postgres.sh start) $(PY) bench/monitor_load.py --batch-ms 100 $(BENCH_ARGS)

# Local PostgreSQL (as CI uses); prints the DATABASE_URL to export.
postgres:
	@scripts/postgres.sh start

stop:
	@scripts/redis.sh stop

clean: stop
	rm -rf .run .pytest_cache .ruff_cache .hypothesis htmlcov .coverage test-results playwright-report staticfiles
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) db.sqlite3
