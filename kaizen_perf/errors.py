"""The one exception tree of kaizen-perf.

::

    KaizenPerfError                 (CLI exit 3 unless a subclass says otherwise)
     ├── ConfigError                bad setting, argument or file (CLI exit 2)
     ├── CollectorUnavailable       a collector cannot run here (no ptrace, no eBPF…)
     ├── AuditStoreError            the audit store cannot write or read
     │    └── AuditDenied           an audited action refused because the trail cannot record it
     ├── BaselineError              a baseline or results file is missing or unreadable
     ├── HarnessError               a benchmark or child process crashed
     │    └── SuiteMissing          a side of the comparison has no benchmark suite directory
     ├── BudgetExceeded             a hard budget stop (raised into agent code only when opted in)
     └── ObservedToolError          how an observed tool call ended; never raised, its class
          ├── ToolUseFailure        name labels the call (``status="error"``, span
          ├── PermissionDenied      ``error.type``): a result with ``is_error``, a call
          └── ToolUnfinished        denied before it ran, one still open when its query ended

Hooks never raise these into agent code (except ``BudgetExceeded`` when the user
asked for a hard stop, ``AuditDenied`` under the ``deny`` audit policy, and
``ValueError`` under ``KAIZEN_PERF_STRICT=1``). Each class declares its CLI exit
code in ``exit_code`` (the values of :mod:`kaizen_perf.cli.exitcodes`, a contract);
only the CLI reads it and exits.
"""

from __future__ import annotations

from typing import ClassVar

from kaizen_perf.cli.exitcodes import RUNTIME, USAGE


class KaizenPerfError(Exception):
    """Base class of every error kaizen-perf raises on purpose."""

    #: the ``kaizen-perf`` exit code when this error ends a command: a runtime error
    #: (never 1, which only a failed check may return, so CI never reads a crash as a verdict)
    exit_code: ClassVar[int] = RUNTIME


class ConfigError(KaizenPerfError, ValueError):
    """A setting, argument or configuration file has a value we cannot use."""

    exit_code: ClassVar[int] = USAGE


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


class SuiteMissing(HarnessError):
    """A side of a comparison has no benchmark suite directory (reported without a traceback).

    The worker process reports it by name (it imports nothing from kaizen-perf, so that an
    old baseline's code can run it); the parent raises this class for that reply.
    """


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


class ObservedToolError(KaizenPerfError):
    """How a tool call that kaizen-perf observed (but did not run) ended.

    Never raised: an integration passes the class to the tool scope as the call's
    exception type, and its name becomes the error label of the call.
    """


class ToolUseFailure(ObservedToolError):
    """The error name of a tool call whose result came back with ``is_error``."""


class PermissionDenied(ObservedToolError):
    """The error name of a tool call that was denied before it ran."""


class ToolUnfinished(ObservedToolError):
    """The error name of a tool call still open when its query ended."""
