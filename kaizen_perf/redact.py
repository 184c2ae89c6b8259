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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kaizen_perf.errors import ConfigError

MARKER = "[REDACTED]"
_MAX_DEPTH = 32


@dataclass(frozen=True)
class Rule:
    """One pattern rule: matches of ``pattern`` are replaced by ``[REDACTED:name]``.

    ``scrub`` (optional) turns a match into its replacement itself, given the
    matched text and the marker: to keep a prefix, or to validate (return the
    text unchanged to keep it). ``hints`` (optional) are literals of which at
    least one occurs in every match (lower case when ``ignore_case``): a text
    containing none of them skips the rule, which keeps clean text cheap.
    """

    name: str
    pattern: str
    ignore_case: bool = False
    scrub: Callable[[str, str], str] | None = None
    hints: tuple[str, ...] = ()
    #: the rule only matches inside a run of 20+ characters without spaces or quotes: a text
    #: with no such run skips it (one cheap search shared by every such rule)
    needs_token: bool = False


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _issuer_ok(digits: str) -> bool:
    """Visa, Mastercard (51-55, 2221-2720), Amex, Discover, Diners, JCB: cuts false positives
    such as 13-digit millisecond timestamps, a tenth of which pass Luhn by chance."""
    if digits[0] in "3456":
        return True
    return digits[0] == "2" and 2221 <= int(digits[:4]) <= 2720


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and _issuer_ok(digits) and _luhn_ok(digits)


_GROUP = re.compile(r"\d+")


def _scrub_card(text: str, marker: str) -> str:
    """Replace the longest run of whole digit groups that is a valid card number."""
    if _is_card(re.sub(r"[ -]", "", text)):
        return marker
    groups = [(m.start(), m.end(), m.group()) for m in _GROUP.finditer(text)]
    best: tuple[int, int] | None = None
    for i in range(len(groups)):
        digits = ""
        for j in range(i, len(groups)):
            digits += groups[j][2]
            if len(digits) > 19:
                break
            span = (groups[i][0], groups[j][1])
            if _is_card(digits) and (best is None or span[1] - span[0] > best[1] - best[0]):
                best = span
    if best is None:
        return text
    return text[: best[0]] + marker + text[best[1]:]


def _keep_prefix(pattern: str) -> Callable[[str, str], str]:
    """A scrub that keeps group 1 (``password=``) and replaces the rest."""
    compiled = re.compile(pattern, re.IGNORECASE)

    def scrub(text: str, marker: str) -> str:
        match = compiled.match(text)
        return text if match is None else match.group(1) + marker
    return scrub


# the key name may carry any prefix (db_password, GITHUB_TOKEN): the match starts at the
# keyword, and the prefix stays in the text
_KV = (r"((?:api[_-]?key|secret[_-]?(?:access[_-]?)?key"
       r"|private[_-]?key|password|passwd|secret|token|authorization|cookie)"
       r"[\"']?\s*[:=]\s*[\"']?)"
       r"(?:(?:bearer|basic|token)\s+)?[^\s\"',;&]+")
_BEARER = r"(\b(?:bearer|basic)\s+)[A-Za-z0-9\-._~+/]{16,}=*"

_AN = "(?<![A-Za-z0-9])"
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("private_key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE "
                        r"KEY-----", hints=("PRIVATE KEY-----",)),
    # before openai_key: both start with "sk-" and the first alternative wins
    Rule("anthropic_key", _AN + r"sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_\-]{20,}", hints=("sk-ant-",)),
    Rule("openai_key", _AN + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
         hints=("sk-",)),
    Rule("aws_access_key_id", r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])",
         hints=("AKIA", "ASIA", "ABIA", "ACCA")),
    Rule("github_token", _AN + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
         hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    Rule("slack_token", _AN + r"xox[abpors]-[A-Za-z0-9-]{10,}", hints=("xox",)),
    Rule("jwt", _AN + r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
         hints=("eyJ",)),
    Rule("credential", _KV, ignore_case=True, scrub=_keep_prefix(_KV),
         hints=("key", "passw", "secret", "token", "authorization", "cookie")),
    Rule("bearer", _BEARER, ignore_case=True, scrub=_keep_prefix(_BEARER),
         hints=("bearer", "basic")),
    Rule("email", r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                  r"\.[A-Za-z]{2,}(?![A-Za-z0-9-])", hints=("@",)),
    Rule("card", r"(?<!\d)\d(?:[ -]?\d){12,30}(?!\d)", scrub=_scrub_card,
         hints=tuple("0123456789")),
)

def _mixed(text: str, marker: str) -> str:
    """A bare 40-character AWS secret access key has upper and lower case letters and digits
    (a git SHA-1 or a word run does not): hide it, keep anything else."""
    if any(c.isupper() for c in text) and any(c.islower() for c in text) \
            and any(c.isdigit() for c in text):
        return marker
    return text


#: formats added for issue 19 (Stripe, Google, Hugging Face, bare AWS secret keys, and more);
#: before the detect-secrets rules, so a full key wins over a detector that knows its prefix
MORE_RULES: tuple[Rule, ...] = (
    Rule("stripe_key", _AN + r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}|" + _AN
         + r"whsec_[0-9A-Za-z]{24,}", hints=("k_live_", "k_test_", "whsec_")),
    Rule("google_api_key", _AN + r"AIza[0-9A-Za-z_\-]{35}", hints=("AIza",)),
    Rule("google_oauth_token", _AN + r"ya29\.[0-9A-Za-z_\-]{20,}", hints=("ya29.",)),
    Rule("huggingface_token", _AN + r"hf_[A-Za-z0-9]{30,}", hints=("hf_",)),
    Rule("gitlab_token", _AN + r"gl(?:pat|dt|ft|rt|soat)-[A-Za-z0-9_\-]{20,}",
         hints=("glpat-", "gldt-", "glft-", "glrt-", "glsoat-")),
    Rule("npm_token", _AN + r"npm_[A-Za-z0-9]{36}", hints=("npm_",)),
    Rule("pypi_token", _AN + r"pypi-AgE[A-Za-z0-9_\-]{50,}", hints=("pypi-",)),
    Rule("digitalocean_token", _AN + r"do[pro]_v1_[a-f0-9]{64}", hints=("_v1_",)),
    Rule("databricks_token", _AN + r"dapi[a-f0-9]{32}(?:-\d)?", hints=("dapi",)),
    Rule("shopify_token", _AN + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", hints=("shp",)),
    Rule("aws_secret_access_key",
         r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", scrub=_mixed,
         needs_token=True),
)


#: literals one of which occurs in every match of a detector's patterns (lower case for
#: case-insensitive ones): a text without any skips the detector. A detector missing here
#: (a newer detect-secrets) runs on every text: correct, only slower.
_DS_HINTS: dict[str, tuple[str, ...]] = {
    "ArtifactoryDetector": ("AKC", "AP"), "AzureStorageKeyDetector": ("AccountKey=",),
    "AWSKeyDetector": ("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "aws", "AWS", "Aws"),
    "BasicAuthDetector": ("://",),
    "GitHubTokenDetector": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitLabTokenDetector": ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "GR1348941",
                            "glcbt-", "glimt-", "glptt-", "glagent-", "gloas-"),
    "JwtTokenDetector": ("eyJ",), "MailchimpDetector": ("-us",), "NpmDetector": ("_authToken",),
    "OpenAIDetector": ("T3BlbkFJ",), "PypiTokenDetector": ("pypi-",), "SendGridDetector": ("SG.",),
    "SlackDetector": ("xox", "hooks.slack.com"), "SquareOAuthDetector": ("sq0csp-",),
    "StripeDetector": ("k_live_",),
    "TwilioKeyDetector": ("AC", "SK"),
}
#: detectors with no literal to look for, whose matches are long runs without spaces
_DS_TOKEN_SHAPED = frozenset({"DiscordBotTokenDetector", "TelegramBotTokenDetector"})
#: detectors left out: not secrets (public IPs), covered better by our own rule (the whole
#: private-key block), or vendor keyword detectors whose ``key=``/``password=`` forms our
#: ``credential`` rule already hides and that would otherwise run on nearly every text
_DS_SKIP = frozenset({"IPPublicDetector", "PrivateKeyDetector", "CloudantDetector",
                      "IbmCloudIamDetector", "IbmCosHmacDetector", "SoftlayerDetector"})


def detect_secrets_rules() -> tuple[Rule, ...]:
    """The regular-expression detectors of Yelp's detect-secrets (a maintained rule set:
    Artifactory, AWS, Azure storage, basic auth in URLs, Discord, GitLab, JWT, Mailchimp,
    npm, PyPI, SendGrid, Slack webhooks, Square, Stripe, Telegram, Twilio...), when the
    package is installed; () otherwise. Its public-IP detector (not a secret) and its
    private-key header detector (ours hides the whole block) are left out.

    Only the patterns are used, folded into the one-pass alternation: detect-secrets' own
    scanning (a plugin object and a search per detector) costs far more per record.
    """
    try:
        from detect_secrets.plugins.base import RegexBasedDetector
    except ImportError:
        return ()
    import importlib
    import inspect
    import pkgutil

    import detect_secrets.plugins as plugins

    rules: list[Rule] = []
    for info in sorted(pkgutil.iter_modules(plugins.__path__), key=lambda m: m.name):
        try:
            module = importlib.import_module(f"detect_secrets.plugins.{info.name}")
        except Exception:  # a plugin with missing extras: skip it
            continue
        for name, cls in sorted(inspect.getmembers(module, inspect.isclass)):
            if (not issubclass(cls, RegexBasedDetector) or cls is RegexBasedDetector
                    or cls.__module__ != module.__name__ or name in _DS_SKIP):
                continue
            for compiled in cls().denylist:
                rules.append(_from_detector(f"ds_{name.removesuffix('Detector').lower()}",
                                            compiled, _DS_HINTS.get(name, ()),
                                            name in _DS_TOKEN_SHAPED))
    return tuple(rules)


def _from_detector(name: str, compiled: re.Pattern[str], hints: tuple[str, ...],
                   needs_token: bool) -> Rule:
    """A rule from one detect-secrets pattern: its flags scoped to it, and the secret (the
    first group when the pattern has one, else the whole match) replaced."""
    nocase = bool(compiled.flags & re.IGNORECASE)
    flags = "".join(f for f, bit in (("x", re.VERBOSE), ("s", re.DOTALL), ("m", re.MULTILINE))
                    if compiled.flags & bit)
    pattern = f"(?{flags}:{compiled.pattern})" if flags else compiled.pattern
    if nocase:
        hints = tuple(h.lower() for h in hints)

    def scrub(text: str, marker: str) -> str:
        m = compiled.search(text)
        if m is None or not m.lastindex or m.group(1) is None:
            return marker
        return text[:m.start(1)] + marker + text[m.end(1):]
    return Rule(name, pattern, ignore_case=nocase, scrub=scrub, hints=hints,
                needs_token=needs_token)


DEFAULT_KEYS: frozenset[str] = frozenset({
    "apikey", "xapikey", "authorization", "proxyauthorization", "auth", "password", "passwd",
    "pwd", "passphrase", "secret", "clientsecret", "token", "accesstoken",
    "refreshtoken", "idtoken", "sessiontoken", "authtoken", "cookie", "setcookie",
    "privatekey", "secretkey", "awssecretaccesskey", "credentials", "credential", "sessionid",
    "creditcard", "cardnumber", "ssn",
})
#: a normalised key ending with one of these is a secret too (``github_token``, ``db_password``)
DEFAULT_KEY_SUFFIXES: tuple[str, ...] = (
    "apikey", "password", "passwd", "secret", "token", "secretkey", "privatekey",
    "accesskey", "credentials",
)

_NORMALISE = str.maketrans("", "", "-_. ")


def normalise_key(key: object) -> str:
    """The form key rules compare: lower case without ``-``, ``_``, ``.`` or spaces."""
    return str(key).lower().translate(_NORMALISE)


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
            rules = (*DEFAULT_RULES, *MORE_RULES, *_detect_secrets_cached())
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


_DS_RULES: tuple[Rule, ...] | None = None


def _detect_secrets_cached() -> tuple[Rule, ...]:
    global _DS_RULES
    if _DS_RULES is None:
        _DS_RULES = detect_secrets_rules()
    return _DS_RULES


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

