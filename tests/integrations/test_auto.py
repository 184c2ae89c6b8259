"""auto_instrument(): what `kaizen-perf run` calls at start-up, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from kaizen_perf.integrations import auto_instrument

SCRIPT = textwrap.dedent("""
    import sys
    from kaizen_perf.integrations import auto_instrument
    found = auto_instrument(packages=("anthropic", "openai", "kaizen_perf_no_such_client"))
    print("found", sorted(found))
    print("imported early", "anthropic" in sys.modules, "openai" in sys.modules)
    import anthropic
    from kaizen_perf.integrations import anthropic as kp
    print("anthropic instrumented", kp.is_instrumented())
    from kaizen_perf.integrations import openai as kpo
    print("openai instrumented", kpo.is_instrumented())
    import openai
    print("openai instrumented", kpo.is_instrumented())
""")


def test_auto_instrument_waits_for_the_import_and_then_instruments() -> None:
    """Installed clients are instrumented when the agent imports them, not imported eagerly."""
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()
    assert out == ["found ['anthropic', 'openai']", "imported early False False",
                   "anthropic instrumented True", "openai instrumented False",
                   "openai instrumented True"]


def test_auto_instrument_skips_missing_packages() -> None:
    """A client that is not installed is skipped without error."""
    assert auto_instrument(packages=("kaizen_perf_no_such_client",)) == []
