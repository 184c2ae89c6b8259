"""Read a monitor's exposition back through prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from kaizen_perf import Monitor


def samples(text_or_mon: str | Monitor) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample as {(name, labels): value}."""
    text = text_or_mon if isinstance(text_or_mon, str) else text_or_mon.export_metrics()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text_or_mon: str | Monitor, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return samples(text_or_mon).get((name, frozenset(labels.items())), 0.0)
