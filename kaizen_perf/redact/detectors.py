"""Rules made from the regular expressions of Yelp's detect-secrets, when it is installed.

A separate module because it is optional and slow to build (it imports every
plugin): :func:`detect_secrets_rules` runs once per process, on the first
default :class:`~kaizen_perf.redact.Redactor`, never at import.
"""

from __future__ import annotations

import re

from kaizen_perf.redact.rules import Rule

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


_DS_RULES: tuple[Rule, ...] | None = None


def detect_secrets_cached() -> tuple[Rule, ...]:
    """:func:`detect_secrets_rules`, built once per process (it imports every plugin)."""
    global _DS_RULES
    if _DS_RULES is None:
        _DS_RULES = detect_secrets_rules()
    return _DS_RULES
