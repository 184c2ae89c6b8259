"""Every configuration file kaizen-perf reads fails the same way: a ConfigError naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kaizen_perf.alerts.config import load_rules
from kaizen_perf.cost import PriceTable
from kaizen_perf.errors import ConfigError
from kaizen_perf.regression.targets import load_targets

LOADERS: dict[str, tuple[Callable[[Path], Any], str, str]] = {
    "pricing": (lambda p: PriceTable.load(p, maintained=False), "pricing file",
                "KAIZEN_PERF_PRICING_FILE"),
    "alerts": (load_rules, "alert rule file", "KAIZEN_PERF_ALERT_RULES"),
    "targets": (lambda p: load_targets(p.parent, p), "parity targets file", "--targets"),
}


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_missing_file_names_the_file_and_the_setting(kind: str, tmp_path: Path) -> None:
    """A file that is not there is a ConfigError with its path and where the path came from."""
    load, what, setting = LOADERS[kind]
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as err:
        load(missing)
    assert str(err.value).startswith(f"Cannot read {what} {str(missing)!r}: ")
    assert setting in str(err.value)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_malformed_file_says_it_is_not_toml(kind: str, tmp_path: Path) -> None:
    """A file with a TOML syntax error is a ConfigError that quotes tomllib's position."""
    load, what, _ = LOADERS[kind]
    broken = tmp_path / "broken.toml"
    broken.write_text("key = [1,\n  2 3]\n")
    with pytest.raises(ConfigError) as err:
        load(broken)
    assert str(err.value).startswith(f"{what.capitalize()} {str(broken)!r} is not valid TOML: ")
    assert "line 2" in str(err.value)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_binary_file_is_a_config_error_not_a_traceback(kind: str, tmp_path: Path) -> None:
    """Bytes that are not UTF-8 (a file passed by mistake) are a ConfigError too."""
    load, what, setting = LOADERS[kind]
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00gate")
    with pytest.raises(ConfigError, match="is not UTF-8 text") as err:
        load(binary)
    assert setting in str(err.value) and what[1:] in str(err.value)
