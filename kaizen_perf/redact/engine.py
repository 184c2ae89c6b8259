"""The redaction engine: every rule in one alternation, applied in one left-to-right pass.

Why one pass: with one search per rule, one rule replaces half a secret and the next
no longer recognises the rest. Why hints: with ~50 rules, compiling and running the
whole alternation on every short clean string (agent, tool and event names) would
cost more than the rest of a log line; a text is searched only with the rules whose
literals it contains, and clean short strings are remembered.

Thread safety: a :class:`Redactor` is shared by the dispatcher and export threads
without a lock. Its configuration is fixed at construction; its caches are plain
dicts whose single get/set operations are atomic under the GIL, bounded, and never
hold a secret (only clean texts and key verdicts), so a race costs at most a
recomputation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kaizen_perf.errors import ConfigError
from kaizen_perf.redact.detectors import detect_secrets_cached
from kaizen_perf.redact.rules import (
    DEFAULT_KEY_SUFFIXES,
    DEFAULT_KEYS,
    DEFAULT_RULES,
    MARKER,
    MORE_RULES,
    Rule,
    normalise_key,
)

_MAX_DEPTH = 32


def _hints_of(rules: tuple[Rule, ...], *, nocase: bool) -> dict[str, set[int]]:
    """hint -> indices of the rules (case-insensitive ones, or the others) it activates."""
    out: dict[str, set[int]] = {}
    for i, rule in enumerate(rules):
        if rule.ignore_case == nocase:
            for hint in rule.hints:
                out.setdefault(hint, set()).add(i)
    return out


class _HintFinder:
    """Which rules' hints occur in a text, in one regex pass (C) instead of a substring test
    per hint (Python): with ~50 rules that loop cost more than the matching.

    The pattern is an alternation of the hints, longest first, searched again from one past
    each hit, so at each position the longest hint there is reported; a hint also activates
    the rules of every hint that is a prefix of it (those start at the same position and
    would be shadowed)."""

    def __init__(self, hints: dict[str, set[int]]) -> None:
        self._rules: dict[str, tuple[int, ...]] = {
            h: tuple(sorted(set().union(*(idx for p, idx in hints.items() if h.startswith(p)))))
            for h in hints}
        ordered = sorted(hints, key=len, reverse=True)
        # a plain alternation of literals: sre skips positions by their first character
        self._search = re.compile("|".join(map(re.escape, ordered))).search \
            if ordered else None

    def rules_in(self, text: str) -> tuple[int, ...]:
        """Indices of the rules whose hints occur in ``text``."""
        search = self._search
        if search is None:
            return ()
        m = search(text)
        if m is None:
            return ()
        found: set[str] = set()
        while m is not None:  # restart one past each hit: overlapping hints are found too
            found.add(m.group())
            m = search(text, m.start() + 1)
        rules = self._rules
        return tuple({i for h in found for i in rules[h]})


class Redactor:
    """Scrubs secrets from strings and nested mappings/lists, by key and by pattern."""

    def __init__(self, *, keys: Iterable[str] = DEFAULT_KEYS,
                 key_suffixes: Iterable[str] = DEFAULT_KEY_SUFFIXES,
                 rules: Iterable[Rule] | None = None, extra_keys: Iterable[str] = (),
                 extra_rules: Iterable[Rule] = (), marker: str = MARKER) -> None:
        if rules is None:
            rules = (*DEFAULT_RULES, *MORE_RULES, *detect_secrets_cached())
        self.keys = frozenset(normalise_key(k) for k in (*keys, *extra_keys))
        self.key_suffixes = tuple(normalise_key(k) for k in key_suffixes)
        self.rules = (*rules, *extra_rules)
        self.marker = marker
        self._pattern = _compile(self.rules, range(len(self.rules)))
        self._by_group = {f"r{i}": rule for i, rule in enumerate(self.rules)}
        self._always = tuple(i for i, r in enumerate(self.rules)
                             if not r.hints and not r.needs_token)
        self._token_rules = tuple(i for i, r in enumerate(self.rules) if r.needs_token)
        self._finders = (_HintFinder(_hints_of(self.rules, nocase=False)),
                         _HintFinder(_hints_of(self.rules, nocase=True)))
        self._subsets: dict[tuple[int, ...], re.Pattern[str] | None] = {}
        self._key_cache: dict[str, bool] = {}
        # clean short strings repeat (agent, tool, event names): remember them, never secrets
        self._clean: dict[str, None] = {}

    def is_secret_key(self, key: object) -> bool:
        """True when a mapping entry with this key must have its value hidden."""
        raw = key if isinstance(key, str) else str(key)
        hit = self._key_cache.get(raw)
        if hit is None:
            norm = normalise_key(raw)
            hit = norm in self.keys or norm.endswith(self.key_suffixes)
            if len(self._key_cache) < 4096:  # bounded: keys can be data
                self._key_cache[raw] = hit
        return hit

    def redact_text(self, text: str) -> str:
        """``text`` with every pattern match replaced (the same object when nothing matched)."""
        if text in self._clean:
            return text
        pattern = self._pattern_for(text)
        if pattern is None or pattern.search(text) is None:
            if len(text) <= 256:
                if len(self._clean) >= 8192:
                    self._clean.clear()  # bounded; a race here only costs a recomputation
                self._clean[text] = None
            return text
        return pattern.sub(self._replace, text)

    def _pattern_for(self, text: str) -> re.Pattern[str] | None:
        """The combined pattern of the rules whose hints occur in ``text`` (one pass still
        resolves overlaps: a rule whose hints are absent cannot match anyway)."""
        low = text.lower()
        found = self._always + self._finders[0].rules_in(text) + self._finders[1].rules_in(low)
        if self._token_rules and _TOKEN_RUN.search(text) is not None:
            found += self._token_rules
        active = tuple(sorted(found))  # rule order decides ties
        if len(active) == len(self.rules):
            return self._pattern
        pattern = self._subsets.get(active, False)
        if pattern is False:
            pattern = _compile(self.rules, active) if active else None
            if len(self._subsets) < 512:  # bounded; past it, compile is cached by re anyway
                self._subsets[active] = pattern
        return pattern  # type: ignore[return-value]

    def _replace(self, match: re.Match[str]) -> str:
        rule = self._by_group[match.lastgroup or ""]
        marker = f"[REDACTED:{rule.name}]" if self.marker == MARKER else self.marker
        text = match.group()
        return marker if rule.scrub is None else rule.scrub(text, marker)

    def redact(self, obj: Any, _depth: int = 0) -> Any:
        """A scrubbed copy of ``obj`` (mappings, lists, tuples, sets and strings; others as is)."""
        if isinstance(obj, str):
            return self.redact_text(obj)
        if _depth >= _MAX_DEPTH:  # cycles and pathological nesting
            return self.marker
        if isinstance(obj, Mapping):
            return {k: (self._hide(v) if self.is_secret_key(k) else self.redact(v, _depth + 1))
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.redact(v, _depth + 1) for v in obj]
        if isinstance(obj, tuple):  # named tuples become plain tuples: fields may change type
            return tuple(self.redact(v, _depth + 1) for v in obj)
        if isinstance(obj, set | frozenset):
            return type(obj)(self.redact(v, _depth + 1) for v in obj)
        return obj

    def _hide(self, value: Any) -> Any:
        return value if value is None or value == "" else self.marker

    def __call__(self, obj: Any) -> Any:
        return self.redact(obj)


def _compile(rules: tuple[Rule, ...], active: Iterable[int]) -> re.Pattern[str]:
    parts = []
    for i in active:
        rule = rules[i]
        try:
            own = re.compile(rule.pattern)
        except re.error as exc:
            msg = (f"Redaction rule {rule.name!r} has an invalid pattern {rule.pattern!r}: "
                   f"{exc}. Fix the regular expression.")
            raise ConfigError(msg) from None
        if own.groupindex:
            msg = (f"Redaction rule {rule.name!r} uses named groups {sorted(own.groupindex)}; "
                   "use unnamed groups (the rules are combined into one pattern).")
            raise ConfigError(msg)
        body = f"(?i:{rule.pattern})" if rule.ignore_case else rule.pattern
        parts.append(f"(?P<r{i}>{body})")
    return re.compile("|".join(parts) if parts else r"(?!)")


_TOKEN_RUN = re.compile(r"[^\s\"'`,;()<>\[\]{}]{20,}")
_DEFAULT: Redactor | None = None


def default_redactor() -> Redactor:
    """The shared redactor with the default rules (built on first use, not at import)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Redactor()
    return _DEFAULT


def redact(obj: Any) -> Any:
    """Scrub ``obj`` with the default rules: see :class:`Redactor`."""
    return default_redactor().redact(obj)


def redact_text(text: str) -> str:
    """Scrub one string with the default rules."""
    return default_redactor().redact_text(text)
