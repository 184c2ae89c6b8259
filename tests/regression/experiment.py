"""The acceptance experiment of the regression gate, run by hand (not collected by pytest).

Builds four copies of a ten-benchmark project: the baseline, an identical copy
(A/A), and variants doing 5 % and 10 % more work in every benchmark (real
extra iterations, not waits). Then, with a CPU hog busy on one core for the
whole run, it repeats in interleaved order (A/A, +5 %, +10 %, A/A, …):

* ``kaizen-perf check --base BASE --head VARIANT`` with the defaults, and
* pytest-benchmark on the baseline (``--benchmark-save``) then on the variant
  with ``--benchmark-compare --benchmark-compare-fail=mean:5%``,

and prints one JSON line per run (exit codes, verdicts, wall time, load).

    python tests/regression/experiment.py OUT_DIR MINUTES [PYTEST_BENCHMARK_PYTHON]

The third argument is an interpreter with pytest-benchmark installed (kept out
of the project's environment: its plugin would load into every test run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

KINDS = {
    # name: (body using N, N at 1.00) — CPU-bound work of different kinds, ~1-15 ms per call
    "int_loop": ("acc = 0\n    for i in range(N):\n        acc += i * i", 20_000),
    "str_join": ("''.join(str(i) for i in range(N))", 8_000),
    "dict_ops": ("d = {}\n    for i in range(N):\n        d[i] = i\n    sum(d.values())", 15_000),
    "sort": ("sorted(((i * 7919) % 10007 for i in range(N)))", 12_000),
    "json": ("json.loads(json.dumps(list(range(N))))", 10_000),
    "listcomp": ("sum([i % 7 for i in range(N)])", 25_000),
    "fib": ("fib(N)", 18),
    "sets": ("s = set()\n    for i in range(N):\n        s.add(i)", 20_000),
    "big_sort": ("sorted(((i * 7919) % 100003 for i in range(N)))", 150_000),
    "big_dict": ("d = {str(i): i for i in range(N)}\n    sum(d.values())", 60_000),
}
# Every kind's work is linear in N, so the variants are really +5 % / +10 % work (a regex
# over 'aab' * N was not: 5 % longer input ran faster, in time and in instructions).
# fib's work grows ~1.618x per step, so its variants add smaller fib calls to each call:
# fib(18) makes 8,361 calls; + fib(12) is +465 (+5.6 %), + fib(13) + fib(8) is +820 (+9.8 %).
FIB_EXTRA = {1.0: "", 1.05: "\n    fib(12)", 1.10: "\n    fib(13)\n    fib(8)"}


def write_project(root: Path, factor: float) -> Path:
    """A project whose every benchmark does ``factor`` times the baseline's work."""
    (root / "benchmarks").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    funcs, tests = [], []
    for name, (body, n) in KINDS.items():
        size = n if name == "fib" else round(n * factor)
        extra = FIB_EXTRA[factor] if name == "fib" else ""
        funcs.append(f"def work_{name}():\n    N = {size}\n    {body}{extra}\n")
        tests.append(f"def test_{name}(benchmark):\n    benchmark(work.work_{name})\n")
    lib = ("import json\nimport re\n\n\ndef fib(n):\n"
           "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n\n" + "\n\n".join(funcs))
    (root / "work.py").write_text(lib)
    suite = "import work\n\n" + "\n".join(
        f"def bench_{name}():\n    work.work_{name}()\n" for name in KINDS)
    (root / "benchmarks" / "bench_exp.py").write_text(suite)
    (root / "tests" / "test_exp.py").write_text(
        "import sys\nsys.path.insert(0, __file__.rsplit('/tests/', 1)[0])\nimport work\n\n"
        + "\n".join(tests))
    return root


def run_kaizen(base: Path, head: Path, out: Path) -> dict[str, object]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", "from kaizen_perf.cli.main import entry; entry()",
                           "check", "--base",
                           str(base), "--head", str(head), "--no-progress", "--format", "json"],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    took = time.monotonic() - started
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        doc = {"error": proc.stderr[-500:]}
    out.write_text(proc.stdout + "\n" + proc.stderr)
    rows = doc.get("benchmarks", [])
    verdicts = {r["name"].split(".")[-1]: r["verdict"] for r in rows}
    measures = {r["name"].split(".")[-1]: r.get("measure") for r in rows}
    pairs = {r["name"].split(".")[-1]: r.get("pairs") for r in rows}
    return {"exit": proc.returncode, "seconds": round(took, 1), "verdicts": verdicts,
            "measures": measures, "pairs": pairs, "summary": doc.get("summary"),
            "stopped": doc.get("stopped")}


def run_pytest_benchmark(python: str, base: Path, head: Path, store: Path) -> dict[str, object]:
    started = time.monotonic()
    common = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
              f"--benchmark-storage={store}", "--benchmark-min-rounds=5",
              "--benchmark-max-time=0.25"]
    # Run from each project's directory: pytest-benchmark matches benchmarks by their full
    # name, which is relative to the rootdir (the same "tests/test_exp.py::test_x" on both).
    subprocess.run([*common, "--benchmark-save=base", "tests"], capture_output=True,
                   text=True, check=False, cwd=base)
    proc = subprocess.run([*common, "--benchmark-compare", "--benchmark-compare-fail=mean:5%",
                           "tests"], capture_output=True, text=True, check=False, cwd=head)
    # The plugin raises PerformanceRegression after listing each failed benchmark on stderr.
    failed = (proc.stdout + proc.stderr).count("has failed PercentageRegressionCheck")
    return {"exit": proc.returncode, "seconds": round(time.monotonic() - started, 1),
            "regressed_benchmarks": failed}


def uptime() -> str:
    """The machine's load averages now (1, 5, 15 min), as ``uptime`` prints them."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    out, minutes = Path(sys.argv[1]), float(sys.argv[2])
    pb_python = sys.argv[3] if len(sys.argv) > 3 else None
    out.mkdir(parents=True, exist_ok=True)
    projects = {label: write_project(out / label, factor)
                for label, factor in (("base", 1.0), ("aa", 1.0), ("plus5", 1.05),
                                      ("plus10", 1.10))}
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # one core, all along
    deadline = time.monotonic() + minutes * 60
    try:
        i = 0
        while time.monotonic() < deadline:
            for variant in ("aa", "plus5", "plus10"):
                if time.monotonic() >= deadline:
                    break
                line: dict[str, object] = {"run": i, "variant": variant,
                                           "load": os.getloadavg()[0],
                                           "uptime": uptime(), "commit": commit}
                line["kaizen"] = run_kaizen(projects["base"], projects[variant],
                                            out / f"kaizen-{i}-{variant}.txt")
                if pb_python:
                    line["pytest_benchmark"] = run_pytest_benchmark(
                        pb_python, projects["base"], projects[variant], out / f"pb-{i}")
                line["uptime_after"] = uptime()
                print(json.dumps(line), flush=True)
            i += 1
    finally:
        hog.kill()
        hog.wait()


if __name__ == "__main__":
    main()
