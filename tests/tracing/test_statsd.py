"""StatsD/DogStatsD export, received by a real StatsD server (npm `statsd` on Node.js)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kaizen_perf import Monitor
from kaizen_perf.errors import ConfigError
from kaizen_perf.exporters.statsd import StatsdSink
from tests.tracing.statsd_server import free_udp_port, statsd_server


def _work(mon: Monitor) -> None:
    with mon.agent_loop():
        for _ in range(3):
            with mon.tool("web search"):
                pass
        with pytest.raises(ValueError), mon.tool("web search"):
            raise ValueError("x")
        mon.record_api_call("anthropic", "claude-sonnet-4-5", input_tokens=1200,
                            output_tokens=300, cache_read_tokens=100, duration_s=1.25)


@pytest.mark.e2e
def test_plain_statsd_receives_counters_and_timers(tmp_path: Path) -> None:
    """Counters are summed per batch, labels folded into names, durations sent as ms timers."""
    with statsd_server(tmp_path) as server:
        mon = Monitor("researcher", statsd_addr=f"127.0.0.1:{server.port}")
        _work(mon)
        mon.shutdown(2.0)
        lines = server.wait_for("kaizen.api_tokens")
    assert "kaizen.tool_calls.researcher.web_search.ok:3|c" in lines
    assert "kaizen.tool_calls.researcher.web_search.error:1|c" in lines
    assert sum(1 for x in lines if x.startswith("kaizen.tool_duration.researcher.web_search:")
               and x.endswith("|ms")) == 4
    assert "kaizen.api_request_duration.researcher.anthropic.claude-sonnet-4-5:1250.000|ms" in lines
    assert "kaizen.api_tokens.researcher.anthropic.claude-sonnet-4-5.input:1200|c" in lines
    assert "kaizen.api_tokens.researcher.anthropic.claude-sonnet-4-5.cache_read:100|c" in lines
    assert "kaizen.agent_loop_iterations.researcher.ok:1|c" in lines


@pytest.mark.e2e
def test_dogstatsd_tags_and_prefix(tmp_path: Path) -> None:
    """With tags on, labels are DogStatsD tags and the prefix is the configured one."""
    with statsd_server(tmp_path) as server:
        mon = Monitor("researcher", statsd_addr=f"127.0.0.1:{server.port}", statsd_tags=True,
                      statsd_prefix="agents")
        _work(mon)
        mon.shutdown(2.0)
        lines = server.wait_for("agents.api_tokens")
    assert "agents.tool_calls:3|c|#agent:researcher,tool:web_search,status:ok" in lines
    assert ("agents.api_tokens:300|c|#agent:researcher,provider:anthropic,"
            "model:claude-sonnet-4-5,type:output") in lines


def test_nobody_listening_costs_nothing_and_is_counted() -> None:
    """With no server on the port, sends fail quietly (ICMP refusals are counted, never raised)."""
    port = free_udp_port()
    mon = Monitor("researcher", statsd_addr=f"127.0.0.1:{port}")
    for _ in range(5):
        _work(mon)
        mon.flush()
    [sink] = [s for s in mon.pipeline._sinks if isinstance(s, StatsdSink)]
    assert mon.shutdown(2.0)
    assert sink.sent_datagrams + sink.failed_datagrams == 5
    assert sink.export_errors == {"statsd": sink.failed_datagrams}


def test_large_batches_are_split_into_datagrams_under_the_limit() -> None:
    """Many distinct series become several datagrams, each at most max_datagram bytes."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(2)
        sink = StatsdSink("127.0.0.1", rx.getsockname()[1], max_datagram=512)
        mon = Monitor("r", sinks=[sink])
        for i in range(100):
            with mon.tool(f"tool-{i}"):
                pass
        mon.shutdown(2.0)
        sizes: list[int] = []
        lines: list[str] = []
        while len(lines) < 200:
            data = rx.recv(65536)
            sizes.append(len(data))
            lines.extend(data.decode().split("\n"))
    assert max(sizes) <= 512 and len(sizes) > 1
    assert sum(1 for x in lines if x.startswith("kaizen.tool_calls.r.tool-")) == 100


def test_unresolvable_host_is_a_config_error() -> None:
    """A StatsD host that cannot be resolved fails at start-up, not at the first send."""
    with pytest.raises(ConfigError, match="cannot be resolved"):
        StatsdSink("no-such-host.invalid", 8125)
