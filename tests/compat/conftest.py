"""The ``api`` fixture: each API test runs on Kaizen's observability package and on compat."""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

KAIZEN = "kaizen.core.autonomy.observability"
COMPAT = "kaizen_perf.compat"
#: Kaizen's module layout, which compat mirrors name for name
MODULES = ("types", "metrics", "logging", "tracing_manager", "audit", "manager")


@dataclass(frozen=True)
class Api:
    """One implementation of the observability API: the package and its modules."""

    name: str
    pkg: ModuleType

    def mod(self, sub: str) -> ModuleType:
        """``<package>.<sub>``, e.g. ``api.mod("tracing_manager")``."""
        return importlib.import_module(f"{self.pkg.__name__}.{sub}")

    def __getattr__(self, item: str) -> Any:
        return getattr(self.pkg, item)


@pytest.fixture(params=[KAIZEN, COMPAT], ids=["kaizen", "compat"])
def api(request: pytest.FixtureRequest) -> Api:
    """Kaizen's ``kaizen.core.autonomy.observability``, then ``kaizen_perf.compat``."""
    name = request.param
    return Api("kaizen" if name == KAIZEN else "compat", importlib.import_module(name))


class Lines(logging.Handler):
    """Collects the messages a logger emits."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logger_name() -> Iterator[str]:
    """A fresh logger name (loggers are process-wide); its handlers are removed afterwards."""
    name = f"compat-test-{uuid.uuid4().hex[:8]}"
    yield name
    log = logging.getLogger(name)
    for handler in list(log.handlers):
        log.removeHandler(handler)
