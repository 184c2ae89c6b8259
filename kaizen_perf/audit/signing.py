"""HMAC signing of checkpoints, retention records and the head anchor; where the key comes from.

The key is ``KAIZEN_PERF_AUDIT_KEY`` (or ``key=``). Without one, a random key is
created once per trail and kept beside it (``<db>.key``, ``<dir>/audit.key``, or
a meta table in PostgreSQL): the chain then still detects accidents and edits by
tools that do not know about the key, but NOT a deliberate rewrite by someone who
can read that key file. Production trails should set a key held elsewhere.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from kaizen_perf.errors import AuditStoreError, ConfigError

MIN_KEY_BYTES = 16


def key_id_of(key: bytes) -> str:
    """A short public fingerprint of a key (checkpoints name the key that signed them)."""
    return hmac.new(key, b"kaizen-perf-audit-key-id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """Signs and checks the trail's HMAC-SHA256 records with one key."""

    key: bytes
    #: True when the key came from configuration, False when it is stored beside the trail
    configured: bool = True

    @functools.cached_property
    def key_id(self) -> str:
        """Fingerprint of the key (computed once: every batch's head anchor names it)."""
        return key_id_of(self.key)

    def mac(self, *parts: object) -> str:
        """HMAC-SHA256 over the parts joined with ``|``."""
        msg = "|".join(map(str, parts)).encode()
        return hmac.digest(self.key, msg, "sha256").hex()  # one-shot C path of hmac.new

    def check(self, mac: str, *parts: object) -> bool:
        """Constant-time comparison of ``mac`` with the expected one."""
        return hmac.compare_digest(mac, self.mac(*parts))


def configured_key(raw: str | bytes | None) -> bytes | None:
    """Validate a configured key (at least 16 bytes)."""
    if raw is None:
        return None
    key = raw.encode() if isinstance(raw, str) else raw
    if len(key) < MIN_KEY_BYTES:
        msg = (f"The audit key is {len(key)} bytes long; expected at least {MIN_KEY_BYTES}. "
               "Set KAIZEN_PERF_AUDIT_KEY to a long random secret, e.g. the output of "
               "`python -c 'import secrets; print(secrets.token_hex(32))'`.")
        raise ConfigError(msg)
    return key


def key_file(path: Path, *, create: bool) -> bytes:
    """Read (or create, mode 0600) the per-trail key kept beside a file-based trail."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        if not create:
            msg = (f"The audit trail has no key file {path} and no key was given. "
                   "Set KAIZEN_PERF_AUDIT_KEY to the key the trail was written with.")
            raise AuditStoreError(msg) from None
    except ValueError:
        msg = f"The audit key file {path} does not hold a hex key; restore it from a backup."
        raise AuditStoreError(msg) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # never replace a key another process just created
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text().strip())
