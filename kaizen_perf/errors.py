"""The one exception tree of kaizen-perf.

::

    KaizenPerfError
     ├── ConfigError            bad setting, argument or file (CLI exit 2)
     ├── CollectorUnavailable   a collector cannot run here (no ptrace, no eBPF…)
     ├── AuditStoreError        the audit store cannot write or read
     │    └── AuditDenied       an audited action refused because the trail cannot record it
     ├── BaselineError          a baseline or results file is missing or unreadable
     ├── HarnessError           a benchmark or child process crashed (CLI exit 3)
     └── BudgetExceeded         a hard budget stop (raised into agent code only when opted in)

Hooks never raise these into agent code (except ``BudgetExceeded`` when the user
asked for a hard stop, and ``ValueError`` under ``KAIZEN_PERF_STRICT=1``). Only
the CLI turns them into exit codes.
"""

from __future__ import annotations


class KaizenPerfError(Exception):
    """Base class of every error kaizen-perf raises on purpose."""


class ConfigError(KaizenPerfError, ValueError):
    """A setting, argument or configuration file has a value we cannot use."""


class CollectorUnavailable(KaizenPerfError):
    """A collector cannot run on this machine; the message says how to enable it."""


class AuditStoreError(KaizenPerfError):
    """The audit store could not durably write or read entries."""


class AuditDenied(AuditStoreError):
    """The audited action is refused because the audit trail cannot record it."""


class BaselineError(KaizenPerfError):
    """A baseline, results file or parity target is missing or unreadable."""


class HarnessError(KaizenPerfError):
    """A benchmark, worker or monitored child failed in a way that is not a verdict."""


class BudgetExceeded(KaizenPerfError):
    """A hard budget was exceeded; raised into agent code only when opted in."""

    def __init__(self, scope: str, spent_usd: float, budget_usd: float, *,
                 reserved_usd: float | None = None) -> None:
        #: the worst case of the call that was refused before it was sent (None: a spent stop)
        self.reserved_usd = reserved_usd
        self.scope, self.spent_usd, self.budget_usd = scope, spent_usd, budget_usd
        if reserved_usd is None:
            head = f"Budget exceeded for {scope}: spent ${spent_usd:.4f} of ${budget_usd:.4f}. "
        else:
            head = (f"Budget of {scope} would be exceeded: a call that could cost up to "
                    f"${reserved_usd:.4f} was not sent (spent and in flight ${spent_usd:.4f} "
                    f"of ${budget_usd:.4f}). ")
        super().__init__(head + "Raise the budget (KAIZEN_PERF_BUDGET_USD) or turn off the "
                         "hard stop.")
