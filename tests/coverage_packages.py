"""Per-package line coverage from ``coverage json`` output (``make coverage`` prints it).

``coverage report`` lists files; a reviewer asks "how well is runner/ tested", so the files
are summed per package (a subpackage of kaizen_perf, or "kaizen_perf" for top-level
modules). Usage: ``python -m tests.coverage_packages coverage.json [FILE ...]``; every FILE
named (e.g. kaizen_perf/doctor.py) is also printed on its own line.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import PurePosixPath
from typing import Any


def package_of(path: str) -> str:
    """``kaizen_perf/runner/session.py`` -> ``runner/``; a top-level module -> ``kaizen_perf``."""
    parts = PurePosixPath(path).parts
    return f"{parts[1]}/" if len(parts) > 2 else parts[0]


def per_package(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """(statements, covered) per package."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path, data in report["files"].items():
        summary = data["summary"]
        total = totals[package_of(path)]
        total[0] += summary["num_statements"]
        total[1] += summary["covered_lines"]
    return {name: (s, c) for name, (s, c) in totals.items()}


def line(name: str, statements: int, covered: int) -> str:
    """One row: name, statements, missed, percent."""
    pct = 100.0 * covered / statements if statements else 100.0
    return f"{name:40} {statements:6} {statements - covered:6} {pct:6.1f} %"


def main(argv: list[str]) -> int:
    """Print the table; files named after the JSON path get a row of their own."""
    with open(argv[0], encoding="utf-8") as fh:
        report = json.load(fh)
    print(f"{'package':40} {'stmts':>6} {'miss':>6} {'cover':>8}")
    for name, (statements, covered) in sorted(per_package(report).items()):
        if statements:  # data/ holds no code
            print(line(name, statements, covered))
    totals = report["totals"]
    print(line("TOTAL", totals["num_statements"], totals["covered_lines"]))
    for path in argv[1:]:
        data = report["files"].get(path)
        if data is not None:
            s = data["summary"]
            print(line(path, s["num_statements"], s["covered_lines"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
