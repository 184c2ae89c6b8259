"""The *Resources and autonomy* dashboard: what the agent costs the machine, how autonomous it
is (permissions, checkpoints, hooks, interrupts, control requests) and what kaizen-perf costs."""

from __future__ import annotations

from kaizen_perf.dashboards.model import DashboardSpec, PanelSpec, RowSpec, panel, q
from kaizen_perf.dashboards.promql import gauge, mean, quantile, rate

#: The Pyroscope profile type pyroscope-io pushes for on-CPU samples.
PYROSCOPE_PROFILE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
_PERMS = "kaizen_permission_checks_total"
_CONTROL = "kaizen_control_requests_total"


def _process_row() -> RowSpec:
    return RowSpec("Process (psutil, every run/attach)", (
        panel("CPU", "How many CPU cores does each agent's process tree use, user vs system?",
              "percentunit",
              q(rate("kaizen_process_cpu_seconds_total", ["agent", "mode"]),
                "{{agent}} {{mode}}")),
        panel("Resident memory", "How much memory does each agent hold now, and at its peak? "
              "(A steady climb is a leak.)", "bytes",
              q(gauge("kaizen_process_resident_memory_bytes", ["agent"]), "{{agent}} RSS"),
              q(gauge("kaizen_process_peak_resident_memory_bytes", ["agent"]), "{{agent}} peak")),
        panel("Disk and pipe I/O", "How many bytes per second does each agent read and write?",
              "Bps", q(rate("kaizen_process_io_bytes_total", ["agent", "direction"]),
                       "{{agent}} {{direction}}")),
        panel("Threads and file descriptors", "How many OS threads and open files does each "
              "agent have? (Steady growth is a leak.)", "short",
              q(gauge("kaizen_process_threads", ["agent"]), "{{agent}} threads"),
              q(gauge("kaizen_process_open_fds", ["agent"]), "{{agent}} fds")),
        panel("Off-CPU time", "How much of each second does the agent spend blocked, or "
              "runnable but waiting for a CPU?", "percentunit",
              q(rate("kaizen_offcpu_seconds_total", ["agent", "kind"]), "{{agent}} {{kind}}")),
    ))


def _kernel_row() -> RowSpec:
    return RowSpec("Kernel latency (eBPF: kaizen-perf run --ebpf)", (
        panel("Syscall latency p95", "Which system calls keep the agent waiting?", "s",
              q(quantile(0.95, "kaizen_syscall_duration_seconds", ["agent", "syscall"]),
                "{{agent}} {{syscall}}"), width=6),
        panel("Block I/O latency p95", "How long do the agent's disk reads and writes take in "
              "the kernel?", "s",
              q(quantile(0.95, "kaizen_block_io_duration_seconds", ["agent", "op"]),
                "{{agent}} {{op}}"), width=6),
        panel("TCP connect latency p95", "How long does opening a connection (LLM API, tools) "
              "take?", "s",
              q(quantile(0.95, "kaizen_tcp_connect_duration_seconds", ["agent"]), "{{agent}}"),
              width=6),
        panel("TCP retransmits", "Is the network losing packets on the agent's connections?",
              "pps", q(rate("kaizen_tcp_retransmits_total", ["agent"]), "{{agent}}"), width=6),
    ))


def _autonomy_row() -> RowSpec:
    ckpt = "kaizen_checkpoint_duration_seconds"
    return RowSpec("Autonomy", (
        panel("Permission approval rate", "Which share of permission checks was approved?",
              "percentunit",
              q(f"{rate(_PERMS, ['agent'], {'decision': 'approved'})} / {rate(_PERMS, ['agent'])}",
                "{{agent}}")),
        panel("Permission denials by reason", "Which tools are denied, why, and how often?",
              "ops", q(rate("kaizen_permission_denials_total", ["agent", "tool", "reason"]),
                       "{{agent}} {{tool}}: {{reason}}")),
        panel("Checkpoint latency p95", "How long does saving or loading state take?", "s",
              q(quantile(0.95, ckpt, ["agent", "op"]), "{{agent}} {{op}}")),
        panel("Checkpoint size", "How big is a checkpoint, on average? (Growth slows every "
              "save.)", "bytes",
              q(mean("kaizen_checkpoint_size_bytes", ["agent", "op"]), "{{agent}} {{op}}")),
        panel("Hook latency p95", "Which hooks add latency around tool calls?", "s",
              q(quantile(0.95, "kaizen_hook_duration_seconds", ["agent", "hook"]),
                "{{agent}} {{hook}}")),
        panel("Interrupts", "How often is the agent interrupted, gracefully or immediately?",
              "ops", q(rate("kaizen_interrupts_total", ["agent", "kind"]), "{{agent}} {{kind}}")),
        panel("Control-protocol timeouts", "Which share of control requests (approvals, "
              "resumes) timed out?", "percentunit",
              q(f"{rate(_CONTROL, ['agent', 'kind'], {'outcome': 'timeout'})} / "
                f"{rate(_CONTROL, ['agent', 'kind'])}", "{{agent}} {{kind}}"), width=24),
    ))


def _self_row() -> RowSpec:
    # Self-metrics describe the monitoring process (one per /metrics endpoint), not an agent.
    return RowSpec("kaizen-perf itself", (
        panel("Overhead", "Which share of the process's CPU does kaizen-perf's dispatcher use, "
              "and how many cores do its profilers (py-spy, bpftrace) use?", "percentunit",
              q(gauge("kaizen_perf_overhead_ratio", ["instance"]), "dispatcher {{instance}}"),
              q(rate("kaizen_perf_profiler_cpu_seconds_total", ["instance", "profiler"]),
                "{{profiler}} {{instance}}"), width=8),
        panel("Dropped events", "Is the event buffer overflowing (events lost)?", "ops",
              q(rate("kaizen_perf_events_dropped_total", ["instance", "sink"]),
                "{{sink}} {{instance}}"), width=8),
        panel("Export errors", "Are deliveries to sinks and exporters failing?", "ops",
              q(rate("kaizen_perf_export_errors_total", ["instance", "exporter"]),
                "{{exporter}} {{instance}}"), width=8),
    ))


def _profile_row() -> RowSpec:
    flame: PanelSpec = panel(
        "On-CPU flame graph (Pyroscope)", "Which functions use the CPU? Needs a Pyroscope data "
        "source and `kaizen-perf run --pyroscope URL` (or KAIZEN_PERF_PYROSCOPE_URL).", "ns",
        q('{service_name=~"$agent"}'), kind="flamegraph", width=24, height=12)
    return RowSpec("Profiles", (flame,))


DASHBOARD = DashboardSpec(
    uid="kaizen-resources", title="Kaizen agents: resources and autonomy",
    description="CPU, memory, I/O, kernel latency, permissions, checkpoints, hooks, interrupts, "
                "control requests and kaizen-perf's own cost.",
    rows=(_process_row(), _kernel_row(), _autonomy_row(), _self_row(), _profile_row()),
)
