"""Settings: one frozen dataclass, resolved once.

Precedence for every field: explicit argument > ``KAIZEN_PERF_*`` environment
variable > default. Each variable name is a constant below and is listed in
``docs/configuration.md`` (a test keeps the two in step). A value that cannot be
used raises :class:`~kaizen_perf.errors.ConfigError` naming the variable (or
argument), the value, and the expected form.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kaizen_perf._validate import cut
from kaizen_perf.errors import ConfigError

N = TypeVar("N", int, float)

ENV_AGENT_ID = "KAIZEN_PERF_AGENT_ID"
ENV_ENABLED = "KAIZEN_PERF_ENABLED"
ENV_STRICT = "KAIZEN_PERF_STRICT"
ENV_BUFFER_SIZE = "KAIZEN_PERF_BUFFER_SIZE"
ENV_FLUSH_INTERVAL = "KAIZEN_PERF_FLUSH_INTERVAL"
ENV_SERIES_CAP = "KAIZEN_PERF_SERIES_CAP"
ENV_SHUTDOWN_TIMEOUT = "KAIZEN_PERF_SHUTDOWN_TIMEOUT"
ENV_METRICS_ADDR = "KAIZEN_PERF_METRICS_ADDR"
ENV_TLS_CERT = "KAIZEN_PERF_TLS_CERT"
ENV_TLS_KEY = "KAIZEN_PERF_TLS_KEY"
ENV_TLS_CLIENT_CA = "KAIZEN_PERF_TLS_CLIENT_CA"
ENV_PRICING_FILE = "KAIZEN_PERF_PRICING_FILE"
ENV_READY_BACKLOG = "KAIZEN_PERF_READY_BACKLOG"
ENV_FORWARD_SOCKET = "KAIZEN_PERF_FORWARD_SOCKET"
ENV_PYROSCOPE_URL = "KAIZEN_PERF_PYROSCOPE_URL"
ENV_BUDGET_USD = "KAIZEN_PERF_BUDGET_USD"
ENV_BUDGET_HARD_STOP = "KAIZEN_PERF_BUDGET_HARD_STOP"
ENV_ALERTS = "KAIZEN_PERF_ALERTS"
ENV_ALERT_RULES = "KAIZEN_PERF_ALERT_RULES"
ENV_ALERT_WEBHOOK = "KAIZEN_PERF_ALERT_WEBHOOK"
ENV_STUCK_AFTER = "KAIZEN_PERF_STUCK_AFTER_S"
#: the stuck rule's default threshold: the one source for the rule, the setting and `top`
STUCK_AFTER_S = 600.0
ENV_LOOP_REPEATS = "KAIZEN_PERF_LOOP_REPEATS"
ENV_AUDIT_URL = "KAIZEN_PERF_AUDIT_URL"
ENV_AUDIT_KEY = "KAIZEN_PERF_AUDIT_KEY"
ENV_AUDIT_POLICY = "KAIZEN_PERF_AUDIT_POLICY"
ENV_AUDIT_RETENTION_DAYS = "KAIZEN_PERF_AUDIT_RETENTION_DAYS"
ENV_AUDIT_AUTO = "KAIZEN_PERF_AUDIT_AUTO"
ENV_TRACES = "KAIZEN_PERF_TRACES"
ENV_OTLP_ENDPOINT = "KAIZEN_PERF_OTLP_ENDPOINT"
ENV_OTLP_METRICS = "KAIZEN_PERF_OTLP_METRICS"
ENV_EXPORT_TIMEOUT = "KAIZEN_PERF_EXPORT_TIMEOUT"
ENV_TRACE_SAMPLE_RATIO = "KAIZEN_PERF_TRACE_SAMPLE_RATIO"
ENV_SLOW_THRESHOLD = "KAIZEN_PERF_SLOW_THRESHOLD_S"
ENV_PROPAGATE_SUBPROCESS = "KAIZEN_PERF_PROPAGATE_SUBPROCESS"
ENV_LOG_EVENTS = "KAIZEN_PERF_LOG_EVENTS"
ENV_LOG_FILE = "KAIZEN_PERF_LOG_FILE"
ENV_LOG_RETENTION_DAYS = "KAIZEN_PERF_LOG_RETENTION_DAYS"
ENV_STATSD_ADDR = "KAIZEN_PERF_STATSD_ADDR"
ENV_STATSD_PREFIX = "KAIZEN_PERF_STATSD_PREFIX"
ENV_STATSD_TAGS = "KAIZEN_PERF_STATSD_TAGS"


# -- parsers: str -> value, raising ValueError with the expected form ---------

def _parse_str(raw: str) -> str:
    if not raw.strip():
        raise ValueError("a non-empty string")
    return raw.strip()


def _parse_label(raw: str) -> str:
    """A name used as a label value everywhere (the agent id): cut to 256 characters, and
    encodable (an undecodable byte in the environment arrives as a lone surrogate, which
    would make every /metrics scrape fail)."""
    return cut(_parse_str(raw))


def _parse_bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError("one of 1, 0, true, false, yes, no, on, off")


def _number(convert: Callable[[str], N], ok: Callable[[N], bool],
            expected: str) -> Callable[[str], N]:
    """A parser of one number: ``convert`` the text, keep the value only if ``ok``.

    Both failures raise the same ``expected`` form, so a message never depends on
    whether the text was not a number or a number out of range.
    """
    def parse(raw: str) -> N:
        try:
            value = convert(raw)
        except (TypeError, ValueError):
            raise ValueError(expected) from None
        if not ok(value):
            raise ValueError(expected)
        return value
    return parse


def _finite_positive(value: float) -> bool:
    # float() accepts "inf" and "nan"; neither is a usable duration or amount of money.
    return math.isfinite(value) and value > 0


_positive_int = _number(int, lambda v: v > 0, "a whole number greater than 0")
# Two calls are the least that can repeat; 1 would flag every call as a loop.
_loop_repeats = _number(int, lambda v: v >= 2, "a whole number of 2 or more")
_positive_float = _number(float, _finite_positive,
                          "a number of seconds greater than 0, such as 0.5")
_positive_usd = _number(float, _finite_positive,
                        "a number of US dollars greater than 0, such as 25.0")
# A backlog of 0 would make /readyz never ready; a sample ratio of 0 is a valid "keep none".
_fraction = _number(float, lambda v: 0 < v <= 1, "a fraction between 0 and 1, such as 0.9")
_ratio = _number(float, lambda v: 0 <= v <= 1, "a fraction from 0 to 1, such as 0.1")


def _parse_url(raw: str) -> str:
    if not raw.strip().startswith(("http://", "https://")):
        raise ValueError("an http:// or https:// URL, such as http://127.0.0.1:9000/alerts")
    return raw.strip()


def _audit_url(raw: str) -> str:
    url = raw.strip()
    if not url.startswith(("sqlite:///", "jsonl:///", "postgresql://", "postgres://")):
        raise ValueError("sqlite:///PATH, jsonl:///DIR or postgresql://USER@HOST/DB")
    return url


def _audit_key(raw: str) -> str:
    if len(raw.encode()) < 16:
        raise ValueError("a secret of at least 16 bytes, such as 64 random hex digits")
    return raw


def _audit_policy(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("deny", "wait", "degrade"):
        raise ValueError("one of deny, wait, degrade")
    return value


def _audit_auto(raw: str) -> str:
    kinds = [k.strip().lower() for k in raw.split(",") if k.strip()]
    allowed = ("tool", "permission", "checkpoint", "interrupt", "api_call")
    if kinds == ["none"]:
        return "none"
    if not kinds or any(k not in allowed for k in kinds):
        raise ValueError(f"a comma-separated list of {', '.join(allowed)}, or none")
    return ",".join(kinds)


def parse_addr(raw: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (``:PORT`` means 127.0.0.1; port 0 picks a free one)."""
    host, sep, port = str(raw).rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError("HOST:PORT such as 127.0.0.1:9464 (':0' picks a free port)")
    return (host.strip("[]") or "127.0.0.1", int(port))


def _parse_addr_str(raw: str) -> str:
    host, port = parse_addr(raw)
    return f"{host}:{port}"


def _traces(raw: str) -> str:
    kinds = [k.strip().lower() for k in raw.split(",") if k.strip()]
    if not kinds or any(k not in ("otlp", "console", "memory", "none") for k in kinds):
        raise ValueError("a comma-separated list of otlp, console, memory or none")
    return ",".join(kinds)


def _log_events(raw: str) -> str:
    low = raw.strip().lower()
    if low not in ("off", "errors", "all"):
        raise ValueError("one of off, errors, all")
    return low


def _spec(env: str, parse: Callable[[str], Any], doc: str) -> dict[str, Any]:
    return {"env": env, "parse": parse, "doc": doc}


@dataclass(frozen=True)
class Settings:
    """Everything kaizen-perf can be told, resolved once at construction."""

    agent_id: str = field(default="agent", metadata=_spec(
        ENV_AGENT_ID, _parse_label, "Agent name used as the `agent` label everywhere."))
    enabled: bool = field(default=True, metadata=_spec(
        ENV_ENABLED, _parse_bool, "Turn every hook into a no-op when false."))
    strict: bool = field(default=False, metadata=_spec(
        ENV_STRICT, _parse_bool,
        "Raise ValueError from hooks on invalid input instead of counting it (for tests)."))
    buffer_size: int = field(default=65_536, metadata=_spec(
        ENV_BUFFER_SIZE, _positive_int,
        "Events held between the hot path and the dispatcher; overflow is dropped and counted."))
    flush_interval_s: float = field(default=0.1, metadata=_spec(
        ENV_FLUSH_INTERVAL, _positive_float,
        "How often the dispatcher drains the buffer, seconds."))
    series_cap: int = field(default=10_000, metadata=_spec(
        ENV_SERIES_CAP, _positive_int,
        "Label series per metric before new values fold into `__overflow__`."))
    shutdown_timeout_s: float = field(default=5.0, metadata=_spec(
        ENV_SHUTDOWN_TIMEOUT, _positive_float,
        "Deadline for shutdown and the exit hook, seconds, even with dead backends."))
    metrics_addr: str | None = field(default=None, metadata=_spec(
        ENV_METRICS_ADDR, _parse_addr_str,
        "Serve /metrics, /healthz and /readyz on HOST:PORT (unset: no server)."))
    tls_cert: str | None = field(default=None, metadata=_spec(
        ENV_TLS_CERT, _parse_str, "PEM certificate file: serve the endpoint over HTTPS."))
    tls_key: str | None = field(default=None, metadata=_spec(
        ENV_TLS_KEY, _parse_str, "PEM private key for KAIZEN_PERF_TLS_CERT."))
    tls_client_ca: str | None = field(default=None, metadata=_spec(
        ENV_TLS_CLIENT_CA, _parse_str, "CA file: require client certificates (mTLS)."))
    pricing_file: str | None = field(default=None, metadata=_spec(
        ENV_PRICING_FILE, _parse_str,
        "TOML file of model prices, used before genai-prices and the bundled table."))
    ready_backlog: float = field(default=0.9, metadata=_spec(
        ENV_READY_BACKLOG, _fraction,
        "Buffer fill fraction above which /readyz reports not ready."))
    forward_socket: str | None = field(default=None, metadata=_spec(
        ENV_FORWARD_SOCKET, _parse_str,
        "Unix socket of a `kaizen-perf run` process to forward hook events to (set by `run`)."))
    pyroscope_url: str | None = field(default=None, metadata=_spec(
        ENV_PYROSCOPE_URL, _parse_str,
        "Pyroscope server URL: profile in-process and push, tagged by agent and tool."))
    budget_usd: float | None = field(default=None, metadata=_spec(
        ENV_BUDGET_USD, _positive_usd,
        "Budget of this agent in US dollars: alerts at 50/80/100 % (unset: no budget)."))
    budget_hard_stop: bool = field(default=False, metadata=_spec(
        ENV_BUDGET_HARD_STOP, _parse_bool,
        "At 100 % of the budget, the next hook raises BudgetExceeded in agent code."))
    alerts_enabled: bool | None = field(default=None, metadata=_spec(
        ENV_ALERTS, _parse_bool,
        "Evaluate alert rules in-process (unset: on when a webhook or rule file is set, and in "
        "`kaizen-perf run`; off otherwise, as it costs dispatcher CPU per event)."))
    alert_rules: str | None = field(default=None, metadata=_spec(
        ENV_ALERT_RULES, _parse_str, "TOML file of alert rules (unset: the built-in rules)."))
    alert_webhook: str | None = field(default=None, metadata=_spec(
        ENV_ALERT_WEBHOOK, _parse_url, "URL that receives each alert as an HTTP POST of JSON."))
    stuck_after_s: float = field(default=STUCK_AFTER_S, metadata=_spec(
        ENV_STUCK_AFTER, _positive_float,
        "Seconds without a finished loop iteration before an agent counts as stuck."))
    loop_repeats: int = field(default=3, metadata=_spec(
        ENV_LOOP_REPEATS, _loop_repeats,
        "Calls in a row of one tool with the same arguments that count as a loop "
        "(`mon.tool(name, arguments=...)`)."))
    audit_url: str | None = field(default=None, metadata=_spec(
        ENV_AUDIT_URL, _audit_url,
        "Audit store: sqlite:///PATH, jsonl:///DIR or postgresql://… "
        "(unset: sqlite:///.kaizen/audit.db)."))
    audit_key: str | None = field(default=None, repr=False, metadata=_spec(
        ENV_AUDIT_KEY, _audit_key,
        "HMAC key signing audit checkpoints (unset: a random key kept beside the trail, "
        "which does not stop someone who can read it)."))
    audit_policy: str = field(default="deny", metadata=_spec(
        ENV_AUDIT_POLICY, _audit_policy,
        "When the audit store cannot write: deny the action, wait (then deny), or degrade."))
    audit_retention_days: int = field(default=30, metadata=_spec(
        ENV_AUDIT_RETENTION_DAYS, _positive_int,
        "Audit entries older than this many days are pruned behind a signed record."))
    audit_auto: str = field(default="tool,permission,checkpoint,interrupt", metadata=_spec(
        ENV_AUDIT_AUTO, _audit_auto,
        "Hook events recorded in the audit trail automatically (comma list, or none)."))

    traces: str | None = field(default=None, metadata=_spec(
        ENV_TRACES, _traces,
        "Span exporters: otlp, console, memory or none, comma-separated (unset: the "
        "standard OTEL_TRACES_EXPORTER decides)."))
    otlp_endpoint: str | None = field(default=None, metadata=_spec(
        ENV_OTLP_ENDPOINT, _parse_url,
        "Base URL of the OTLP/HTTP receiver (unset: OTEL_EXPORTER_OTLP_ENDPOINT)."))
    otlp_metrics: bool | None = field(default=None, metadata=_spec(
        ENV_OTLP_METRICS, _parse_bool,
        "Export gen_ai.client.* metrics over OTLP (unset: OTEL_METRICS_EXPORTER=otlp decides)."))
    export_timeout_s: float = field(default=3.0, metadata=_spec(
        ENV_EXPORT_TIMEOUT, _positive_float, "Timeout of one export request, seconds."))
    trace_sample_ratio: float = field(default=1.0, metadata=_spec(
        ENV_TRACE_SAMPLE_RATIO, _ratio,
        "Fraction of traces kept; errors and slow operations are always kept."))
    slow_threshold_s: float = field(default=10.0, metadata=_spec(
        ENV_SLOW_THRESHOLD, _positive_float,
        "Spans at least this long are kept whatever the sample ratio, seconds."))
    propagate_subprocess: bool = field(default=False, metadata=_spec(
        ENV_PROPAGATE_SUBPROCESS, _parse_bool,
        "Add the current TRACEPARENT to the environment of every subprocess started."))
    log_events: str = field(default="off", metadata=_spec(
        ENV_LOG_EVENTS, _log_events, "Log hook events as JSON lines: off, errors or all."))
    log_file: str | None = field(default=None, metadata=_spec(
        ENV_LOG_FILE, _parse_str, "Write JSON logs to this file, rotated daily (unset: stderr)."))
    log_retention_days: int = field(default=30, metadata=_spec(
        ENV_LOG_RETENTION_DAYS, _positive_int, "Rotated log files older than this are deleted."))
    statsd_addr: str | None = field(default=None, metadata=_spec(
        ENV_STATSD_ADDR, _parse_addr_str, "Send metrics over UDP to a StatsD server at HOST:PORT."))
    statsd_prefix: str = field(default="kaizen", metadata=_spec(
        ENV_STATSD_PREFIX, _parse_str, "Prefix of every StatsD metric name."))
    statsd_tags: bool = field(default=False, metadata=_spec(
        ENV_STATSD_TAGS, _parse_bool,
        "DogStatsD tags (|#agent:…) instead of labels folded into the metric name."))

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Resolve every field: argument > environment variable > default."""
        env = os.environ if environ is None else environ
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            msg = (f"Unknown setting {unknown[0]!r}. "
                   f"Expected one of: {', '.join(sorted(names))}.")
            raise ConfigError(msg)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            meta = f.metadata
            if f.name in overrides and overrides[f.name] is not None:
                values[f.name] = _check_argument(f.name, overrides[f.name], meta["parse"])
            # An empty variable means unset: `VAR= cmd` is how a shell script turns a
            # setting off, and failing on it would break such scripts.
            elif meta["env"] in env and env[meta["env"]] != "":
                values[f.name] = _convert(meta["env"], env[meta["env"]], meta["parse"])
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated like arguments)."""
        checked = {k: _check_argument(k, v, _field_parser(k)) for k, v in changes.items()}
        return dataclasses.replace(self, **checked)


def _field_parser(name: str) -> Callable[[str], Any]:
    for f in dataclasses.fields(Settings):
        if f.name == name:
            return f.metadata["parse"]  # type: ignore[no-any-return]
    msg = f"Unknown setting {name!r}."
    raise ConfigError(msg)


def _convert(source: str, raw: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(raw)
    except ValueError as exc:
        msg = f"{source}={raw!r} is not valid: expected {exc}."
        raise ConfigError(msg) from None


def _check_argument(name: str, value: Any, parse: Callable[[str], Any]) -> Any:
    """Validate an explicit argument with the same rules as its variable."""
    # Booleans are checked by type, not through str(): bool is an int, so True would
    # pass as buffer_size=1, and "False" is a non-empty, truthy string.
    if isinstance(value, bool) or parse is _parse_bool:
        if not isinstance(value, bool):
            msg = f"Argument {name}={value!r} is not valid: expected True or False."
            raise ConfigError(msg)
        return value
    try:
        return parse(str(value))
    except ValueError as exc:
        msg = f"Argument {name}={value!r} is not valid: expected {exc}."
        raise ConfigError(msg) from None


def env_vars() -> dict[str, str]:
    """Every ``KAIZEN_PERF_*`` variable Settings reads, with its description."""
    return {f.metadata["env"]: f.metadata["doc"] for f in dataclasses.fields(Settings)}
