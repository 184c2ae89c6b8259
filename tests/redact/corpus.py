"""A generated corpus of planted secrets (every kind the redactor knows) and near misses.

Secrets are random but deterministic (seeded), embedded in the contexts where they
leak in practice: prose, ``key=value`` pairs, JSON text, URLs, HTTP headers.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator

_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits
_HEX = "0123456789abcdef"


def _s(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def luhn_complete(prefix_and_body: str) -> str:
    """Append the Luhn check digit."""
    for check in "0123456789":
        digits = prefix_and_body + check
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch)
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16),
                                 ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("35", 19)])
    digits = luhn_complete(prefix + _s(rng, length - len(prefix) - 1, string.digits))
    sep = rng.choice(["", " ", "-"])
    if sep and length == 16:
        return sep.join(digits[i:i + 4] for i in range(0, 16, 4))
    return digits


KINDS: dict[str, Callable[[random.Random], str]] = {
    "anthropic_api": lambda r: f"sk-ant-api03-{_s(r, 93, _ALNUM + '-_')}AA",
    "anthropic_admin": lambda r: f"sk-ant-admin01-{_s(r, 93, _ALNUM + '-_')}AA",
    "anthropic_oat": lambda r: f"sk-ant-oat01-{_s(r, 95, _ALNUM + '-_')}",
    "anthropic_ort": lambda r: f"sk-ant-ort01-{_s(r, 95, _ALNUM + '-_')}",
    "openai_legacy": lambda r: f"sk-{_s(r, 48)}",
    "openai_project": lambda r: f"sk-proj-{_s(r, 120, _ALNUM + '-_')}",
    "openai_svcacct": lambda r: f"sk-svcacct-{_s(r, 60, _ALNUM + '-_')}",
    "aws_access_key_id": lambda r: f"{r.choice(['AKIA', 'ASIA'])}{_s(r, 16, _UPPER)}",
    "github_token": lambda r: f"ghp_{_s(r, 36)}",
    "slack_token": lambda r: f"xoxb-{_s(r, 12, string.digits)}-{_s(r, 24)}",
    "jwt": lambda r: f"eyJ{_s(r, 30)}.eyJ{_s(r, 40)}.{_s(r, 43, _ALNUM + '-_')}",
    "email": lambda r: (f"{_s(r, 6, string.ascii_lowercase)}.{_s(r, 4, string.ascii_lowercase)}"
                        f"@{_s(r, 7, string.ascii_lowercase)}.{r.choice(['com', 'io', 'co.uk'])}"),
    "card": _card,
    # issue 19: formats that leaked, and more from detect-secrets' rule set
    "stripe_live": lambda r: f"sk_live_{_s(r, 99)}",
    "stripe_restricted": lambda r: f"rk_live_{_s(r, 24)}",
    "stripe_webhook": lambda r: f"whsec_{_s(r, 32)}",
    "google_api_key": lambda r: f"AIza{_s(r, 35, _ALNUM + '-_')}",
    "google_oauth": lambda r: f"ya29.{_s(r, 60, _ALNUM + '-_')}",
    "huggingface": lambda r: f"hf_{_s(r, 34)}",
    "aws_secret_bare": lambda r: f"Ab7{_s(r, 37, _ALNUM + '/+')}",
    "gitlab_token": lambda r: f"glpat-{_s(r, 20, _ALNUM + '-_')}",
    "npm_token": lambda r: f"npm_{_s(r, 36)}",
    "pypi_token": lambda r: f"pypi-AgEIcHlwaS5vcmc{_s(r, 80, _ALNUM + '-_')}",
    "sendgrid": lambda r: f"SG.{_s(r, 22, _ALNUM + '-_')}.{_s(r, 43, _ALNUM + '-_')}",
    "twilio": lambda r: f"SK{_s(r, 32, _HEX)}",
    "telegram_bot": lambda r: f"{_s(r, 9, string.digits)}:{_s(r, 35, _ALNUM + '_-')}",
    "discord_bot": lambda r: f"M{_s(r, 23)}.{_s(r, 6)}.{_s(r, 27)}",
    "digitalocean": lambda r: f"dop_v1_{_s(r, 64, _HEX)}",
    "databricks": lambda r: f"dapi{_s(r, 32, _HEX)}",
    "shopify": lambda r: f"shpat_{_s(r, 32, _HEX)}",
    "mailchimp": lambda r: f"{_s(r, 32, _HEX)}-us{r.randint(1, 20)}",
}

# (kind, template): {} is where the secret goes; the text around it must survive
CONTEXTS: list[str] = [
    "{}",
    "the key is {} ok",
    "config: {}\nnext line",
    '{{"value": "{}", "n": 1}}',
    "https://api.example.com/v1?x=1&k={}&y=2",
    "({})",
    "'{}'",
    "failed with {}.",
]

# secrets that only count as such in their context (the value has no recognisable shape)
CONTEXTUAL: list[tuple[str, str]] = [
    ("password=hunter2trustno1", "hunter2trustno1"),
    ("db_password: 'c0rrect-h0rse'", "c0rrect-h0rse"),
    ('{"api_key": "plainvalue123"}', "plainvalue123"),
    ("Authorization: Bearer abcdefghijklmnopqrstuvwx0123", "abcdefghijklmnopqrstuvwx0123"),
    ("authorization=Basic dXNlcjpwYXNzd29yZDEyMzQ=", "dXNlcjpwYXNzd29yZDEyMzQ="),
    ("curl -H 'Authorization: token 1234567890abcdef1234'", "1234567890abcdef1234"),
    ("got bearer QWERTYUIOPASDFGHJKLZ.xcvbnm from header", "QWERTYUIOPASDFGHJKLZ.xcvbnm"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("GITHUB_TOKEN=abc123notashape", "abc123notashape"),
    ("Cookie: sessionid=38afes7a8", "38afes7a8"),
    ("https://x.io/cb?access_token=opaque-42&state=1", "opaque-42"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
     "MIIEpAIBAAKCAQEA7"),
    # overlap traps: a secret inside another rule's match, and a card after other digits
    ("token=sk-ant-api03-" + "Z" * 60, "Z" * 60),
    ("order 12 4111 1111 1111 1111 shipped", "4111 1111 1111 1111"),
    ("mail sk-proj-" + "q" * 30 + "@example.com", "q" * 30),
    ("https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx",
     "abcdefghijklmnopqrstuvwx"),
    ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + "Q" * 86 + "==;",
     "Q" * 86),
    ("postgres://admin:s3cr3tPassw0rd@db.internal:5432/app", "s3cr3tPassw0rd"),
]

NEAR_MISSES: list[str] = [
    "max_tokens: 1200, input_tokens=5, output_tokens = 7",
    "the tokenizer: bpe; token_count 12",
    "sk-learn and scikit-learn; risk-management-framework-for-teams",
    "sk-ant is a prefix but sk-ant-api03-short is too short",
    "bearer of bad news",
    "password policy requires 12 characters",
    "contact us at the office (no address given)",
    "@decorator and user@localhost and a@b",
    "version 1.2.3.4 built 2025-01-31T12:00:00Z",
    "epoch 1700000000000 ms and 1700000000123",
    "order 4111 1111 1111 1112 fails luhn",
    "serial 1234567890123456 is not an issuer prefix",
    "phone +1 415 555 0100",
    "AKIA is a prefix; AKIAshort",
    "uuid 3f2b6a1e-9c7d-4e8f-a0b1-c2d3e4f5a6b7",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "eyJ alone is not a token",
    "path /home/user/.ssh/id_rsa.pub",
    "git commit 646304b and ghp_ without body",
    "full sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b and sk_live_ alone",
    "a/very/long/lowercase/path/with/segments/x and hf_ alone",
]


def planted(seed: int = 1234, per_kind: int = 20) -> Iterator[tuple[str, str, str]]:
    """``(kind, text, secret)`` for every kind × context × instance."""
    rng = random.Random(seed)
    for kind, make in KINDS.items():
        for _ in range(per_kind):
            secret = make(rng)
            for template in CONTEXTS:
                yield kind, template.format(secret), secret
