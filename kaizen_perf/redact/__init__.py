"""Secret and PII scrubbing for logs, span attributes and audit details.

Two kinds of rule:

- **keys**: a mapping entry whose key names a secret (``api_key``,
  ``Authorization``, ``password``, ``aws_secret_access_key``…) has its value
  replaced whatever it holds. Key names are compared after lower-casing and
  dropping ``-``, ``_``, ``.`` and spaces, so ``X-Api-Key`` and ``api_key`` are
  one rule. Counting fields such as ``input_tokens`` or ``max_tokens`` are not
  secrets and stay.
- **patterns**: every string (also inside lists and nested mappings) is
  scanned for Anthropic keys (``sk-ant-api03-…``, admin, oat, ort), OpenAI
  keys, AWS access key ids, GitHub and Slack tokens, JWTs, PEM private keys,
  bearer/basic credentials, ``password=…``-style pairs, e-mail addresses and
  Luhn-valid payment card numbers.

Overlapping matches are the known trap of regex scrubbers (one rule replaces
half a secret, the next no longer recognises the rest). All patterns are
therefore compiled into ONE alternation and applied in a single left-to-right
pass; each match is replaced as a whole. Card candidates are validated with
Luhn and an issuer prefix; a candidate that fails as a whole is searched for a
valid card made of its digit groups (``order 12 4111 1111 1111 1111``).

Replacements name the rule (``[REDACTED:anthropic_key]``) so a reader knows
what was there without seeing it. ``Redactor`` is immutable and thread-safe.

Modules: ``rules`` (the built-in rules and secret key names), ``detectors``
(detect-secrets' patterns as rules), ``engine`` (:class:`Redactor`), ``argv``
(command lines). Everything public is importable from ``kaizen_perf.redact``.
"""

from __future__ import annotations

from kaizen_perf.redact.argv import argv_secrets, redact_argv
from kaizen_perf.redact.detectors import detect_secrets_rules
from kaizen_perf.redact.engine import Redactor, default_redactor, redact, redact_text
from kaizen_perf.redact.rules import (
    DEFAULT_KEY_SUFFIXES,
    DEFAULT_KEYS,
    DEFAULT_RULES,
    MARKER,
    MORE_RULES,
    Rule,
    normalise_key,
)

__all__ = ["DEFAULT_KEYS", "DEFAULT_KEY_SUFFIXES", "DEFAULT_RULES", "MARKER", "MORE_RULES",
           "Redactor", "Rule", "argv_secrets", "default_redactor", "detect_secrets_rules",
           "normalise_key", "redact", "redact_argv", "redact_text"]
