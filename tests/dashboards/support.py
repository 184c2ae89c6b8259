"""Test support: panel queries out of dashboard JSON, Grafana variable substitution, and a
real Prometheus process with a small HTTP API client."""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "dashboards"
RULES_FILE = DASHBOARD_DIR / "kaizen-alerts.rules.yml"
#: Grafana's interval macros, replaced as Grafana would for a 1 s scrape interval
#: ($__rate_interval = 4 scrape intervals, rounded up) and a one-minute time range.
MACROS = {"$__rate_interval": "5s", "$__range": "1m", "$__interval": "1s"}
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+), (?P<label>\w+)\)$")


@dataclass(frozen=True)
class PanelQuery:
    """One target of one panel."""

    dashboard: str
    panel: str
    datasource: str
    expr: str


def dashboard_files() -> list[Path]:
    """The committed dashboards."""
    return sorted(DASHBOARD_DIR.glob("kaizen-*.json"))


def panel_queries(path: Path) -> Iterator[PanelQuery]:
    """Every target of every panel of a dashboard JSON file."""
    dash = json.loads(path.read_text("utf-8"))
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            kind = target.get("datasource", panel.get("datasource", {}))["type"]
            expr = target.get("expr") or target.get("labelSelector", "")
            yield PanelQuery(dash["uid"], panel["title"], kind, expr)


def variable_queries(path: Path) -> dict[str, str]:
    """Query variables by name (``label_values(...)``)."""
    dash = json.loads(path.read_text("utf-8"))
    return {v["name"]: v["query"] for v in dash["templating"]["list"] if v["type"] == "query"}


def substitute(expr: str, values: Mapping[str, list[str]]) -> str:
    """Replace macros, and variables by ``(a|b)`` as Grafana does for a multi-value selection."""
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)
    for name, vals in values.items():
        expr = expr.replace(f"${name}", "(" + "|".join(vals) + ")")
    return expr


def parse_label_values(query: str) -> tuple[str, str]:
    """``label_values(SELECTOR, LABEL)`` → (SELECTOR, LABEL)."""
    m = _LABEL_VALUES.match(query)
    assert m is not None, f"not a label_values() query: {query}"
    return m["selector"], m["label"]


class Prometheus:
    """A ``prometheus`` process on 127.0.0.1 and a client for its HTTP API."""

    def __init__(self, binary: str, config: Path, data: Path, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=90d",
             "--log.level=warn"], stdout=self._log, stderr=subprocess.STDOUT)

    def get(self, path: str, **params: str) -> Any:
        """GET an API path; the ``data`` member of a successful answer."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:  # 400/422: invalid PromQL, with the reason
            body = json.load(exc)
        assert body["status"] == "success", f"{path} {params}: {body.get('error')}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate an instant query; the vector or matrix result."""
        data = self.get("/api/v1/query", query=expr)
        assert data["resultType"] in ("vector", "matrix", "scalar"), data
        return data["result"] if data["resultType"] != "scalar" else [{"value": data["result"]}]

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Block until /-/ready answers (or fail with the log)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"prometheus exited: {self.proc.returncode}"
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("prometheus did not become ready")

    def stop(self) -> None:
        """Terminate and reap the process."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def has_finite_value(result: list[dict[str, Any]]) -> bool:
    """True when at least one sample of an instant-query result is a number (not NaN/Inf)."""
    return any(math.isfinite(float(r["value"][1])) for r in result)
