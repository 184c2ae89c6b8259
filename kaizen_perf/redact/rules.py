"""The built-in redaction rules: secret formats, card numbers, and secret key names.

Order matters: all rules are folded into one alternation in this order, and at a
position where two match, the first wins (``anthropic_key`` before ``openai_key``,
whose ``sk-`` prefix it shares). The engine is in :mod:`kaizen_perf.redact.engine`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MARKER = "[REDACTED]"


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
