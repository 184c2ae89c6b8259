"""Traces: the trace sink and sampler and trace context for subprocesses (``sink``), span
building (``spans``) and the GenAI names (``genai``).

What the former ``kaizen_perf.tracing`` module had public is re-exported here
(``child_env``, ``propagate_to_subprocesses`` are documented).
"""

from __future__ import annotations

from kaizen_perf.tracing.sink import (
    Sampler,
    TraceSink,
    child_env,
    exporter_kinds,
    make_exporter,
    propagate_to_subprocesses,
    resource_for,
    stop_propagating_to_subprocesses,
    trace_sink,
)

__all__ = ["Sampler", "TraceSink", "child_env", "exporter_kinds", "make_exporter",
           "propagate_to_subprocesses", "resource_for",
           "stop_propagating_to_subprocesses", "trace_sink"]
