"""Exit codes of every ``kaizen-perf`` command (a contract: CI scripts depend on them)."""

from __future__ import annotations

OK = 0  #: success
CHECK_FAILED = 1  #: a check failed: regression, parity target violated, audit trail not intact
USAGE = 2  #: bad usage or configuration
RUNTIME = 3  #: runtime or harness error (never reported as a regression)
INCONCLUSIVE = 4  #: inconclusive verdict, only with --strict
