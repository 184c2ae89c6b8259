"""Checking the ``KAIZEN_PERF_*`` environment as a whole: unusable values, unknown names.

Bad configuration never kills the agent. ``kaizen-perf run`` calls
:func:`env_problems` before it starts anything and exits 2 naming each
variable; inside the agent a :class:`~kaizen_perf.monitor.Monitor` built from a
bad environment turns its hooks into no-ops and says so once. A
``KAIZEN_PERF_*`` name that nothing reads (a typo) gets a warning that suggests
the nearest real name (:func:`unknown_variables`).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping

from kaizen_perf.config import Settings
from kaizen_perf.errors import ConfigError

PREFIX = "KAIZEN_PERF_"
#: variables read outside :class:`Settings` (the bootstrap, the run directory, the tests)
OTHER_NAMES = frozenset({"KAIZEN_PERF_BOOTSTRAP", "KAIZEN_PERF_BOOTSTRAP_CLIENTS",
                         "KAIZEN_PERF_RUN_DIR_MODE", "KAIZEN_PERF_REQUIRE_E2E"})


def known_names() -> frozenset[str]:
    """Every ``KAIZEN_PERF_*`` variable kaizen-perf reads."""
    return frozenset(f.metadata["env"] for f in dataclasses.fields(Settings)) | OTHER_NAMES


def env_problems(environ: Mapping[str, str]) -> list[str]:
    """One message per variable whose value is unusable (each names the variable, the value
    and what is expected), in name order; [] when the environment is fine."""
    problems = []
    for f in sorted(dataclasses.fields(Settings), key=lambda f: f.metadata["env"]):
        name = f.metadata["env"]
        if environ.get(name):
            # One variable at a time: Settings.load stops at the first bad value, and a
            # user fixing their environment should see every problem in one go.
            try:
                Settings.load({name: environ[name]})
            except ConfigError as exc:
                problems.append(str(exc))
    if environ.get("KAIZEN_PERF_RUN_DIR_MODE"):
        # Lazy: every monitor imports this module (unknown_variables); only `run` reads
        # this variable, so only `run` pays for importing the runner package.
        from kaizen_perf.runner.rundir import run_dir_modes
        try:
            run_dir_modes(environ)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for every ``KAIZEN_PERF_*`` name that nothing reads, with the nearest real
    name when one is close."""
    known = known_names()
    out = []
    for name in sorted(n for n in environ if n.startswith(PREFIX) and n not in known):
        near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        hint = f"; did you mean {near[0]}?" if near else "; see docs/configuration.md"
        out.append(f"kaizen-perf: {name} is not a kaizen-perf variable and is ignored{hint}")
    return out
