# Every target bootstraps .venv from nothing on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo top test coverage lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

## demo: run the reference agent under `kaizen-perf run` for DEMO_SECONDS: hooks, process
##       metrics and stack samples, /metrics served on DEMO_ADDR while it runs (watch it with
##       `make top` from a second terminal), a summary and an HTML report at the end
DEMO_ADDR    ?= 127.0.0.1:9464
DEMO_SECONDS ?= 60
demo: $(STAMP)
	@echo "The demo runs for $(DEMO_SECONDS) s. Watch it live from a second terminal in this directory:"
	@echo "    make top        (or: $(VENV)/bin/kaizen-perf top $(DEMO_ADDR))"
	@echo
	$(PY) -m kaizen_perf run --agent-id reference-agent --metrics-addr $(DEMO_ADDR) -- \
	    $(PY) -m benchmarks.workloads.reference_agent --duration $(DEMO_SECONDS) --iterations 100000000
	@echo
	@echo "Next:"
	@echo "  - open the report.html printed above in a browser (or: $(VENV)/bin/kaizen-perf report RUN_DIR)"
	@echo "  - '. $(VENV)/bin/activate' puts kaizen-perf on PATH; 'kaizen-perf --help' lists the commands"
	@echo "  - 'make demo' again, and 'make top' in a second terminal while it runs"
	@echo "  - docs/getting-started.md shows the hooks; 'make test' runs the tests"

## top: watch a running demo (or any `kaizen-perf run` on DEMO_ADDR) live; q quits
top: $(STAMP)
	$(VENV)/bin/kaizen-perf top $(DEMO_ADDR)

## test: the whole test suite (set KAIZEN_PERF_REQUIRE_E2E=1 to fail instead of skip
##       when Prometheus, bpftrace, PostgreSQL or Chromium are missing)
test: $(STAMP)
	$(PY) -m pytest -q

## coverage: the test suite under coverage, following every Python child process (kaizen-perf
##           run, its agents, benchmark workers); prints per-package figures (coverage.json
##           and `coverage html` for the details); exits with the suite's status
COVERAGE_FILES ?= kaizen_perf/integrations/__init__.py kaizen_perf/doctor.py \
                  kaizen_perf/regression/evaluate.py
coverage: $(STAMP)
	rm -f .coverage .coverage.* coverage.json
	$(PY) -m coverage run -m pytest -q $(PYTEST_ARGS); status=$$?; \
	$(PY) -m coverage combine -q && $(PY) -m coverage json -q -o coverage.json && \
	$(PY) -m tests.coverage_packages coverage.json $(COVERAGE_FILES); exit $$status

## lint: ruff and mypy --strict
lint: $(STAMP)
	$(VENV)/bin/ruff check kaizen_perf tests benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* coverage.json
