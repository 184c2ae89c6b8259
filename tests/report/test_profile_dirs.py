"""Which profiles a report offers: run.json's ``profiles``, or an older run's one profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaizen_perf.profiles import Profile, write_folded
from kaizen_perf.report.data import load, profile_dirs
from kaizen_perf.report.html import render_run
from kaizen_perf.runner.rundir import FORMAT_VERSION

STACK = ('process 1:"python a.py"', "main (a.py:3)")


def _run_dir(root: Path, run: dict[str, object], profiles: dict[str, str]) -> Path:
    """A run directory with run.json and one folded profile per folder given."""
    root.mkdir()
    (root / "run.json").write_text(json.dumps({"format_version": FORMAT_VERSION, "run_id": "r",
                                               **run}))
    for folder, leaf in profiles.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        write_folded(Profile({(*STACK, leaf): 5}), root / folder / "profile.folded")
    return root


def test_both_kinds_are_offered_in_run_json_order(tmp_path: Path) -> None:
    """A run that recorded both shows both in its menu, on-CPU first, each with its own
    hottest function."""
    root = _run_dir(tmp_path / "run", {"profiles": {"cpu": "profiles", "wall": "profiles/wall"}},
                    {"profiles": "burn (a.py:9)", "profiles/wall": "sleep (a.py:5)"})
    data = load(root)
    assert [k for k in data.flames if ":" not in k] == ["cpu", "wall"]
    assert data.tops["cpu"][0][0].startswith("burn") and data.tops["wall"][0][0].startswith(
        "sleep")
    page = render_run(data)
    assert page.index('<option value="cpu">on-CPU') < page.index('<option value="wall">')
    assert 'data-kind="wall" hidden' in page and 'data-kind="cpu">' in page


@pytest.mark.parametrize(("run", "kind"), [({}, "cpu"), ({"idle": True}, "wall")])
def test_an_older_run_directory_has_its_one_profile(tmp_path: Path, run: dict[str, object],
                                                    kind: str) -> None:
    """Without ``profiles`` in run.json, profiles/ holds the one kind the run recorded
    (wall-clock when it was made with --idle)."""
    root = _run_dir(tmp_path / "run", run, {"profiles": "work (a.py:4)"})
    assert list(profile_dirs(root, json.loads((root / "run.json").read_text()))) == [kind]
    assert [k for k in load(root).flames if ":" not in k] == [kind]


def test_folders_outside_the_run_and_unknown_kinds_are_ignored(tmp_path: Path) -> None:
    """run.json cannot point the report at files outside the run directory."""
    root = tmp_path / "run"
    named = {"cpu": "../elsewhere", "offcpu": "profiles", "wall": "/etc"}
    dirs = profile_dirs(root, {"profiles": named})
    assert dirs == {"cpu": root / "profiles"}  # nothing usable: the default folder
