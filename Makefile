# The two commands of the README: `make run` and `make test`. Both set everything up
# on a fresh machine and are safe to run again.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | sha1sum | cut -c1-12)

.PHONY: chaos help install pdf-libraries run test fuzz check bench services stop-services chromium pgbouncer clean-var

help:
	@echo "make run     set up and start web + Celery worker + beat with demo data on http://127.0.0.1:$${PORT:-8000}"
	@echo "make test    set up and run the whole test suite (real PostgreSQL, Redis, Celery, Chromium)"
	@echo "make fuzz    fuzz every API operation as each role, 100 random examples each (FUZZ_EXAMPLES)"
	@echo "make chaos   25 rounds of killed workers and a stopped or frozen Redis (CHAOS_ROUNDS): lost, doubled, slowest"
	@echo "make check   ruff, migrations check, deploy checks, tests"
	@echo "make bench   benchmarks (import, /health/, intake, allocation, queue page, Rx and shipping labels)"

$(STAMP): requirements.txt
	@echo "==> Creating the virtualenv in $(VENV) and installing requirements.txt"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet --requirement requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP) pdf-libraries

# WeasyPrint subsets the embedded fonts with HarfBuzz when libharfbuzz-subset is there,
# else with fontTools, which makes every label and PDF about four times slower.
pdf-libraries:
	@if ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset\.so\.0'; then \
		true; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> Installing Debian's libharfbuzz-subset0 (WeasyPrint's font subsetter)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libharfbuzz-subset0 >/dev/null; } \
			|| echo "==> WARNING: could not install libharfbuzz-subset0: PDFs render about 4x slower"; \
	else \
		echo "==> WARNING: libharfbuzz-subset0 is missing: PDFs render about 4x slower (install it with your package manager)"; \
	fi

# Browser tests drive Debian's Chromium; install it when missing (CI runs as root).
chromium:
	@if command -v chromium >/dev/null 2>&1; then \
		echo "==> Chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "==> No chromium found: downloading Playwright's Chromium"; \
		$(PY) -m playwright install chromium; \
	fi

# The PgBouncer smoke tests (marker pgbouncer) start Debian's pgbouncer themselves, on a
# socket under var/; install it when missing (CI runs as root). The package's own service
# (127.0.0.1:6432) is not needed: stopped and disabled when we installed it.
pgbouncer:
	@if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then \
		echo "==> PgBouncer: $$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> Installing Debian's pgbouncer for the PgBouncer smoke tests"; \
		if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; then \
			{ systemctl disable --now pgbouncer.service || service pgbouncer stop; } >/dev/null 2>&1 || true; \
		else \
			echo "==> WARNING: could not install pgbouncer: the PgBouncer smoke tests will be skipped"; \
		fi; \
	else \
		echo "==> WARNING: pgbouncer is not installed: the PgBouncer smoke tests will be skipped (install Debian's pgbouncer package)"; \
	fi

run: install
	@$(PY) -m pharmacy.devservices run-app

test: install chromium pgbouncer
	@echo "==> Running the test suite (artifacts and screenshots go to test-artifacts/)"
	@$(PY) -m pharmacy.devservices exec -- $(PY) -m pytest $(PYTEST_ARGS)

# The API fuzz gate of `make test` (a few examples per operation and role, the same each
# run) with many more, random ones; its summary is test-artifacts/api-fuzz.json.
FUZZ_EXAMPLES ?= 100
fuzz: install
	@echo "==> Fuzzing every API operation as each role, $(FUZZ_EXAMPLES) examples each"
	@FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_RANDOM=1 $(PY) -m pharmacy.devservices exec -- \
		$(PY) -m pytest -q -m fuzz pharmacy/tests/test_api_fuzz.py $(PYTEST_ARGS); \
		status=$$?; echo "==> Summary (test-artifacts/api-fuzz.json)"; \
		cat test-artifacts/api-fuzz.json; echo; exit $$status

# The chaos gate of `make test` (one round) run 25 times: kill -9 the worker in the middle
# of each kind of side effect, stop Redis 20 s, freeze it 20 s; prints what was lost, what
# doubled and the slowest request (test-artifacts/stack-*.log hold the servers' logs).
CHAOS_ROUNDS ?= 25
chaos: install
	@echo "==> Chaos: $(CHAOS_ROUNDS) rounds (about 2 minutes each) of killed workers and a stopped or frozen Redis"
	@CHAOS_ROUNDS=$(CHAOS_ROUNDS) $(PY) -m pharmacy.devservices exec -- \
		$(PY) -m pytest -q -m chaos pharmacy/tests/test_chaos.py $(PYTEST_ARGS)

check: install
	@echo "==> ruff"
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@echo "==> migrations are up to date"
	@$(PY) -m pharmacy.devservices exec -- $(PY) manage.py makemigrations --check --dry-run
	@echo "==> deploy checks under production settings"
	@DEBUG=false SECRET_KEY=check-deploy-$$(head -c 48 /dev/urandom | base64 | tr -dc A-Za-z0-9) \
		LOCAL_CARRIER_WEBHOOK_SECRET=check-deploy-$$(head -c 48 /dev/urandom | base64 | tr -dc A-Za-z0-9) \
		ALLOWED_HOSTS=pharmacy.example.com $(PY) manage.py check --deploy --fail-level WARNING
	@$(MAKE) --no-print-directory test

bench: install
	@$(PY) -m pharmacy.devservices exec -- $(PY) bench/run_all.py

services: install
	@$(PY) -m pharmacy.devservices start

stop-services: install
	@$(PY) -m pharmacy.devservices stop
