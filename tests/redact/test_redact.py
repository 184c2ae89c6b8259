"""Redaction: every planted secret is caught, near misses stay, structure is preserved."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from kaizen_perf.errors import ConfigError
from kaizen_perf.redact import Redactor, Rule, redact, redact_text
from tests.redact.corpus import CONTEXTS, CONTEXTUAL, KINDS, NEAR_MISSES, luhn_complete, planted

_MARK = re.compile(r"\[REDACTED:[a-z_]+\]")


def test_every_planted_secret_is_caught_and_the_context_survives() -> None:
    """Each kind of secret in each context is replaced, and only the secret is replaced."""
    caught: Counter[str] = Counter()
    total = 0
    for kind, text, secret in planted():
        total += 1
        out = redact_text(text)
        assert secret not in out, (kind, text, out)
        template = next(t for t in CONTEXTS if t.format(secret) == text)
        before, _, after = template.format("\0").partition("\0")
        assert out.startswith(before) and out.endswith(after), (kind, text, out)
        assert _MARK.fullmatch(out[len(before):len(out) - len(after)]), (kind, out)
        caught[kind] += 1
    assert total == len(KINDS) * len(CONTEXTS) * 20
    assert set(caught) == set(KINDS)


@pytest.mark.parametrize(("text", "secret"), CONTEXTUAL)
def test_secrets_recognised_by_their_context_are_caught(text: str, secret: str) -> None:
    """Values named as credentials (password=, Bearer, Cookie…) are hidden whatever their shape."""
    out = redact_text(text)
    assert secret not in out
    assert "[REDACTED:" in out


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_left_alone(text: str) -> None:
    """Token counts, short prefixes, Luhn-invalid numbers and timestamps are not redacted."""
    assert redact_text(text) == text


def test_overlapping_secret_in_a_credential_pair_is_hidden_whole() -> None:
    """A key inside a key=value pair is replaced in one piece, with the key name kept."""
    out = redact_text("token=sk-ant-api03-" + "A" * 60 + " rest")
    assert out == "token=[REDACTED:credential] rest"


def test_bearer_scheme_does_not_shield_the_token_after_it() -> None:
    """`Authorization: Bearer X` hides X, not just the word Bearer."""
    out = redact_text("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345 next")
    assert out == "Authorization: [REDACTED:credential] next"


def test_card_after_unrelated_digits_is_found_by_its_groups() -> None:
    """A valid card preceded by other digit groups is still caught, the other digits kept."""
    card = luhn_complete("411111111111111")
    grouped = " ".join(card[i:i + 4] for i in range(0, 16, 4))
    assert redact_text(f"ref 12 {grouped} end") == "ref 12 [REDACTED:card] end"


def test_nested_structures_are_scrubbed_by_key_and_pattern() -> None:
    """Mappings inside lists inside mappings are scrubbed; counts and types are kept."""
    data = {
        "api_key": "anything",
        "X-Api-Key": 12345,
        "usage": {"input_tokens": 10, "max_tokens": 100, "token_count": 4},
        "messages": [{"Authorization": "Bearer x"}, "mail me: ann@example.org"],
        "pair": ("sk-" + "x" * 48, 3),
        "empties": {"password": None, "token": ""},
        "credentials": {"user": "u", "pw": "p"},
    }
    out = redact(data)
    assert out["api_key"] == "[REDACTED]"
    assert out["X-Api-Key"] == "[REDACTED]"
    assert out["usage"] == {"input_tokens": 10, "max_tokens": 100, "token_count": 4}
    assert out["messages"] == [{"Authorization": "[REDACTED]"}, "mail me: [REDACTED:email]"]
    assert out["pair"] == ("[REDACTED:openai_key]", 3)
    assert out["empties"] == {"password": None, "token": ""}
    assert out["credentials"] == "[REDACTED]"
    assert data["api_key"] == "anything", "the input must not be modified"


def test_key_names_match_after_normalisation() -> None:
    """api_key, API-KEY, apiKey and github_token are secret keys; input_tokens is not."""
    r = Redactor()
    for key in ("api_key", "API-KEY", "apiKey", "github_token", "DB_PASSWORD", "client.secret"):
        assert r.is_secret_key(key), key
    for key in ("input_tokens", "max_tokens", "tokenizer", "author", "passage", "keyword"):
        assert not r.is_secret_key(key), key


def test_custom_keys_and_rules_extend_the_defaults() -> None:
    """A user can add a key name and a pattern rule; the defaults stay active."""
    r = Redactor(extra_keys=["employee_id"],
                 extra_rules=[Rule("ticket", r"TCK-\d{6}")])
    out = r.redact({"employee_id": 7, "note": "see TCK-123456 and bob@example.com"})
    assert out == {"employee_id": "[REDACTED]",
                   "note": "see [REDACTED:ticket] and [REDACTED:email]"}


def test_custom_marker_replaces_every_match() -> None:
    """A custom marker is used for keys and patterns alike."""
    r = Redactor(marker="***")
    assert r.redact({"token": "t", "m": "a@example.com"}) == {"token": "***", "m": "***"}


def test_rules_can_be_replaced_entirely() -> None:
    """Passing rules= replaces the default patterns (only the given rule applies)."""
    r = Redactor(rules=[Rule("digits", r"\d+")])
    assert r.redact_text("a@example.com 42") == "a@example.com [REDACTED:digits]"


def test_invalid_rule_pattern_is_a_config_error() -> None:
    """A broken regular expression fails at construction with the rule named."""
    with pytest.raises(ConfigError, match="'broken'"):
        Redactor(extra_rules=[Rule("broken", r"(unclosed")])


def test_named_groups_are_rejected_with_a_fix() -> None:
    """Named groups would clash in the combined pattern, so they are refused with advice."""
    with pytest.raises(ConfigError, match="unnamed groups"):
        Redactor(extra_rules=[Rule("named", r"(?P<x>abc)")])


def test_cyclic_structures_terminate() -> None:
    """A self-referencing structure is cut at the depth limit instead of recursing forever."""
    loop: list[object] = ["a@example.com"]
    loop.append(loop)
    out = redact(loop)
    assert out[0] == "[REDACTED:email]"


def test_unchanged_strings_are_returned_as_is() -> None:
    """Clean text costs no copy: the same object comes back."""
    text = "nothing to see here " * 10
    assert redact_text(text) is text
