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

## demo: run the reference agent with hooks on, serve /metrics while it runs, print a summary
demo: $(STAMP)
	$(PY) -m benchmarks.workloads.demo

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
