"""Resolve ``--base``/``--head``: a project directory, or a git ref checked out into a
temporary worktree that is removed afterwards."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from kaizen_perf.errors import ConfigError, HarnessError
from kaizen_perf.regression.model import Side

Git = Callable[..., subprocess.CompletedProcess[str]]


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def commit_of(path: Path, ref: str = "HEAD", *, git: Git = _git) -> str | None:
    """The full commit hash of ``ref`` in the repository at ``path`` (None if not a repo)."""
    if shutil.which("git") is None:
        return None
    out = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=path)
    return out.stdout.strip() if out.returncode == 0 else None


@contextlib.contextmanager
def resolve_side(label: str, spec: str, repo: Path, *, git: Git = _git) -> Iterator[Side]:
    """A directory as is, or a git ref in a temporary worktree (removed on exit)."""
    path = Path(spec)
    if path.is_dir():
        yield Side(label, path.resolve(), None, commit_of(path, git=git))
        return
    commit = commit_of(repo, spec, git=git)
    if commit is None:
        msg = (f"--{label} {spec!r} is neither a directory nor a git ref of the repository at "
               f"{str(repo)!r}. Pass a project directory or a commit, branch or tag.")
        raise ConfigError(msg)
    tmp = Path(tempfile.mkdtemp(prefix=f"kaizen-perf-{label}-"))
    tree = tmp / "tree"
    out = git("worktree", "add", "--detach", str(tree), commit, cwd=repo)
    if out.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        msg = f"git worktree add for {spec!r} failed: {out.stderr.strip()}"
        raise HarnessError(msg)
    try:
        yield Side(label, tree, spec, commit)
    finally:
        git("worktree", "remove", "--force", str(tree), cwd=repo)
        shutil.rmtree(tmp, ignore_errors=True)
        git("worktree", "prune", cwd=repo)
