"""bpftrace JSON output: windows, histogram buckets, attribution, metrics handlers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaizen_perf.collectors.ebpf_parse import (
    OutputFormatError,
    StreamParser,
    Window,
    block_op,
    bucket_index,
    syscall_label,
    to_buckets,
    window_events,
)
from kaizen_perf.events import KernelCounter, KernelHistogram
from kaizen_perf.metrics import KERNEL_BUCKETS
from kaizen_perf.metrics.sink import MetricsSink


def _log2(k: int) -> dict[str, int]:
    return {"min": 2**k, "max": 2 ** (k + 1) - 1, "count": 1}


def _line(kind: str, name: str, value: object) -> str:
    return json.dumps({"type": kind, "data": {name: value}})


def test_buckets_below_256us_map_exactly() -> None:
    """A log2 microsecond bucket lands in the first KERNEL_BUCKETS bound that holds all of it."""
    assert bucket_index({"min": 0, "max": 0, "count": 1}) == 0  # < 1 µs
    assert bucket_index(_log2(0)) == 1  # [1, 2) µs: le=4e-6
    assert bucket_index(_log2(1)) == 1  # [2, 4) µs
    assert bucket_index(_log2(2)) == 2  # [4, 8) µs: le=16e-6
    assert bucket_index(_log2(7)) == 4  # [128, 256) µs: le=256e-6


def test_buckets_above_256us_use_the_documented_2_4_percent_approximation() -> None:
    """[512, 1024) µs counts as le=1 ms, [1024, 2048) µs as le=4 ms, beyond 1.05 s is +Inf."""
    assert bucket_index(_log2(9)) == KERNEL_BUCKETS.index(0.001)
    assert bucket_index(_log2(10)) == KERNEL_BUCKETS.index(0.004)
    assert bucket_index(_log2(19)) == KERNEL_BUCKETS.index(1.024)
    assert bucket_index(_log2(20)) == len(KERNEL_BUCKETS)


def test_negative_and_overflow_buckets() -> None:
    """bpftrace's negative bucket goes to the lowest slot, its overflow bucket to +Inf."""
    assert bucket_index({"max": -1, "count": 1}) == 0
    assert bucket_index({"min": -2147483648, "max": 0, "count": 1}) == len(KERNEL_BUCKETS)


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 1000)), max_size=30))
def test_bucket_mapping_keeps_every_count(buckets: list[tuple[int, int]]) -> None:
    """No observation is lost or duplicated when re-bucketing a histogram."""
    entries = [{"min": 2**k, "max": 2 ** (k + 1) - 1, "count": n} for k, n in buckets]
    counts = to_buckets(entries)
    assert len(counts) == len(KERNEL_BUCKETS) + 1
    assert sum(counts) == sum(n for _, n in buckets)


@given(st.integers(0, 30))
def test_bucket_upper_edge_never_exceeds_its_bound_by_more_than_2_5_percent(k: int) -> None:
    """Every log2 bucket's values are at most 2.5 % above the bound it is counted under."""
    i = bucket_index(_log2(k))
    if i < len(KERNEL_BUCKETS):
        assert 2 ** (k + 1) <= KERNEL_BUCKETS[i] * 1e6 * 1.025
    if i > 0:  # and not all of them fit the bound below
        assert 2 ** (k + 1) > KERNEL_BUCKETS[i - 1] * 1e6 * 1.025


def test_parser_closes_a_window_at_each_new_marker() -> None:
    """Maps printed before the marker form one window; the exit repeat and zero are ignored."""
    p = StreamParser()
    p.feed(json.dumps({"type": "attached_probes", "data": {"probes": 9}}))
    assert p.attached_probes == 9 and not p.tracing  # printed before the probes attach
    p.feed(json.dumps({"type": "printf", "data": "kaizen-perf: tracing\n"}))
    assert p.tracing
    assert p.feed("") is None
    p.feed(_line("map", "@offcpu_blocked_ns", {"12": 5}))
    window = p.feed(_line("map", "@kaizen_window", 1))
    assert window == Window(1, {"@offcpu_blocked_ns": {"12": 5}})
    assert p.feed(_line("map", "@kaizen_window", 1)) is None
    assert p.feed(_line("map", "@kaizen_window", 0)) is None
    assert p.feed(_line("map", "@kaizen_window", 2)) == Window(2, {})


@pytest.mark.parametrize("line", ["Attaching 3 probes...", "[1, 2]",
                                  '{"type": "mystery", "data": {}}',
                                  '{"type": "map", "data": {"@a": 1, "@b": 2}}'])
def test_parser_rejects_output_it_does_not_understand(line: str) -> None:
    """A format change is an error with the offending line, never silently wrong numbers."""
    with pytest.raises(OutputFormatError, match="bpftrace"):
        StreamParser().feed(line)


def test_labels() -> None:
    """Syscall probes and numbers become names; request flags become ops."""
    assert syscall_label("tracepoint:syscalls:sys_exit_epoll_wait") == "epoll_wait"
    assert syscall_label("202") == "futex"
    assert syscall_label("999") == "nr_999"
    assert [block_op(f) for f in ("WS", "R", "FWS", "FF", "DS", "N")] == [
        "write", "read", "write", "flush", "discard", "other"]


def test_window_events_sum_pids_per_agent_and_scale() -> None:
    """Two PIDs of one agent add up; ns become seconds, sampled minor faults are scaled."""
    maps = {
        "@offcpu_blocked_ns": {"10": 1_000_000_000, "11": 500_000_000, "20": 1},
        "@faults_minor_per100": {"10": 3},
        "@tcp_connect_us": {"10": [_log2(4)], "11": [_log2(4), _log2(6)]},
        "@tcp_connect_ns_sum": {"10": 20_000, "11": 70_000},
        "@sys_us": {"10,tracepoint:syscalls:sys_exit_read": [{"min": 0, "max": 0, "count": 4}]},
        "@sys_ns_sum": {"10,tracepoint:syscalls:sys_exit_read": 800},
    }
    events = window_events(Window(1, maps), lambda pid: "a" if pid < 20 else "b")
    assert KernelCounter("a", "kaizen_offcpu_seconds_total", "blocked", 1.5) in events
    assert KernelCounter("b", "kaizen_offcpu_seconds_total", "blocked", 1e-9) in events
    assert KernelCounter("a", "kaizen_page_faults_total", "minor", 300.0) in events
    tcp = next(e for e in events if e.metric == "kaizen_tcp_connect_duration_seconds")
    assert isinstance(tcp, KernelHistogram)
    assert tcp.counts[3] == 2 and tcp.counts[4] == 1 and tcp.sum_s == pytest.approx(90e-6)
    read = next(e for e in events if e.label == "read")
    assert isinstance(read, KernelHistogram) and read.counts[0] == 4


def test_window_with_an_unknown_map_is_a_format_error() -> None:
    """A program change that prints a map the parser does not know is reported."""
    with pytest.raises(OutputFormatError, match="@surprise"):
        window_events(Window(1, {"@surprise": {"1": 1}}), str)


def test_metrics_sink_adds_kernel_events_to_the_table_families() -> None:
    """Counters add up across windows and histograms keep bucket counts and exact sums."""
    sink = MetricsSink()
    counts = (1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3)
    sink.handle([KernelCounter("a", "kaizen_offcpu_seconds_total", "blocked", 0.5),
                 KernelCounter("a", "kaizen_offcpu_seconds_total", "blocked", 0.25),
                 KernelCounter("a", "kaizen_tcp_retransmits_total", "", 2),
                 KernelHistogram("a", "kaizen_block_io_duration_seconds", "write", counts, 2.5),
                 KernelHistogram("a", "kaizen_tcp_connect_duration_seconds", "", counts, 1.0),
                 KernelCounter("a", "no_such_metric", "", 1)])
    f = sink.families
    assert f["kaizen_offcpu_seconds_total"].series[("a", "blocked")] == [0.75]
    assert f["kaizen_tcp_retransmits_total"].series[("a",)] == [2]
    assert f["kaizen_block_io_duration_seconds"].series[("a", "write")] == [*counts, 2.5]
    assert f["kaizen_tcp_connect_duration_seconds"].series[("a",)][-1] == 1.0
