"""PromQL built only from :data:`kaizen_perf.metrics.METRICS`: a rename breaks generation.

Every helper takes a metric *family name*, looks it up in the table, and checks
the suffix (``_bucket``/``_count``/``_sum`` only on histograms), the label
matchers and the ``by`` labels against the family's declared labels. The
dashboard variables ``$agent``, ``$model`` and ``$tool`` are applied to every
selector whose family has that label, so filtering is uniform across panels.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from kaizen_perf.errors import ConfigError
from kaizen_perf.metrics import METRICS, MetricSpec

#: Grafana substitutes this with a window of at least four scrape intervals.
RATE = "$__rate_interval"
#: The dashboard's whole time range (for totals such as cost per task).
RANGE = "$__range"
#: Labels Prometheus adds to every series of a target (static or file_sd target labels).
TARGET_LABELS = frozenset({"instance", "job", "run_id"})
#: Dashboard variable of each filterable label.
VARIABLES = {"agent": "$agent", "model": "$model", "tool": "$tool"}
_SUFFIXES = {"counter": ("",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def spec(name: str) -> MetricSpec:
    """The table entry of ``name``; a ConfigError names the missing metric."""
    try:
        return METRICS[name]
    except KeyError:
        msg = (f"Dashboard query uses metric {name!r}, which is not in kaizen_perf.metrics.METRICS."
               " Use a name from the table (it may have been renamed) and regenerate.")
        raise ConfigError(msg) from None


def _check_labels(s: MetricSpec, labels: Sequence[str], extra: frozenset[str]) -> None:
    unknown = [label for label in labels if label not in s.labels and label not in extra]
    if unknown:
        msg = (f"Dashboard query uses label(s) {unknown} of {s.name}, which has labels "
               f"{list(s.labels)}. Use the table's labels and regenerate.")
        raise ConfigError(msg)


def selector(name: str, suffix: str = "", match: Mapping[str, str] | None = None, *,
             unfiltered: Collection[str] = ()) -> str:
    """``name{agent=~"$agent",…}``: variables for the family's labels (except ``unfiltered``),
    then ``match``."""
    s = spec(name)
    if suffix not in _SUFFIXES[s.kind]:
        msg = (f"{name} is a {s.kind}: suffix {suffix!r} does not exist; "
               f"use one of {list(_SUFFIXES[s.kind])}.")
        raise ConfigError(msg)
    match = dict(match or {})
    _check_labels(s, list(match), frozenset())
    parts = [f'{label}=~"{var}"' for label, var in VARIABLES.items()
             if label in s.labels and label not in unfiltered]
    parts += [f'{k}=~"{v}"' if "|" in v else f'{k}="{v}"' for k, v in match.items()]
    return f"{name}{suffix}{{{','.join(parts)}}}" if parts else f"{name}{suffix}"


def _by(name: str, by: Sequence[str]) -> str:
    s = spec(name)
    _check_labels(s, by, TARGET_LABELS | {"le"} if s.kind == "histogram" else TARGET_LABELS)
    return ", ".join(by)


def rate(name: str, by: Sequence[str], match: Mapping[str, str] | None = None, *,
         suffix: str = "", window: str = RATE) -> str:
    """Per-second rate of a counter (or a histogram's ``_count``/``_sum``), summed by ``by``."""
    return f"sum by ({_by(name, by)}) (rate({selector(name, suffix, match)}[{window}]))"


def increase(name: str, by: Sequence[str], match: Mapping[str, str] | None = None, *,
             suffix: str = "", window: str = RANGE) -> str:
    """Increase of a counter over ``window`` (default: the dashboard range), summed by ``by``."""
    return f"sum by ({_by(name, by)}) (increase({selector(name, suffix, match)}[{window}]))"


def quantile(q: float, name: str, by: Sequence[str], match: Mapping[str, str] | None = None,
             ) -> str:
    """The ``q`` quantile of a histogram over the rate window, per ``by`` group."""
    if spec(name).kind != "histogram":
        msg = f"histogram_quantile needs a histogram; {name} is a {spec(name).kind}."
        raise ConfigError(msg)
    inner = rate(name, ("le", *by), match, suffix="_bucket")
    return f"histogram_quantile({q}, {inner})"


def mean(name: str, by: Sequence[str], match: Mapping[str, str] | None = None) -> str:
    """Mean observation of a histogram over the rate window (``_sum`` rate / ``_count`` rate)."""
    return f"{rate(name, by, match, suffix='_sum')} / {rate(name, by, match, suffix='_count')}"


def gauge(name: str, by: Sequence[str], match: Mapping[str, str] | None = None, *,
          agg: str = "max") -> str:
    """A gauge aggregated by ``by`` (``max`` by default: one process, one value)."""
    if spec(name).kind != "gauge":
        msg = f"{name} is a {spec(name).kind}, not a gauge: use rate() or increase()."
        raise ConfigError(msg)
    return f"{agg} by ({_by(name, by)}) ({selector(name, '', match)})"


def buckets(name: str, match: Mapping[str, str] | None = None) -> str:
    """Bucket increases per ``le`` for a heatmap panel (format "heatmap")."""
    if spec(name).kind != "histogram":
        msg = f"A heatmap needs a histogram; {name} is a {spec(name).kind}."
        raise ConfigError(msg)
    return increase(name, ("le",), match, suffix="_bucket", window=RATE)
