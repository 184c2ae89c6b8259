"""The one TOML file reader: every configuration file's read error is a ``ConfigError``.

Pricing files, alert rule files and parity targets are all user files read at
start-up, so an unreadable or malformed one must stop the command with a message
that names the file and how to point at another, never with a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from kaizen_perf.errors import ConfigError


def read_toml(path: str | Path, what: str, fix: str) -> dict[str, Any]:
    """The parsed document of ``path``; ``what`` names the file in errors, ``fix`` ends them.

    ``what`` is lower case ("pricing file"); ``fix`` is a sentence such as
    "Check KAIZEN_PERF_PRICING_FILE.".
    """
    shown = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
        return tomllib.loads(text)
    except OSError as exc:
        msg = f"Cannot read {what} {shown!r}: {exc.strerror or exc}. {fix}"
    except UnicodeDecodeError as exc:
        msg = f"{what[:1].upper()}{what[1:]} {shown!r} is not UTF-8 text ({exc.reason}). {fix}"
    except tomllib.TOMLDecodeError as exc:
        msg = f"{what[:1].upper()}{what[1:]} {shown!r} is not valid TOML: {exc}."
    # from None: the message says everything; the chained traceback would only hide it.
    raise ConfigError(msg) from None
