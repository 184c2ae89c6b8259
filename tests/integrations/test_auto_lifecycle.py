"""auto_instrument() and uninstrument_all() over a process's life, in fresh interpreters.

Instrumentation and the import hook are process-wide, so each scenario runs in its own
interpreter (as ``kaizen-perf run``'s agents do).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(script: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines() + [f"stderr: {line}" for line in proc.stderr.splitlines()]


def test_an_imported_client_is_instrumented_at_once_and_uninstrument_all_undoes_everything(
        ) -> None:
    """A client already imported is instrumented immediately; uninstrument_all() restores it
    and removes the import hook, so a client imported afterwards stays untouched."""
    out = _run("""
        import sys
        import openai
        from kaizen_perf.integrations import auto_instrument, uninstrument_all
        from kaizen_perf.integrations import openai as kpo
        print("found", sorted(auto_instrument(packages=("openai", "anthropic"))))
        print("openai now", kpo.is_instrumented())
        print("hooked", any(type(f).__name__ == "_PostImport" for f in sys.meta_path))
        uninstrument_all()
        print("openai after", kpo.is_instrumented())
        print("hooked", any(type(f).__name__ == "_PostImport" for f in sys.meta_path))
        import anthropic
        from kaizen_perf.integrations import anthropic as kpa
        print("anthropic", kpa.is_instrumented())
    """)
    assert out == ["found ['anthropic', 'openai']", "openai now True", "hooked True",
                   "openai after False", "hooked False", "anthropic False"]


def test_a_client_that_cannot_be_instrumented_is_logged_and_the_agent_goes_on() -> None:
    """If instrumenting a client raises, whether it was imported before or after
    auto_instrument(), the agent's import still works (source and all) and one warning says
    the client's calls are not recorded."""
    out = _run("""
        import inspect, logging, sys, types
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        broken = types.ModuleType("kp_broken_integration")
        def instrument(monitor=None, *, on_call=None):
            raise RuntimeError("boom")
        broken.instrument = instrument
        sys.modules["kp_broken_integration"] = broken
        from kaizen_perf import integrations
        integrations.CLIENTS["json"] = "kp_broken_integration"
        integrations.CLIENTS["colorsys"] = "kp_broken_integration"
        assert "colorsys" not in sys.modules
        print("found", integrations.auto_instrument(packages=("json", "colorsys")))
        import colorsys
        print("works", colorsys.rgb_to_hsv(1.0, 0.0, 0.0))
        print("source", "def rgb_to_hsv" in inspect.getsource(colorsys))
    """)
    assert out[:3] == ["found ['json', 'colorsys']", "works (0.0, 1.0, 1.0)", "source True"]
    warnings = [line for line in out if line.startswith("stderr: ")]
    assert warnings == [
        "stderr: kaizen-perf could not instrument json: RuntimeError('boom'); its API calls "
        "are not recorded.",
        "stderr: kaizen-perf could not instrument colorsys: RuntimeError('boom'); its API "
        "calls are not recorded."]
