"""The audit trail: durable, tamper-evident, queryable records of who did what, when.

::

    from kaizen_perf.audit import open_trail
    trail = open_trail("sqlite:///.kaizen/audit.db", agent_id="researcher",
                       key=None, policy="deny")
    receipt = trail.record("tool_execute", {"tool": "bash"}, result="success")
    assert trail.verify().ok
    trail.close()

Modules by role: ``model`` (the record and its hash), ``signing`` (HMAC key),
``chain`` (batches, checkpoints, retention records), ``writer`` (group commit
thread), ``store`` (the AuditStore role) with ``sqlite_store``, ``jsonl_store``
and ``postgres_store``, ``verify``, ``export``, ``trail`` (AuditTrail),
``sink`` (automatic entries from hook events) and ``url`` (``open_trail``).
"""

from __future__ import annotations

from kaizen_perf.audit.model import AuditEntry, AuditReceipt
from kaizen_perf.audit.sink import AUTO_KINDS, AuditSink, parse_auto
from kaizen_perf.audit.store import AuditStore
from kaizen_perf.audit.trail import POLICIES, AuditTrail
from kaizen_perf.audit.url import DEFAULT_URL, open_store, open_trail
from kaizen_perf.audit.verify import Problem, VerifyReport

__all__ = [
    "AUTO_KINDS", "DEFAULT_URL", "POLICIES", "AuditEntry", "AuditReceipt", "AuditSink",
    "AuditStore", "AuditTrail", "Problem", "VerifyReport", "open_store", "open_trail",
    "parse_auto",
]
