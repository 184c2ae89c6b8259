"""Every GenAI name kaizen-perf emits belongs to the conventions version it claims to follow."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf import Monitor
from kaizen_perf.cost import ModelPrice, PriceTable, Rates
from kaizen_perf.tracing import genai as g
from tests.tracing.receiver import Receiver, attrs, otlp_receiver

NAMES = tomllib.loads((Path(__file__).parent / "genai_names.toml").read_text())
MODES = {"default": "", "latest": g.OPT_IN_LATEST, "dup": f"http, {g.OPT_IN_DUP}"}


def _allowed(mode: str) -> tuple[set[str], set[str]]:
    """(attribute names, metric names) a mode may emit, from the checked-in list."""
    versions = {"default": ["legacy"], "latest": ["latest"], "dup": ["legacy", "latest"]}[mode]
    attributes = {a for v in versions for a in NAMES[v]["attributes"]}
    metrics = {m for v in versions for m in NAMES[v]["metrics"]}
    # cost: gen_ai.usage.cost.source in every mode (kaizen-perf emitted it before the opt-in
    # existed); amount, currency and the metric only with the pinned version
    attributes.add("gen_ai.usage.cost.source")
    if mode != "default":
        attributes |= set(NAMES["cost_proposal"]["attributes"])
        metrics |= set(NAMES["cost_proposal"]["metrics"])
    return attributes, metrics


def _run(mode: str) -> Receiver:
    """A loop, a tool, a priced cached call, an unpriced call and a failed one, exported."""
    env = {"OTEL_SEMCONV_STABILITY_OPT_IN": MODES[mode]} if MODES[mode] else {}
    price = ModelPrice("claude-sonnet-4-5", "anthropic",
                       Rates(input=3_000_000, output=15_000_000, cache_read=300_000,
                             cache_write=3_750_000, cache_write_1h=6_000_000))
    with otlp_receiver() as rec:
        mon = Monitor("researcher", environ=env, traces="otlp", otlp_metrics=True,
                      otlp_endpoint=rec.url, pricing=PriceTable({"claude-sonnet-4-5": price}))
        with mon.agent_loop(), mon.tool("web_search"):
            mon.record_api_call("anthropic", "claude-sonnet-4-5", input_tokens=100,
                                output_tokens=20, cache_read_tokens=1000, cache_write_tokens=50,
                                duration_s=0.25, ttft_s=0.1, stop_reason="tool_use")
            mon.record_api_call("anthropic", "no-such-model", input_tokens=7, output_tokens=3,
                                duration_s=0.1)
            mon.record_api_call("anthropic", "claude-sonnet-4-5", duration_s=0.05,
                                error=TimeoutError())
        assert mon.shutdown(5.0)
    return rec


def _metric_points(rec: Receiver) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for req in rec.metrics:
        for rm in req.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    data = getattr(m, m.WhichOneof("data"))
                    out[m.name] = list(data.data_points)  # cumulative: the last request wins
    return out


@pytest.fixture(scope="module", params=sorted(MODES))
def exported(request: pytest.FixtureRequest) -> tuple[str, Receiver]:
    """One run per opt-in value, shared by the tests of that value."""
    return request.param, _run(request.param)


def test_every_emitted_gen_ai_name_is_in_the_version_followed(
        exported: tuple[str, Receiver]) -> None:
    """Span attributes, metric names and metric attributes are all listed for the mode's version."""
    mode, rec = exported
    allowed_attrs, allowed_metrics = _allowed(mode)
    span_names = {k for s in rec.spans for k in s.attributes if k.startswith("gen_ai.")}
    points = _metric_points(rec)
    point_names = {k for pts in points.values() for p in pts for k in attrs(p.attributes)
                   if k.startswith("gen_ai.")}
    assert span_names and points
    assert span_names - allowed_attrs == set()
    assert point_names - allowed_attrs == set()
    assert {m for m in points if m.startswith("gen_ai.")} - allowed_metrics == set()
    operations = {s.name.split(" ")[0] for s in rec.spans}
    assert operations == {"invoke_agent", "execute_tool", "chat"}


def test_cache_write_and_cost_names_follow_the_mode(exported: tuple[str, Receiver]) -> None:
    """cache_creation by default, cache_write opted in, both with /dup; cost.amount = our USD."""
    mode, rec = exported
    priced, unpriced, failed = sorted(rec.by_name("chat "), key=lambda s: s.start_ns)
    a = priced.attributes
    assert (g.USAGE_CACHE_CREATION_INPUT_TOKENS in a) == (mode != "latest")
    assert (g.USAGE_CACHE_WRITE_INPUT_TOKENS in a) == (mode != "default")
    for key in (g.USAGE_CACHE_CREATION_INPUT_TOKENS, g.USAGE_CACHE_WRITE_INPUT_TOKENS):
        assert a.get(key, 50) == 50
    # the contract: input tokens are the uncached ones plus both cache kinds
    assert a[g.USAGE_INPUT_TOKENS] == 100 + 1000 + 50
    expected_usd = (100 * 3_000_000 + 20 * 15_000_000 + 1000 * 300_000 + 50 * 3_750_000) / 1e12
    assert a[g.COST_USD] == expected_usd and a[g.USAGE_COST_SOURCE] == "local"
    if mode == "default":
        assert g.USAGE_COST_AMOUNT not in a and g.USAGE_COST_CURRENCY not in a
    else:
        assert a[g.USAGE_COST_AMOUNT] == expected_usd and a[g.USAGE_COST_CURRENCY] == "USD"
    assert a[g.RESPONSE_TIME_TO_FIRST_CHUNK] == 0.1
    assert [v.string_value for v in a[g.RESPONSE_FINISH_REASONS].values] == ["tool_use"]
    assert not {g.USAGE_COST_AMOUNT, g.USAGE_COST_SOURCE} & set(unpriced.attributes)
    assert unpriced.attributes[g.COST_UNPRICED] is True
    assert failed.attributes[g.ERROR_TYPE] == "TimeoutError"


def test_metrics_follow_the_mode_and_agree_with_the_spans(exported: tuple[str, Receiver]) -> None:
    """Default: token.usage + operation.duration; opted in: inference.* counters, histograms
    and the cost histogram, whose sums equal the calls' tokens and dollars."""
    mode, rec = exported
    points = _metric_points(rec)
    assert (g.METRIC_TOKEN_USAGE in points) == (mode != "latest")
    assert (g.METRIC_INFERENCE_DURATION in points) == (mode != "default")
    if mode == "default":
        return
    assert g.METRIC_OPERATION_DURATION not in points or mode == "dup"  # not for inference
    [usage_in] = [p for p in points[g.METRIC_USAGE_INPUT]
                  if attrs(p.attributes)[g.REQUEST_MODEL] == "claude-sonnet-4-5"]
    assert attrs(usage_in.attributes)[g.TOKEN_MODALITY] == "unknown"
    assert usage_in.as_int == 100 + 1000 + 50  # the failed call adds 0, as the conventions ask
    assert sum(p.as_int for p in points[g.METRIC_USAGE_CACHE_WRITE]) == 50
    assert sum(p.as_int for p in points[g.METRIC_USAGE_CACHE_READ]) == 1000
    assert sum(p.count for p in points[g.METRIC_OPERATION_INPUT]) == 3  # every call, failed too
    [cost] = points[g.METRIC_OPERATION_COST]  # the unpriced model has none (never $0)
    priced = [s.attributes[g.COST_USD] for s in rec.by_name("chat claude")]
    assert cost.count == 2 and cost.sum == sum(priced) > 0  # the failed call cost $0
    assert attrs(cost.attributes)[g.USAGE_COST_CURRENCY] == "USD"
    assert attrs(cost.attributes)[g.USAGE_COST_SOURCE] == "local"


@pytest.mark.parametrize(("raw", "legacy", "latest"), [
    (None, True, False), ("", True, False), ("http,database", True, False),
    ("gen_ai_latest_experimental", False, True),
    (" http , gen_ai_latest_experimental ", False, True),
    ("gen_ai_latest_experimental/dup", True, True),
    ("gen_ai_latest_experimental,gen_ai_latest_experimental/dup", True, True),
    ("gen_ai_latest", True, False)])
def test_opt_in_values_choose_the_names(raw: str | None, legacy: bool, latest: bool) -> None:
    """The variable is a comma-separated list; /dup wins; anything else keeps the default."""
    conv = g.Conventions.from_env({} if raw is None else {g.OPT_IN_VAR: raw})
    assert (conv.legacy, conv.latest) == (legacy, latest)


def test_the_legacy_list_is_the_installed_conventions_package() -> None:
    """Every default name is defined by opentelemetry-semantic-conventions as installed."""
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes
    from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
    defined = {v for v in vars(gen_ai_attributes).values() if isinstance(v, str)}
    metrics = {v for v in vars(gen_ai_metrics).values() if isinstance(v, str)}
    assert set(NAMES["legacy"]["attributes"]) - defined == set()
    assert set(NAMES["legacy"]["metrics"]) - metrics == set()
    assert "gen_ai.usage.cache_write.input_tokens" not in defined  # why the opt-in matters
