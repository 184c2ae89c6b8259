"""The end-of-run summary: per agent CPU, memory, I/O, tools, cost and hottest functions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

from kaizen_perf.metrics import Family
from kaizen_perf.metrics.summary import cost_text, label_values, stats, total
from kaizen_perf.profiles.folded import Profile, top_functions
from kaizen_perf.report import breakdown


class _Collector(Protocol):
    def agents(self) -> list[str]: ...
    def average_rss(self, agent: str) -> float: ...


def build_summary(fams: dict[str, Family], collector: _Collector, profile: Any,
                  by_agent: dict[str, Profile] | None = None) -> dict[str, Any]:
    """A JSON-ready summary per agent (read with the pipeline lock held); ``by_agent`` holds
    each agent's stack samples, for its top functions."""
    agents = sorted(set(collector.agents())
                    | set(label_values(fams["kaizen_agent_loop_iterations_total"], "agent"))
                    | set(label_values(fams["kaizen_tool_calls_total"], "agent")))
    out: dict[str, Any] = {"agents": {a: _agent(fams, collector, a) for a in agents}}
    for agent, part in (by_agent or {}).items():
        if agent in out["agents"]:
            out["agents"][agent]["top_functions"] = top_functions(part, 5)
    if profile is not None:
        out["profile"] = {"available": profile.available, "reason": profile.reason,
                          "samples": profile.samples, "cpu_seconds": profile.cpu_seconds,
                          "own_samples": profile.own.samples,
                          "top_functions": list(profile.top_functions[:5])}
    return out


def _agent(fams: dict[str, Family], collector: _Collector, agent: str) -> dict[str, Any]:
    a = {"agent": agent}
    tools = fams["kaizen_tool_duration_seconds"]
    tool_rows = {}
    for tool in label_values(tools, "tool"):
        s = stats(tools, {"agent": agent, "tool": tool})
        if s.count:
            errors = total(fams["kaizen_tool_calls_total"],
                           {"agent": agent, "tool": tool, "status": "error"})
            tool_rows[tool] = {"calls": s.count, "errors": int(errors), "p50_s": _f(s.p50),
                               "p95_s": _f(s.p95), "p99_s": _f(s.p99)}
    return {
        "cpu_seconds": total(fams["kaizen_process_cpu_seconds_total"], a),
        "peak_rss_bytes": total(fams["kaizen_process_peak_resident_memory_bytes"], a),
        "avg_rss_bytes": collector.average_rss(agent),
        "io_read_bytes": total(fams["kaizen_process_io_bytes_total"], {**a, "direction": "read"}),
        "io_write_bytes": total(fams["kaizen_process_io_bytes_total"],
                                {**a, "direction": "write"}),
        "loop_iterations": int(total(fams["kaizen_agent_loop_iterations_total"], a)),
        "tools": tool_rows,
        "tool_cost": _tool_cost(fams["kaizen_tool_cost_usd_total"], agent),
        "api_requests": int(total(fams["kaizen_api_requests_total"], a)),
        **_cost(fams, a),
        "models": _models(fams, agent),
        "non_python": _non_python(collector, agent),
        "time": _time(fams, agent),
    }


def _time(fams: dict[str, Family], agent: str) -> dict[str, Any]:
    """Where the agent's time went, from its hooks: seconds waiting on LLM calls and in each
    tool (the sums of their durations), with what each cost."""
    a = {"agent": agent}
    tools: dict[str, Any] = {}
    for tool in label_values(fams["kaizen_tool_duration_seconds"], "tool"):
        m = {**a, "tool": tool}
        if stats(fams["kaizen_tool_duration_seconds"], m).count:
            tools[tool] = {"seconds": _seconds(fams["kaizen_tool_duration_seconds"], m),
                           "cost_usd": total(fams["kaizen_tool_cost_usd_total"], m)}
    return {"llm_s": _seconds(fams["kaizen_api_request_duration_seconds"], a), "tools": tools}


def _seconds(fam: Family, match: dict[str, str]) -> float:
    """A histogram's sum over the series matching ``match``: the ``_sum`` /metrics shows
    (``kaizen-perf top`` reads it there)."""
    idx = {name: i for i, name in enumerate(fam.spec.labels)}
    return sum(float(slot[-1]) for key, slot in fam.series.items()
               if all(key[idx[k]] == v for k, v in match.items()))


def _non_python(collector: _Collector, agent: str) -> list[str]:
    """Names of the agent's processes that are not Python (e.g. the Claude Agent SDK's
    ``claude`` CLI): counted in its process figures, never sampled by py-spy."""
    names = getattr(collector, "name_of_pid", {})
    agents = getattr(collector, "agent_of_pid", {})
    return sorted({n for pid, n in names.items()
                   if agents.get(pid) == agent and not n.lower().startswith(("python", "pypy"))
                   and n not in ("sh", "bash", "dash", "?")})


def _cost(fams: dict[str, Family], match: dict[str, str]) -> dict[str, Any]:
    """The cost of the calls matching ``match``: ``cost_usd`` is None (unknown) when any had
    no price; ``priced_cost_usd`` is the part that had one."""
    priced = total(fams["kaizen_api_cost_usd_total"], match)
    unpriced = int(total(fams["kaizen_api_unpriced_requests_total"], match))
    return {"cost_usd": None if unpriced else priced, "priced_cost_usd": priced,
            "unpriced_requests": unpriced}


def _models(fams: dict[str, Family], agent: str) -> dict[str, Any]:
    """Requests, tokens by type and cost per model (cost None when the model is unpriced)."""
    requests = fams["kaizen_api_requests_total"]
    out: dict[str, Any] = {}
    for model in label_values(requests, "model"):
        m = {"agent": agent, "model": model}
        n = int(total(requests, m))
        if not n:
            continue
        row: dict[str, Any] = {"requests": n}
        for kind in ("input", "output", "cache_read", "cache_write"):
            row[kind] = int(total(fams["kaizen_api_tokens_total"], {**m, "type": kind}))
        row.update(_cost(fams, m))
        out[model] = row
    return out


def _f(value: float) -> float | None:
    return None if math.isnan(value) else value


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def render_summary(summary: dict[str, Any], run_path: Path, *, exit_status: int | None) -> str:
    """The human-readable summary printed at the end of a run; ``exit_status`` is None for
    ``attach``, which cannot know the status of a process it did not start."""
    lines = [f"\nkaizen-perf run summary (exit status {exit_status})" if exit_status is not None
             else "\nkaizen-perf attach summary"]
    for agent, s in summary["agents"].items():
        lines.append(f"\nagent {agent}: CPU {s['cpu_seconds']:.2f} s, peak RSS "
                     f"{_mb(s['peak_rss_bytes'])} (avg {_mb(s['avg_rss_bytes'])}), I/O read "
                     f"{_mb(s['io_read_bytes'])} / write {_mb(s['io_write_bytes'])}")
        if s["loop_iterations"] or s["api_requests"]:
            cost = cost_text(s.get("priced_cost_usd", s["cost_usd"]), s["unpriced_requests"])
            lines.append(f"  loop iterations {s['loop_iterations']}, LLM requests "
                         f"{s['api_requests']}, cost {cost}")
        if s.get("non_python"):
            one = len(s["non_python"]) == 1
            lines.append(f"  includes {', '.join(s['non_python'])}: "
                         + ("not a Python process, so py-spy cannot sample it; its" if one
                            else "not Python processes, so py-spy cannot sample them; their")
                         + " CPU, memory and I/O are counted above")
        lines += breakdown.text_lines(s, summary.get("wall_s"))
        for tool, row in sorted(s["tools"].items(), key=lambda kv: -kv[1]["calls"])[:8]:
            p95 = "n/a" if row["p95_s"] is None else f"{row['p95_s'] * 1e3:.1f} ms"
            lines.append(f"  tool {tool:20} calls {row['calls']:6d}  errors {row['errors']:4d}"
                         f"  p95 {p95}")
        if len(summary["agents"]) > 1 and s.get("top_functions"):
            lines.append("  top functions: " + ", ".join(
                f"{name} ({n})" for name, n in s["top_functions"]))
    prof = summary.get("profile")
    if prof is not None:
        if prof["available"]:
            kinds = prof.get("kinds") or []
            kind = {"cpu": "on-CPU, ", "wall": "wall-clock, "}.get(kinds[0], "") if kinds else ""
            lines.append(f"\nhottest functions ({kind}{prof['samples']} samples; py-spy's own "
                         f"CPU overhead {prof['cpu_seconds']:.2f} s):")
            lines += [f"  {n:6d}  {name}" for name, n in prof["top_functions"]]
            own = prof.get("own_samples", 0)
            if own:
                lines.append(f"  (kaizen-perf's own threads: {own} samples, not counted above;"
                             " --profile-own keeps them)")
            if len(kinds) > 1:
                lines.append("  the wall-clock profile (waits included) is in profiles/wall/ "
                             "and in the report's profile menu")
        else:
            lines.append(f"\nno stack profile: {prof['reason']}")
    lines.append(f"\nrun directory: {run_path}")
    return "\n".join(lines) + "\n"


def _tool_cost(fam: Family, agent: str) -> dict[str, float]:
    """Dollars per tool, ``reasoning`` included (every priced dollar once: see
    :mod:`kaizen_perf.cost.attribution`), costliest first."""
    costs = {t: total(fam, {"agent": agent, "tool": t}) for t in label_values(fam, "tool")}
    return dict(sorted(((t, c) for t, c in costs.items() if c > 0), key=lambda kv: -kv[1]))
