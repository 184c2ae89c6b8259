"""The head-to-head workload on the real Claude Agent SDK (bundled CLI) and a real Kaizen
agent: correctness before timing (benchmarks/parity/bench_h2h.py times only runs that pass)."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import pytest

from benchmarks.parity.h2h_measure import Run, driver_tokens, measures, problems, run_once
from benchmarks.parity.h2h_server import load_workload
from tests.helpers import need

pytestmark = pytest.mark.e2e


def _cli() -> str:
    import claude_agent_sdk

    return os.path.join(os.path.dirname(claude_agent_sdk.__file__), "_bundled", "claude")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """One run of the workload on each framework (about 5 s each)."""
    need(os.access(_cli(), os.X_OK), "claude-agent-sdk's bundled claude CLI is missing")
    root = tmp_path_factory.mktemp("h2h")
    return {fw: run_once(fw, root) for fw in ("sdk", "kaizen")}


@pytest.mark.parametrize("framework", ["sdk", "kaizen"])
def test_each_framework_makes_the_workloads_calls_denial_and_retry(
        runs: dict[str, Run], framework: str) -> None:
    """The framework's hook saw exactly the workload's tool calls, the user's permission
    callback denied Write once, the client retried the 529, and nothing was unscripted."""
    run = runs[framework]
    assert problems(run) == []
    calls = sorted(json.dumps(c, sort_keys=True) for c in run.workload.calls)
    hooked = sorted(json.dumps([h[0], h[1]], sort_keys=True) for h in run.report["hooks"])
    assert hooked == calls
    assert [d[0] for d in run.report["decisions"] if not d[1]] == ["Write"]
    assert len(run.report["retries"]) == 1
    statuses = [r.status for r in run.records]
    assert statuses.count(529) == 1 and statuses[statuses.index(529) + 1] == 200


def test_token_totals_equal_the_servers_on_both_sides(runs: dict[str, Run]) -> None:
    """What each framework reports is what its server answered, and both servers answered the
    workload's totals (a parallel step split for Kaizen keeps them)."""
    for run in runs.values():
        served = (sum(r.usage[0] for r in run.records), sum(r.usage[1] for r in run.records))
        assert driver_tokens(run) == served == run.workload.tokens


def test_the_parallel_call_is_one_answer_to_the_sdk_and_one_action_per_cycle_to_kaizen(
        runs: dict[str, Run]) -> None:
    """The SDK's CLI gets both tool_use blocks in one answer and sends both results in the next
    request; Kaizen's MultiCycleStrategy (one action per cycle) gets them one by one."""
    sdk = [r for r in runs["sdk"].records if len(r.calls) == 2]
    assert len(sdk) == 1
    after = runs["sdk"].records[runs["sdk"].records.index(sdk[0]) + 1]
    assert len(after.results) == 2
    assert all(len(r.calls) <= 1 for r in runs["kaizen"].records)
    assert len(runs["kaizen"].records) == len(runs["sdk"].records) + 1


def test_measures_come_from_the_server_clock_and_the_process_tree(runs: dict[str, Run]) -> None:
    """Cold start precedes the result, every gap and the hook delay are positive, and the tree's
    RSS and CPU time were read (the SDK's includes its CLI, a separate executable)."""
    for run in runs.values():
        m = measures(run)
        assert 0 < m.cold_start_ms < m.wall_ms
        assert min(m.tool_gap_ms, m.permission_ms, m.hook_ms, m.turn_overhead_ms) > 0
        assert m.peak_rss_bytes > 0 and m.cpu_ms_per_turn > 0
    assert measures(runs["sdk"]).peak_rss_bytes > 100 * 2**20  # the CLI alone is ~200 MiB


def test_a_run_that_differs_from_the_workload_is_not_timed(runs: dict[str, Run]) -> None:
    """A missing denial or a token total that disagrees with the server makes measures()
    refuse the run, naming what differed."""
    run = runs["kaizen"]
    allowed = [[d[0], True, d[2]] for d in run.report["decisions"]]
    no_denial = dataclasses.replace(run, report={**run.report, "decisions": allowed})
    with pytest.raises(AssertionError, match="denials"):
        measures(no_denial)
    usage = [[u[0] + 1, u[1]] for u in run.report["usage"]]
    miscounted = dataclasses.replace(run, report={**run.report, "usage": usage})
    with pytest.raises(AssertionError, match="tokens"):
        measures(miscounted)


def test_workload_paths_are_the_runs_own(tmp_path: Path) -> None:
    """The workload's file arguments point into the run's working directory."""
    workload = load_workload(tmp_path)
    paths = [a["file_path"] for _, a in workload.calls if "file_path" in a]
    assert paths and all(p.startswith(str(tmp_path)) for p in paths)


def test_an_environment_that_fails_the_check_fails_every_benchmark_once(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """When the runs fail the check, the benchmark raises with the reason, and the other
    head-to-head benchmarks of that environment raise it again without rerunning them."""
    from benchmarks.parity import bench_h2h, h2h_measure

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the failure is remembered
    for fw in ("sdk", "kaizen"):
        monkeypatch.setitem(h2h_measure.DRIVERS, fw, tmp_path / "missing_driver.py")
    monkeypatch.setattr(bench_h2h, "_PAIR", {})
    with pytest.raises(AssertionError, match="driver exited 2"):
        bench_h2h.bench_sdk_wall()
    reruns: list[object] = []
    monkeypatch.setattr(bench_h2h, "run_once", lambda *a: reruns.append(a))
    with pytest.raises(AssertionError, match="driver exited 2"):
        bench_h2h.bench_kaizen_hook()
    assert reruns == []
