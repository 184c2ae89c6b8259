# Every target bootstraps .venv from nothing on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

## demo: run the reference agent under `kaizen-perf run` for 20 s: hooks, process metrics and
##       stack samples, /metrics served while it runs, a summary and an HTML report at the end
demo: $(STAMP)
	$(PY) -m kaizen_perf run --agent-id reference-agent --metrics-addr 127.0.0.1:0 -- \
	    $(PY) -m benchmarks.workloads.reference_agent --duration 20 --iterations 100000000
	@echo "Next: open the report above in a browser; 'kaizen-perf top' watches a live run;"
	@echo "      docs/getting-started.md shows the hooks; 'make test' runs the tests."

## test: the whole test suite (set KAIZEN_PERF_REQUIRE_E2E=1 to fail instead of skip
##       when Prometheus, bpftrace, PostgreSQL or Chromium are missing)
test: $(STAMP)
	$(PY) -m pytest -q

## lint: ruff and mypy --strict
lint: $(STAMP)
	$(VENV)/bin/ruff check kaizen_perf tests benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
