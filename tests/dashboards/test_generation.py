"""Dashboard generation: committed JSON, panel contract, metric names, config files, docs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kaizen_perf.cli.main import main
from kaizen_perf.dashboards import DASHBOARDS, promql, render, tools
from kaizen_perf.dashboards.docs import BEGIN, END, reference_markdown
from kaizen_perf.dashboards.file_sd import remove_target, target_address, write_target
from kaizen_perf.errors import ConfigError
from kaizen_perf.metrics import METRICS
from tests.dashboards.support import (
    DASHBOARD_DIR,
    ROOT,
    RULES_FILE,
    dashboard_files,
    panel_queries,
    variable_queries,
)
from tests.helpers import need_binary

#: Series Prometheus itself creates, allowed in queries besides kaizen-perf's metrics.
PROMETHEUS_SERIES = {"ALERTS"}
_NAME = re.compile(r"(?<![\w$\"])([a-zA-Z_:][\w:]*)\s*(?=\{|\[)|\b(kaizen_\w+)")
_HIST_SUFFIXES = ("_bucket", "_count", "_sum")


def _load(path: Path) -> dict[str, object]:
    return json.loads(path.read_text("utf-8"))  # type: ignore[no-any-return]


def metric_names(promql_text: str) -> set[str]:
    """Series names in PromQL: ``name{``, ``name[`` and every ``kaizen_…`` identifier."""
    return {a or b for a, b in _NAME.findall(promql_text)} - {"by", "on", "without"}


def unknown_names(names: set[str]) -> list[str]:
    """Names that are neither a table metric (histograms with a suffix) nor Prometheus's own."""
    bad = []
    for name in sorted(names - PROMETHEUS_SERIES):
        base = next((name[: -len(s)] for s in _HIST_SUFFIXES if name.endswith(s)), None)
        if base in METRICS and METRICS[base].kind == "histogram":
            continue
        if name not in METRICS or METRICS[name].kind == "histogram":
            bad.append(name)
    return bad


def rule_exprs(text: str) -> list[str]:
    """The ``expr: |-`` blocks of a rule file (the lines indented below each)."""
    exprs: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "expr: |-":
            indent = len(line) - len(line.lstrip()) + 1
            block = [ln for ln in lines[i + 1:] if ln.strip()]
            body = [ln.strip() for ln in block[:next(
                (j for j, ln in enumerate(block) if len(ln) - len(ln.lstrip()) < indent + 1),
                len(block))]]
            exprs.append(" ".join(body))
    return exprs


def test_committed_dashboards_match_the_generator() -> None:
    """dashboards/*.json is exactly what the code generates (regenerate after a change)."""
    generated = render()
    assert sorted(generated) == [p.name for p in dashboard_files()]
    for name, text in generated.items():
        assert (DASHBOARD_DIR / name).read_text("utf-8") == text, f"regenerate {name}"


def test_export_command_writes_the_three_dashboards(tmp_path: Path) -> None:
    """`kaizen-perf dashboards export DIR` creates DIR and writes the three JSON files."""
    out = tmp_path / "new" / "dir"
    assert main(["dashboards", "export", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(render())


def test_export_to_an_unwritable_place_is_a_usage_error(tmp_path: Path) -> None:
    """Exporting under a regular file fails with exit code 2, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["dashboards", "export", str(blocker / "sub")]) == 2


def test_every_panel_has_a_unit_a_question_and_a_target() -> None:
    """Every panel sets a unit and a description, and queries something."""
    for path in dashboard_files():
        for panel in _load(path)["panels"]:  # type: ignore[attr-defined]
            if panel["type"] == "row":
                continue
            assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
            assert panel["description"], panel["title"]
            assert panel["targets"] and all(t["refId"] for t in panel["targets"]), panel["title"]


def test_dashboards_have_the_variables_and_link_to_each_other() -> None:
    """Each dashboard has the datasource/agent/model/tool variables and the link menu."""
    uids = set()
    for path in dashboard_files():
        dash = _load(path)
        names = [v["name"] for v in dash["templating"]["list"]]  # type: ignore[index]
        assert {"datasource", "agent", "model", "tool", "pyroscope"} <= set(names)
        assert set(variable_queries(path)) == {"agent", "model", "tool"}
        link = dash["links"][0]  # type: ignore[index]
        assert (link["type"], link["tags"], link["includeVars"]) == ("dashboards",
                                                                     ["kaizen-perf"], True)
        assert dash["tags"] == ["kaizen-perf"]
        uids.add(dash["uid"])
    assert uids == {"kaizen-overview", "kaizen-tools", "kaizen-resources"}


def test_there_is_a_pyroscope_flame_graph_panel() -> None:
    """The resources dashboard has a flame graph panel on the Pyroscope data source."""
    flames = [pq for path in dashboard_files() for pq in panel_queries(path)
              if pq.datasource == "grafana-pyroscope-datasource"]
    assert [f.panel for f in flames] == ["On-CPU flame graph (Pyroscope)"]
    assert "$agent" in flames[0].expr


def test_the_issue_panels_are_all_there() -> None:
    """The panels the issue lists exist, by title, on their dashboard."""
    titles = {d.uid: {p.title for p in d.panels()} for d in DASHBOARDS}
    assert {"Active agents", "Loop rate", "Loop duration p50 / p95 / p99", "Loop success rate",
            "Stuck agents (time since last progress)", "Cost per hour", "Cost per task",
            "Tokens by type", "Budget burn", "Alerts firing"} == titles["kaizen-overview"]
    assert {"Tool call rate", "Tool latency p95", "Tool latency heatmap", "Tool error rate",
            "API latency by model p50 / p95", "Cost by model", "Cost by tool",
            "Prompt cache hit ratio", "Unpriced requests"} == titles["kaizen-tools"]
    assert {"CPU", "Resident memory", "Disk and pipe I/O", "Threads and file descriptors",
            "Off-CPU time", "Syscall latency p95", "Block I/O latency p95",
            "TCP connect latency p95", "TCP retransmits", "Permission approval rate",
            "Permission denials by reason", "Checkpoint latency p95", "Checkpoint size",
            "Hook latency p95", "Interrupts", "Control-protocol timeouts", "Overhead",
            "Dropped events", "Export errors", "On-CPU flame graph (Pyroscope)"
            } == titles["kaizen-resources"]


def test_every_metric_in_dashboards_and_rules_exists_in_the_metric_table() -> None:
    """Metric names parsed out of every panel, variable and alert rule are in METRICS."""
    texts = [pq.expr for path in dashboard_files() for pq in panel_queries(path)
             if pq.datasource == "prometheus"]
    texts += [q for path in dashboard_files() for q in variable_queries(path).values()]
    rules = rule_exprs(RULES_FILE.read_text("utf-8"))
    assert len(rules) == RULES_FILE.read_text("utf-8").count("- alert: ")
    names = set().union(*(metric_names(t) for t in [*texts, *rules]))
    bases = {next((n[: -len(s)] for s in _HIST_SUFFIXES if n.endswith(s)), n) for n in names}
    assert len(bases & set(METRICS)) >= 35  # the parser finds the names it should
    assert unknown_names(names) == []


def test_the_name_check_catches_a_renamed_metric() -> None:
    """The parser flags a misspelt name, a bare histogram and a suffix on a counter."""
    assert unknown_names(metric_names(
        'rate(kaizen_tool_call_total{tool="x"}[5m]) + kaizen_tool_duration_seconds '
        "+ kaizen_tool_calls_total_count")) == ["kaizen_tool_call_total",
                                                "kaizen_tool_calls_total_count",
                                                "kaizen_tool_duration_seconds"]


def test_a_metric_missing_from_the_table_breaks_generation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing (renaming) a metric in METRICS makes building its panels fail loudly."""
    monkeypatch.delitem(METRICS, "kaizen_tool_calls_total")
    with pytest.raises(ConfigError, match=r"kaizen_tool_calls_total.*not in"):
        tools._tool_row()


def test_unknown_labels_and_suffixes_are_rejected() -> None:
    """A label the family lacks, or a histogram suffix on a counter, fails generation."""
    with pytest.raises(ConfigError, match="label"):
        promql.rate("kaizen_tool_calls_total", ["model"])
    with pytest.raises(ConfigError, match="label"):
        promql.selector("kaizen_tool_calls_total", match={"decision": "denied"})
    with pytest.raises(ConfigError, match="suffix"):
        promql.selector("kaizen_tool_calls_total", "_bucket")
    with pytest.raises(ConfigError, match="histogram"):
        promql.quantile(0.5, "kaizen_tool_calls_total", ["tool"])


def test_selectors_apply_the_variables_of_the_family_labels() -> None:
    """$agent/$model/$tool filter exactly the families that have those labels."""
    assert promql.selector("kaizen_api_requests_total") == (
        'kaizen_api_requests_total{agent=~"$agent",model=~"$model"}')
    assert promql.selector("kaizen_perf_overhead_ratio") == "kaizen_perf_overhead_ratio"


def test_example_prometheus_config_is_valid() -> None:
    """promtool accepts dashboards/prometheus.yml and the rule file it names."""
    promtool = need_binary("promtool", "prometheus")
    done = subprocess.run([promtool, "check", "config", str(DASHBOARD_DIR / "prometheus.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kaizen-alerts.rules.yml" in done.stdout + done.stderr


def test_provisioning_matches_the_dashboards() -> None:
    """The provider reads the folder the docs export to; data source types match the variables."""
    provider = (DASHBOARD_DIR / "provisioning" / "dashboards" / "kaizen-perf.yml").read_text()
    assert "path: /var/lib/grafana/dashboards/kaizen-perf" in provider
    assert "kaizen-perf dashboards export /var/lib/grafana/dashboards/kaizen-perf" in (
        ROOT / "docs" / "dashboards.md").read_text()
    sources = (DASHBOARD_DIR / "provisioning" / "datasources" / "kaizen-perf.yml").read_text()
    types = {v["query"] for path in dashboard_files()
             for v in _load(path)["templating"]["list"]  # type: ignore[index]
             if v["type"] == "datasource"}
    assert types == {"prometheus", "grafana-pyroscope-datasource"}
    assert all(f"type: {t}" in sources for t in types)


def test_docs_panel_reference_is_current() -> None:
    """docs/dashboards.md holds the generated panel reference, unchanged."""
    text = (ROOT / "docs" / "dashboards.md").read_text("utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END) + 1
    assert text[start:end] == reference_markdown(DASHBOARDS)


def test_sd_file_is_written_atomically_and_removed(tmp_path: Path) -> None:
    """The file_sd entry is valid JSON with the labels; removing a missing file is fine."""
    path = write_target(tmp_path / "sd" / "run.json", "127.0.0.1:9464",
                        {"agent": "a", "run_id": "r"})
    assert json.loads(path.read_text()) == [{"targets": ["127.0.0.1:9464"],
                                             "labels": {"agent": "a", "run_id": "r"}}]
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]
    remove_target(path)
    remove_target(path)
    assert not path.exists()
    assert target_address("::1", 80) == "[::1]:80"
    assert not target_address("0.0.0.0", 80).startswith("0.0.0.0")


def test_run_writes_the_sd_file_while_it_runs_and_removes_it(tmp_path: Path) -> None:
    """`kaizen-perf run --sd-file F` has F in place while the command runs, gone after."""
    sd = tmp_path / "kaizen-perf.d" / "r.json"
    # the runner writes F just after starting the command: give it up to 10 s
    probe = (f"import json,pathlib,time; p=pathlib.Path({str(sd)!r}); t=time.time()\n"
             "while not p.exists() and time.time()-t<10: time.sleep(0.02)\n"
             "e=json.loads(p.read_text())[0]\n"
             "print('SD', e['labels']['agent'], e['targets'][0])")
    done = subprocess.run([sys.executable, "-m", "kaizen_perf", "run", "--no-profile",
                           "--metrics-addr", "127.0.0.1:0", "--sd-file", str(sd), "--agent-id",
                           "probe", "--out", str(tmp_path / "run"), "--", sys.executable, "-c",
                           probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^SD probe 127\.0\.0\.1:\d+$", done.stdout, re.M), done.stdout
    assert not sd.exists()
