# qiwidgets — two commands on a fresh clone:
#   make demo   set everything up and run the main job on the embedded SQLite store
#   make test   set everything up and run every test
# Everything is installed by this file: a venv from pyproject.toml, and the Debian packages
# the tests need (PostgreSQL server, Chromium) when they are missing.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_DIR ?= demo-output
DEMO_MONTH ?= 2026-10
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv bytecode system-deps hub-deps demo reports serve test test-fast test-min test-notebooks lab bench clean

help:
	@echo "make demo   - install, load the sample programme into qiwidgets.db (the database the"
	@echo "              commands, notebooks, dashboards and reports all use here), chart it,"
	@echo "              write the monthly reports and serve the dashboards"
	@echo "make serve  - serve the dashboards on the demo database"
	@echo "make test   - install (venv + Debian packages) and run the whole test suite"
	@echo "make test-fast - the everyday lane: every test but the browser, PostgreSQL and slow ones"
	@echo "make test-min - the suite (no browser) at the lowest versions pyproject.toml allows"
	@echo "make test-notebooks - the guided notebooks cell by cell (nbval), when editing one"
	@echo "make lab    - open the workbook notebooks in JupyterLab"
	@echo "make bench  - run the benchmarks (by hand; prints figures against the targets)"
	@echo "make clean  - remove the venv and demo output"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,test,dev]'
	touch $(STAMP)

venv: $(STAMP)

# The package's compiled bytecode, written here because Python does not write it itself where
# PYTHONDONTWRITEBYTECODE is set (as on our machines): every kernel then compiled qiwidgets'
# sources again (65 ms of a team dashboard kernel's start: 35 modules). Quick when up to date.
bytecode: $(STAMP)
	$(PY) -m compileall -q src/qiwidgets

# PostgreSQL (initdb/pg_ctl) for the store tests; Chromium for the browser tests; Node.js for
# JupyterHub's proxy (hub-deps).
system-deps:
	@need=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need="$$need postgresql"; \
	[ -x /usr/bin/chromium ] || need="$$need chromium"; \
	command -v npm >/dev/null || need="$$need nodejs npm"; \
	if [ -n "$$need" ]; then \
	  echo "Installing Debian packages:$$need"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$need; \
	fi

# The demo uses the one default database, qiwidgets.db here (qiwidgets where), so `make lab`'s
# notebooks, the dashboards and the reports all show what the others saved.
demo: bytecode
	mkdir -p $(DEMO_DIR)
	$(VENV)/bin/qiwidgets load-sample
	@$(VENV)/bin/qiwidgets where | head -2
	$(VENV)/bin/qiwidgets spc data/samples/observations.csv --where measure=FALLS_HARM \
	  --chart u --x period --y numerator --n denominator --multiply 1000 --facets team \
	  --label "Falls with harm per 1,000 bed days" --improvement decrease \
	  --out $(DEMO_DIR)/falls_with_harm_u_chart.csv
	$(VENV)/bin/qiwidgets reports --month $(DEMO_MONTH) --out $(DEMO_DIR)/reports --workers 2 \
	  --no-progress
	@echo "Monthly learning reports: $(DEMO_DIR)/reports/index.html"
	@echo "Starting the dashboards (Ctrl+C to stop):"
	$(VENV)/bin/qiwidgets serve

serve: bytecode
	$(VENV)/bin/qiwidgets serve

reports: bytecode
	$(VENV)/bin/qiwidgets reports --month $(DEMO_MONTH) --out $(DEMO_DIR)/reports --workers 2

# JupyterHub's proxy (configurable-http-proxy, from npm) for the test of `serve --hub` behind a
# real Hub (tests/test_dashboards_hub.py).
CHP := .cache/hub/node_modules/.bin/configurable-http-proxy
hub-deps: $(CHP)
$(CHP): | system-deps
	npm install --silent --no-audit --no-fund --prefix .cache/hub configurable-http-proxy@5

# The guided notebooks run once per test run: tests/test_notebooks.py executes each on the sample
# (nbclient) and checks what it shows. `make test-notebooks` runs them cell by cell with nbval,
# for whoever is editing a notebook.
test: bytecode system-deps hub-deps
	$(PY) -m pytest tests

test-notebooks: bytecode
	$(PY) -m pytest --nbval-lax notebooks/

# The everyday lane: no browser, no PostgreSQL server, no report batch or wheel build (tests
# marked browser, postgres or slow); nothing to install beyond the venv. `make test` runs all.
test-fast: bytecode
	$(PY) -m pytest tests -m "not browser and not postgres and not slow"

# The lowest versions pyproject.toml allows (uv's lowest-direct resolution) in a venv of their
# own, with the suite but the browser tests and the wheel build: proof that the bounds hold.
MIN_VENV ?= .venv-min
test-min: $(STAMP) system-deps
	UV_NATIVE_TLS=1 $(PY) -m uv pip compile --quiet pyproject.toml --extra all --extra test \
	  --resolution lowest-direct --python-version 3.11 -o $(MIN_VENV).txt
	$(PY) -m uv venv --quiet --allow-existing $(MIN_VENV) --python $(PYTHON)
	UV_NATIVE_TLS=1 $(PY) -m uv pip install --quiet --python $(MIN_VENV)/bin/python -r $(MIN_VENV).txt
	UV_NATIVE_TLS=1 $(PY) -m uv pip install --quiet --python $(MIN_VENV)/bin/python --no-deps -e .
	$(MIN_VENV)/bin/python -m pytest tests -m "not browser" \
	  --deselect tests/test_packaging.py::test_the_installed_wheel_works_from_any_folder

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

bench: bytecode system-deps
	$(PY) benchmarks/spc_bench.py
	$(PY) benchmarks/store_bench.py
	$(PY) benchmarks/reports_bench.py
	$(PY) benchmarks/dashboard_bench.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(MIN_VENV) $(MIN_VENV).txt .cache
