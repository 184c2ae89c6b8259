"""ADR-012, permissions: Kaizen's ``PermissionPolicy``, ``ExecutionContext``,
``BudgetEnforcer`` and ``ToolApprovalManager``.

Kaizen 2.46.1 keeps no decision cache: a "cached" check is the path the
policy takes for a tool already approved for the session ("Approve All" puts it
in ``allowed_tools``, layer 5), an "uncached" one a tool never decided before,
which falls through every layer to the mode default.
"""

from __future__ import annotations

import sys
import threading
import time

from kaizen.core.autonomy.permissions.approval_manager import ToolApprovalManager
from kaizen.core.autonomy.permissions.budget_enforcer import BudgetEnforcer
from kaizen.core.autonomy.permissions.context import ExecutionContext
from kaizen.core.autonomy.permissions.policy import PermissionPolicy
from kaizen.core.autonomy.permissions.types import PermissionMode, PermissionRule, PermissionType

from benchmarks.parity._support import cpu_time, run
from benchmarks.parity.bench_adr011_control import session
from kaizen_perf.regression import benchmark

OPS = 100
APPROVALS = 200
THREADS, UPDATES = 8, 5000
COST = 1 / 1024  # exact in binary floating point: the expected total is exact too

_CACHED = PermissionPolicy(ExecutionContext(mode=PermissionMode.DEFAULT, budget_limit=100.0,
                                            allowed_tools={"Bash"}))
_UNCACHED = PermissionPolicy(ExecutionContext(mode=PermissionMode.DEFAULT, budget_limit=100.0))
_BUDGET = ExecutionContext(mode=PermissionMode.DEFAULT, budget_limit=100.0)
_RULES = PermissionPolicy(ExecutionContext(
    mode=PermissionMode.DEFAULT, budget_limit=100.0,
    rules=[PermissionRule(f"(tool_{i}|other_{i})_.*", PermissionType.DENY, f"rule {i}",
                          priority=10 - i) for i in range(9)]
    + [PermissionRule("mcp_.*", PermissionType.ALLOW, "MCP tools", priority=0)]))
_INPUT = {"command": "ls -la"}


@cpu_time
@benchmark(ops=OPS, pairs_per_round=1)
def bench_check_cached() -> None:
    """``check_permission`` of a tool approved for the session (per check)."""
    check = _CACHED.check_permission
    for _ in range(OPS):
        check("Bash", _INPUT, 0.01)


@cpu_time
@benchmark(ops=OPS, pairs_per_round=1)
def bench_check_uncached() -> None:
    """``check_permission`` of a tool never decided, down to the DEFAULT-mode rule (per check)."""
    check = _UNCACHED.check_permission
    for _ in range(OPS):
        check("Write", _INPUT, 0.01)


@cpu_time
@benchmark(ops=OPS, pairs_per_round=1)
def bench_budget_check() -> None:
    """``BudgetEnforcer.estimate_cost`` + ``has_budget`` for one tool call (per check)."""
    for _ in range(OPS):
        BudgetEnforcer.has_budget(_BUDGET, BudgetEnforcer.estimate_cost("Bash", _INPUT))


@cpu_time
@benchmark(ops=OPS, pairs_per_round=1)
def bench_rules_10() -> None:
    """``check_permission`` evaluated against 10 pattern rules, the last one matching."""
    check = _RULES.check_permission
    for _ in range(OPS):
        check("mcp_search", _INPUT, 0.01)


async def _approvals(protocol: object) -> list[float]:
    manager = ToolApprovalManager(protocol)  # type: ignore[arg-type]
    context = ExecutionContext(mode=PermissionMode.DEFAULT, budget_limit=10.0)
    out = []
    for i in range(APPROVALS):
        start = time.perf_counter()
        approved = await manager.request_approval("Bash", {"command": f"echo {i}"}, context,
                                                  timeout=10.0)
        out.append(time.perf_counter() - start)
        if not approved:
            raise AssertionError("the client approved, the manager said no")
    return out


@benchmark(unit="ms", gate=0.10)
def bench_approval_round_trip() -> float:
    """Median ``ToolApprovalManager.request_approval`` round trip through the control
    protocol to a client that approves at once, over 200 approvals (ms)."""
    xs = sorted(run(session(_approvals)))
    return xs[len(xs) // 2] * 1e3


@benchmark(unit="%", direction="higher")
def bench_context_thread_safety() -> float:
    """Share of 40,000 concurrent ``record_tool_usage`` updates (8 threads, GIL switch
    every 5 µs, interleaved with ``can_use_tool``/``has_budget`` reads) that survive."""
    context = ExecutionContext(mode=PermissionMode.DEFAULT, budget_limit=1e9)
    start = threading.Barrier(THREADS)

    def worker(k: int) -> None:
        start.wait()
        for _ in range(UPDATES):
            context.record_tool_usage(f"tool_{k % 3}", COST)
            context.can_use_tool("Read")
            context.has_budget(COST)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(5e-6)  # force thread switches inside the updates
    try:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    expected = THREADS * UPDATES
    counted = sum(context.tool_usage_count.values())
    spent = round(context.budget_used / COST)
    return 100.0 * min(counted, spent) / expected
