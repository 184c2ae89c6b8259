"""The HTTP endpoint, scraped over real sockets on 127.0.0.1."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse

from kaizen_perf import ConfigError, Monitor
from tests.helpers import need_binary
from tests.unit.metrics_util import value


@pytest.fixture
def served() -> Iterator[Monitor]:
    mon = Monitor("web", environ={}, metrics_addr="127.0.0.1:0")
    yield mon
    mon.shutdown(2.0)


def _get(url: str, accept: str | None = None, context: ssl.SSLContext | None = None
         ) -> tuple[int, str, str]:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def test_metrics_endpoint_serves_fresh_prometheus_text(served: Monitor) -> None:
    """A scrape right after a hook already shows it (the scrape drains the buffer first)."""
    with served.tool("search"):
        pass
    status, ctype, body = _get(f"{served.server.url}/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    assert value(body, "kaizen_tool_calls_total", agent="web", tool="search", status="ok") == 1


def test_metrics_endpoint_speaks_openmetrics_when_asked(served: Monitor) -> None:
    """An OpenMetrics Accept header gets a valid OpenMetrics exposition."""
    served.record_api_call("anthropic", "claude-haiku-4-5", 10, 5)
    status, ctype, body = _get(f"{served.server.url}/metrics",
                               accept="application/openmetrics-text; version=1.0.0")
    assert status == 200 and ctype.startswith("application/openmetrics-text")
    names = {f.name for f in om_parse(body)}
    assert "kaizen_api_tokens" in names and body.rstrip().endswith("# EOF")


def test_health_endpoints_return_json(served: Monitor) -> None:
    """/healthz says alive; /readyz reports each component with a JSON body."""
    status, _, body = _get(f"{served.server.url}/healthz")
    assert status == 200 and json.loads(body) == {"status": "alive", "agent": "web"}
    status, _, body = _get(f"{served.server.url}/readyz")
    data = json.loads(body)
    assert status == 200 and data["status"] == "ready"
    assert data["components"]["pipeline"]["ok"] is True


def test_readyz_is_503_when_the_dispatcher_is_gone(served: Monitor) -> None:
    """When the pipeline stops dispatching, /readyz answers 503 and says why."""
    served.pipeline.shutdown(1.0)
    status, _, body = _get(f"{served.server.url}/readyz")
    assert status == 503
    assert "not running" in json.loads(body)["components"]["pipeline"]["detail"]


def test_unknown_path_is_404_with_a_hint(served: Monitor) -> None:
    """Unknown paths say which ones exist."""
    status, _, body = _get(f"{served.server.url}/nope")
    assert status == 404 and "/metrics" in json.loads(body)["error"]


def test_binds_loopback_by_default(served: Monitor) -> None:
    """The server binds 127.0.0.1 unless told otherwise."""
    assert served.server.host == "127.0.0.1"


def test_port_in_use_is_a_clear_error(served: Monitor) -> None:
    """A second server on the same port fails with ConfigError naming the port and the fix."""
    with pytest.raises(ConfigError, match=r"already in use.*--metrics-addr"):
        Monitor("other", environ={}, metrics_addr=f"127.0.0.1:{served.server.port}")


def test_tls_serves_https(tmp_path: Path) -> None:
    """With a certificate and key the endpoint serves HTTPS."""
    openssl = need_binary("openssl", "openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    mon = Monitor("tls", environ={}, metrics_addr="127.0.0.1:0", tls_cert=str(cert),
                  tls_key=str(key))
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        status, _, body = _get(f"{mon.server.url}/metrics", context=ctx)
        assert mon.server.url.startswith("https://") and status == 200
        assert "kaizen_perf_overhead_ratio" in body
    finally:
        mon.shutdown(2.0)


def test_bad_tls_files_are_a_config_error(tmp_path: Path) -> None:
    """A missing certificate file is reported with the variables to check."""
    with pytest.raises(ConfigError, match="KAIZEN_PERF_TLS_CERT"):
        Monitor("tls", environ={}, metrics_addr="127.0.0.1:0",
                tls_cert=str(tmp_path / "missing.pem"))
