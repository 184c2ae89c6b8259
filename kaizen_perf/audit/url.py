"""Store URLs and the ``open_trail`` factory.

=================================  ==============================================
``sqlite:///.kaizen/audit.db``     SQLite file, relative path (the default)
``sqlite:////var/lib/audit.db``    SQLite file, absolute path (four slashes)
``jsonl:///.kaizen/audit``         directory of JSON-lines segments (same rule)
``postgresql://user@host/db``      PostgreSQL (``?table=name``, default kaizen_audit)
=================================  ==============================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kaizen_perf.audit.jsonl_store import JsonlStore
from kaizen_perf.audit.postgres_store import PostgresStore
from kaizen_perf.audit.signing import Signer, configured_key, key_file
from kaizen_perf.audit.sqlite_store import SqliteStore
from kaizen_perf.audit.store import AuditStore
from kaizen_perf.audit.trail import AuditTrail, Redactor
from kaizen_perf.errors import ConfigError

DEFAULT_URL = "sqlite:///.kaizen/audit.db"
_SCHEMES = ("sqlite:///", "jsonl:///", "postgresql://", "postgres://")


def open_store(url: str, **options: Any) -> AuditStore:
    """The store a URL names (``options`` go to the store, e.g. ``fault=`` in tests)."""
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return SqliteStore(url[len("sqlite:///"):], **options)
    if url.startswith("jsonl:///") and len(url) > len("jsonl:///"):
        return JsonlStore(url[len("jsonl:///"):], **options)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url, **options)
    msg = (f"Audit store URL {url!r} is not valid: expected sqlite:///PATH, jsonl:///DIR or "
           "postgresql://USER@HOST/DB (see docs/audit.md).")
    raise ConfigError(msg)


def signer_for(store: AuditStore, key: bytes | str | None, *, create: bool = True) -> Signer:
    """The configured key, else the per-trail key kept beside the trail."""
    configured = configured_key(key)
    if configured is not None:
        return Signer(configured, configured=True)
    if isinstance(store, SqliteStore):
        stored = key_file(Path(f"{store.path}.key"), create=create)
    elif isinstance(store, JsonlStore):
        stored = key_file(store.dir / "audit.key", create=create)
    elif isinstance(store, PostgresStore):
        stored = store.stored_key()
    else:
        msg = f"The audit store {store.location} needs an explicit key (KAIZEN_PERF_AUDIT_KEY)."
        raise ConfigError(msg)
    return Signer(stored, configured=False)


def open_trail(url: str | None, *, agent_id: str, key: bytes | str | None = None,
               policy: str = "deny", redactor: Redactor | None = None,
               store_options: dict[str, Any] | None = None, create_key: bool = True,
               **trail_options: Any) -> AuditTrail:
    """Open (creating on first write) the trail at ``url`` (None: ``.kaizen/audit.db``).

    ``redactor`` runs on details and metadata before hashing; by default it is
    kaizen-perf's secret/PII scrubber when available. No thread starts until
    the first ``record()``.
    """
    store = open_store(url or DEFAULT_URL, **(store_options or {}))
    signer = signer_for(store, key, create=create_key)
    return AuditTrail(store, agent_id=agent_id, signer=signer, policy=policy,
                      redactor=redactor or default_redactor(), **trail_options)


def default_redactor() -> Redactor | None:
    """kaizen-perf's secret/PII scrubber (``kaizen_perf.redact.redact``), if present."""
    try:
        from kaizen_perf.redact import redact
    except ImportError:
        return None
    return redact
