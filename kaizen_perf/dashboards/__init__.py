"""Grafana dashboards as code: *Agent overview*, *Tools and LLM APIs*, *Resources and autonomy*.

Panels are declared as data (:mod:`.model`) with PromQL built only from names in
:data:`kaizen_perf.metrics.METRICS` (:mod:`.promql`), rendered to Grafana JSON with
grafana-foundation-sdk (:mod:`.build`) and written by ``kaizen-perf dashboards export``.
Importing this package does not import the SDK; :func:`render` and :func:`export` do.
"""

from __future__ import annotations

from pathlib import Path

from kaizen_perf.dashboards import overview, resources, tools
from kaizen_perf.dashboards.model import DashboardSpec
from kaizen_perf.errors import ConfigError

DASHBOARDS: tuple[DashboardSpec, ...] = (overview.DASHBOARD, tools.DASHBOARD, resources.DASHBOARD)


def render() -> dict[str, str]:
    """Every dashboard's JSON text by file name."""
    from kaizen_perf.dashboards.build import to_json

    return {spec.filename: to_json(spec) for spec in DASHBOARDS}


def export(directory: str | Path) -> list[Path]:
    """Write every dashboard into ``directory`` (created if needed); returns the paths."""
    out = Path(directory)
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in render().items():
            path = out / name
            path.write_text(text, "utf-8")
            written.append(path)
    except OSError as exc:
        msg = (f"Cannot write dashboards to {str(out)!r}: {exc.strerror}. "
               "Choose a writable directory.")
        raise ConfigError(msg) from None
    return written
