"""``kaizen-perf audit query|verify|export|prune``: read, check and maintain an audit trail.

Every command takes ``--url`` (default ``KAIZEN_PERF_AUDIT_URL``, else
``sqlite:///.kaizen/audit.db``). The HMAC key comes from
``KAIZEN_PERF_AUDIT_KEY`` or ``--key-file``, never from the command line.
``verify`` exits 0 when the trail is intact and 1 with each problem found and each
range of records no signature covers (unverified).
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from kaizen_perf.audit.export import FORMATS, csv_row, export_entries
from kaizen_perf.audit.model import RESULTS, AuditEntry, Filter, canonical, ts_of
from kaizen_perf.audit.store import AuditStore
from kaizen_perf.audit.trail import AuditTrail
from kaizen_perf.audit.url import DEFAULT_URL, open_store, signer_for
from kaizen_perf.audit.verify import DEFAULT_INTERVAL, VerifyReport
from kaizen_perf.cli import exitcodes
from kaizen_perf.config import ENV_AUDIT_KEY, ENV_AUDIT_RETENTION_DAYS, ENV_AUDIT_URL
from kaizen_perf.errors import ConfigError

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

url_option = click.option(
    "--url", envvar=ENV_AUDIT_URL, default=DEFAULT_URL, show_default=True,
    help=f"Audit store URL (env {ENV_AUDIT_URL}): sqlite:///PATH, jsonl:///DIR, postgresql://…")
key_option = click.option(
    "--key-file", type=click.Path(dir_okay=False, exists=True),
    help=f"File holding the HMAC key (default: env {ENV_AUDIT_KEY}, else the key beside the "
         "trail).")


def parse_age(raw: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` → a timedelta."""
    m = _AGE.match(raw.strip())
    if not m:
        msg = f"Age {raw!r} is not valid: expected a number and a unit, such as 30d, 12h or 90m."
        raise ConfigError(msg)
    return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


def parse_when(raw: str) -> datetime:
    """An ISO-8601 time (UTC if no zone) or an age such as ``24h`` (meaning that long ago)."""
    if _AGE.match(raw.strip()):
        return datetime.now(UTC) - parse_age(raw)
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        msg = (f"Time {raw!r} is not valid: expected ISO 8601 such as 2025-01-31T12:00:00Z, "
               "or an age such as 24h.")
        raise ConfigError(msg) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _store(url: str) -> AuditStore:
    store = open_store(url)
    path = getattr(store, "path", None) or getattr(store, "dir", None)
    if isinstance(path, Path) and not path.exists():
        msg = f"There is no audit trail at {url} ({path} does not exist). Check --url."
        raise ConfigError(msg)
    return store


def _trail(url: str, key_file: str | None) -> AuditTrail:
    store = _store(url)
    key = Path(key_file).read_text().strip() if key_file else os.environ.get(ENV_AUDIT_KEY)
    signer = signer_for(store, key or None, create=False)
    return AuditTrail(store, agent_id="kaizen-perf-cli", signer=signer)


@click.group("audit")
def audit_group() -> None:
    """Query, verify, export and prune the audit trail."""


@audit_group.command("query")
@url_option
@click.option("--agent", help="Only this agent id.")
@click.option("--user", help="Only this user id.")
@click.option("--action", help="Only this action (audit.checkpoint shows checkpoints).")
@click.option("--result", type=click.Choice(RESULTS), help="Only this result.")
@click.option("--since", help="From this time (ISO 8601) or age (24h, 7d).")
@click.option("--until", help="Before this time (ISO 8601) or age.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="The newest N matches.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
def query_cmd(url: str, agent: str | None, user: str | None, action: str | None,
              result: str | None, since: str | None, until: str | None, limit: int,
              fmt: str) -> None:
    """Show entries matching every filter given, oldest first."""
    flt = Filter(agent, user, action, result,
                 ts_of(parse_when(since)) if since else None,
                 ts_of(parse_when(until)) if until else None, limit)
    entries = _store(url).query(flt)
    if fmt == "table":
        _table(entries)
    else:
        export_entries(entries, fmt, sys.stdout)


def _table(entries: list[AuditEntry]) -> None:
    click.echo(f"{'seq':>8}  {'time (UTC)':26}  {'agent':16}  {'user':12}  {'action':24}  "
               f"{'result':8}  details")
    for e in entries:
        row = csv_row(e)
        details = row[7] if len(row[7]) <= 60 else row[7][:57] + "..."
        click.echo(f"{e.seq:>8}  {e.ts:26}  {e.agent_id[:16]:16}  {(e.user_id or '-')[:12]:12}  "
                   f"{e.action[:24]:24}  {e.result:8}  {details}")


@audit_group.command("verify")
@url_option
@key_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--checkpoint-interval", type=click.IntRange(min=1), default=DEFAULT_INTERVAL,
              show_default=True,
              help="Checkpoint interval enforced where no checkpoint declares one (trails "
                   "written by earlier versions).")
@click.pass_context
def verify_cmd(ctx: click.Context, url: str, key_file: str | None, fmt: str,
               checkpoint_interval: int) -> None:
    """Check hashes, sequence, checkpoints and head anchor; exit 1 listing each problem and
    each range of records no signature covers."""
    report = _trail(url, key_file).verify(interval=checkpoint_interval)
    if fmt == "json":
        click.echo(json.dumps(_report_dict(report), indent=2))
    else:
        _print_report(url, report)
    ctx.exit(exitcodes.OK if report.ok else exitcodes.CHECK_FAILED)


def _report_dict(r: VerifyReport) -> dict[str, object]:
    return {"ok": r.ok, "records": r.records, "first_seq": r.first_seq, "last_seq": r.last_seq,
            "checkpoints": r.checkpoints, "pruned_through": r.pruned_through,
            "problems": [{"location": p.location, "message": p.message} for p in r.problems],
            "unverified": [{"first_seq": u.first_seq, "last_seq": u.last_seq,
                            "reason": u.reason} for u in r.unverified],
            "notes": list(r.notes)}


def _print_report(url: str, r: VerifyReport) -> None:
    if r.ok:
        state = "INTACT"
    elif r.problems:
        state = f"NOT INTACT ({len(r.problems)} problems)"
    else:
        state = f"NOT VERIFIED ({sum(u.last_seq - u.first_seq + 1 for u in r.unverified)} " \
                "records no signature covers)"
    click.echo(f"{url}: {state}: {r.records} records, seq {r.first_seq}..{r.last_seq}, "
               f"{r.checkpoints} signed checkpoints")
    for p in r.problems:
        click.echo(f"PROBLEM {p}")
    for u in r.unverified:
        click.echo(f"UNVERIFIED {url} {u}")
    for note in r.notes:
        click.echo(f"note: {note}")


@audit_group.command("export")
@url_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("-o", "--output", default="-", show_default=True, help="File to write, - for stdout.")
def export_cmd(url: str, fmt: str, output: str) -> None:
    """Write every record (checkpoints included, with hashes) as jsonl, json or csv."""
    entries = _store(url).query(Filter(include_checkpoints=True))
    if output == "-":
        export_entries(entries, fmt, sys.stdout)
        return
    with open(output, "w", encoding="utf-8", newline="") as out:
        count = export_entries(entries, fmt, out)
    click.echo(f"{count} records written to {output}", err=True)


@audit_group.command("prune")
@url_option
@key_option
@click.option("--older-than", default=None,
              help=f"Age such as 30d (default: {ENV_AUDIT_RETENTION_DAYS} days, else 30d).")
def prune_cmd(url: str, key_file: str | None, older_than: str | None) -> None:
    """Remove whole old rows/segments behind a signed retention record."""
    days = os.environ.get(ENV_AUDIT_RETENTION_DAYS) or "30"
    age = parse_age(older_than or f"{days}d")
    removed = _trail(url, key_file).prune(age)
    click.echo(canonical({"pruned": removed, "older_than": str(age)}).decode())


COMMANDS = [audit_group]
