"""Secrets on a command line: ``kaizen-perf run`` stores its child's argv in the run
directory, so values after secret-named flags and pattern matches are scrubbed first."""

from __future__ import annotations

from collections.abc import Iterable

from kaizen_perf.redact.engine import Redactor, default_redactor


def argv_secrets(argv: Iterable[str], redactor: Redactor | None = None) -> list[tuple[str, str]]:
    """``(original, replacement)`` for every command-line argument that holds a secret,
    longest first (to scrub files that quote the command line, such as profiles).

    A secret is the value after a flag named like a secret (``--api-key VALUE``,
    ``--token=VALUE``, ``OPENAI_API_KEY=VALUE``), or any part of an argument a
    pattern rule matches (``sk-ant-...``, ``https://user:PASSWORD@host``).
    """
    r = redactor or default_redactor()
    found: dict[str, str] = {}
    after_flag = False
    for arg in argv:
        name, eq, value = arg.partition("=")
        if after_flag and not arg.startswith("-") and arg:
            found[arg] = r.marker
        elif eq and value and name and r.is_secret_key(name.lstrip("-")):
            found[value] = r.marker
        else:
            cleaned = r.redact_text(arg)
            if cleaned != arg:
                found[arg] = cleaned
        after_flag = arg.startswith("-") and not eq and len(arg) > 1 \
            and r.is_secret_key(arg.lstrip("-"))
    return sorted(found.items(), key=lambda kv: len(kv[0]), reverse=True)


def redact_argv(argv: Iterable[str], redactor: Redactor | None = None) -> list[str]:
    """A command line with every secret argument (see :func:`argv_secrets`) replaced."""
    args = list(argv)
    pairs = argv_secrets(args, redactor)
    out = []
    for arg in args:
        for original, replacement in pairs:
            if original in arg:
                arg = arg.replace(original, replacement)
        out.append(arg)
    return out
