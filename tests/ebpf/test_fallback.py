"""Detection and fallback: eBPF missing or failing means one clear warning, never a hang."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from kaizen_perf.collectors.ebpf import Availability, EbpfCollector, detect
from kaizen_perf.events import Event, KernelCounter


def _fake_bpftrace(tmp_path: Path, body: str) -> str:
    """A stand-in for bpftrace: a real executable printing what a broken one would."""
    script = tmp_path / "fake-bpftrace"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(0o755)
    return str(script)


def _collector(tmp_path: Path, bpftrace: str, warnings: list[str], events: list[Event],
               **kw: float) -> EbpfCollector:
    return EbpfCollector([1], put=events.append, agent_of=lambda pid: "a", run_dir=tmp_path,
                         warn=warnings.append, detector=lambda: Availability(True,
                                                                              bpftrace=bpftrace),
                         **kw)  # type: ignore[arg-type]


def _records(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "ebpf.jsonl").read_text().splitlines()]


def test_missing_bpftrace_says_what_to_install(tmp_path: Path) -> None:
    """Without the binary the reason names the package, and the collector does not start."""
    warnings: list[str] = []
    unavailable = Availability(False, "bpftrace not found", "apt-get install bpftrace")
    collector = EbpfCollector([1], put=lambda e: None, agent_of=str, run_dir=tmp_path,
                              warn=warnings.append, detector=lambda: unavailable)
    assert collector.start() is False
    assert warnings == ["eBPF unavailable: bpftrace not found. Fix: apt-get install bpftrace. "
                        "Falling back to /proc (run-queue wait, context switches)."]


def test_detect_reports_privileges_and_tracefs(tmp_path: Path) -> None:
    """A failing dry run asks for root or CAP_BPF+CAP_PERFMON; no tracefs asks to mount it."""
    def denied(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "ERROR: permission denied")

    def fine(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 0, "bpftrace v0.17.0", "")

    def found(name: str) -> str:
        return f"/usr/bin/{name}"   # the dry runs above are scripted: no bpftrace needed

    btf = tmp_path / "vmlinux"
    btf.write_text("")
    assert "CAP_BPF and CAP_PERFMON" in detect(denied, btf=str(btf), find=found).fix
    no_tracefs = detect(fine, btf=str(btf), tracefs=[str(tmp_path / "none")], find=found)
    assert not no_tracefs.ok and "mount -t tracefs" in no_tracefs.fix
    assert not detect(fine, btf=str(tmp_path / "missing"), find=found).ok
    assert detect(fine, btf=str(btf), tracefs=[str(tmp_path)], find=found).ok


@pytest.mark.parametrize(("body", "expected"), [
    ("print('Attaching 3 probes...', flush=True); time.sleep(30)", "not JSON"),
    ("sys.stderr.write('ERROR: tracepoint not found: sched:nope\\n'); sys.exit(1)",
     "exited with status 1: ERROR: tracepoint not found"),
    ("print('{\"type\": \"printf\", \"data\": \"kaizen-perf: tracing\"}', flush=True);"
     " time.sleep(0.3); sys.exit(-1 % 256)", "exited with status 255"),
])
def test_a_broken_bpftrace_is_one_error_and_no_hang(tmp_path: Path, body: str,
                                                    expected: str) -> None:
    """Junk output, an early failure or a crash after attaching: one warning, stream ended."""
    warnings: list[str] = []
    collector = _collector(tmp_path, _fake_bpftrace(tmp_path, body), warnings, [])
    assert collector.start()
    collector.wait_attached(10)
    for stream in collector._streams.values():
        assert stream.ended.wait(10)
    collector.stop(timeout_s=2)
    assert len(warnings) == 1 and expected in warnings[0], warnings
    assert any(r["type"] == "error" for r in _records(tmp_path))


def test_a_bpftrace_that_never_attaches_is_stopped_at_the_deadline(tmp_path: Path) -> None:
    """No attached_probes before the deadline: the process is killed and the run goes on."""
    warnings: list[str] = []
    collector = _collector(tmp_path, _fake_bpftrace(tmp_path, "time.sleep(60)"), warnings, [],
                           attach_timeout_s=0.5)
    collector.start()
    assert collector.wait_attached(5) is False
    collector.stop(timeout_s=2)
    assert len(warnings) == 1 and "did not attach its probes within 0.5 s" in warnings[0]


def test_windows_from_the_stream_become_events(tmp_path: Path) -> None:
    """Each window's maps reach the pipeline as per-agent events (run-queue stays procfs)."""
    lines = [{"type": "attached_probes", "data": {"probes": 4}},
             {"type": "printf", "data": "kaizen-perf: tracing\n"},
             {"type": "map", "data": {"@offcpu_blocked_ns": {"1": 2_000_000_000}}},
             {"type": "map", "data": {"@offcpu_runq_ns": {"1": 3}}},
             {"type": "map", "data": {"@kaizen_window": 1}}]
    body = "".join(f"print({json.dumps(json.dumps(x))}, flush=True)\n" for x in lines)
    events: list[Event] = []
    collector = _collector(tmp_path, _fake_bpftrace(tmp_path, body), [], events)
    collector.start()
    assert collector.wait_attached(10)
    assert collector._streams["main"].ended.wait(10)  # the stand-in exits after its window
    collector.stop(timeout_s=5)
    assert [(e.metric, e.label) for e in events if isinstance(e, KernelCounter)] == [
        ("kaizen_offcpu_seconds_total", "blocked")]
    assert len(events) == 1
    kinds = [r["type"] for r in _records(tmp_path)]
    assert kinds == ["start", "attached", "window", "summary"]
