"""Job planning for check/bench: selection, new and missing benchmarks, parity jobs."""

from __future__ import annotations

import pytest

from kaizen_perf.errors import ConfigError
from kaizen_perf.regression.compare import check_jobs, select
from kaizen_perf.regression.model import BenchInfo
from kaizen_perf.regression.targets import Target, Targets

BASE = [BenchInfo("a.bench_off"), BenchInfo("a.bench_on"), BenchInfo("a.bench_gone")]
HEAD = [BenchInfo("a.bench_off"), BenchInfo("a.bench_on", gate=0.05), BenchInfo("a.bench_new")]
TARGETS = Targets(gates={"a.bench_off": 0.2}, targets=(
    Target("overhead", "overhead", "a.bench_on", 0.02, reference="a.bench_off"),
    Target("absolute new", "absolute", "a.bench_new", 1.0)))


def test_common_benchmarks_are_paired_and_the_rest_reported() -> None:
    """Benchmarks on both sides are compared; head-only ones are NEW, base-only MISSING."""
    jobs, new, missing = check_jobs(BASE, HEAD, TARGETS, ())
    paired = {j.key: j for j in jobs if j.y is not None and (j.x.side, j.y.side) == (
        "base", "head")}
    assert set(paired) == {"a.bench_off", "a.bench_on"}
    assert paired["a.bench_off"].info.gate == 0.2  # the file's gate beats the decorator's
    assert paired["a.bench_on"].info.gate == 0.05
    assert new == ["a.bench_new"] and missing == ["a.bench_gone"]


def test_parity_jobs_pair_on_with_off_on_the_candidate() -> None:
    """An overhead target is a head-vs-head paired job; an uncovered absolute one runs alone."""
    jobs, _, _ = check_jobs(BASE, HEAD, TARGETS, ())
    by_key = {j.key: j for j in jobs}
    overhead = by_key["parity:overhead"]
    assert (overhead.x.side, overhead.x.bench) == ("head", "a.bench_off")
    assert overhead.y is not None and (overhead.y.side, overhead.y.bench) == ("head", "a.bench_on")
    single = by_key["single:a.bench_new"]
    assert single.x.side == "head" and single.y is None


def test_selection_limits_parity_targets_too() -> None:
    """--bench runs only the matching benchmarks and the targets about them."""
    jobs, _, _ = check_jobs(BASE, HEAD, TARGETS, ["*bench_off"])
    assert [j.key for j in jobs] == ["a.bench_off"]


def test_a_selection_that_matches_nothing_lists_the_names() -> None:
    """A typo in --bench is a usage error naming what exists."""
    with pytest.raises(ConfigError, match=r"a\.bench_off"):
        select(HEAD, ["nothing*"])


def test_a_name_without_glob_characters_selects_exactly_that_benchmark() -> None:
    """--bench bench_tool runs bench_tool, not every benchmark whose name starts with it."""
    infos = [BenchInfo("h.bench_tool"), BenchInfo("h.bench_tool_aggregated")]
    assert [i.name for i in select(infos, ["bench_tool"])] == ["h.bench_tool"]
    assert [i.name for i in select(infos, ["h.bench_tool*"])] == ["h.bench_tool",
                                                                  "h.bench_tool_aggregated"]
