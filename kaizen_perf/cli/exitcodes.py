"""Exit codes of every ``kaizen-perf`` command (a contract: CI scripts depend on them).

Errors declare theirs as ``exit_code`` on their class (:mod:`kaizen_perf.errors`, from
these constants); verdicts (1, 4) are returned by the commands that judge. Nothing
here imports anything, so the error tree can use these names without a cycle.
"""

from __future__ import annotations

OK = 0  #: success
CHECK_FAILED = 1  #: a check failed: regression, parity target violated, audit trail not intact
USAGE = 2  #: bad usage or configuration
RUNTIME = 3  #: runtime or harness error (never reported as a regression)
INCONCLUSIVE = 4  #: inconclusive verdict, only with --strict
