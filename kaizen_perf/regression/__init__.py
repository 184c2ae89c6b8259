"""The regression engine: paired, interleaved benchmark comparison with gated verdicts.

Import-light on purpose: suite files import :func:`benchmark` from here inside
worker processes, so this module pulls in nothing but the decorator. The engine
lives in the submodules (``runner``, ``stats``, ``verdicts``, ``compare``…).
"""

from __future__ import annotations

from kaizen_perf.regression.decorator import benchmark

__all__ = ["benchmark"]
