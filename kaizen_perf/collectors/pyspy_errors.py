"""What a finished py-spy window means, from its exit status and output."""

from __future__ import annotations

import enum

#: The fix, said once when py-spy may not ptrace the target.
PERMISSION_FIX = (
    "py-spy needs ptrace permission to read another process's stacks. Fix one of: run "
    "kaizen-perf as root (sudo); allow ptrace with `sudo sysctl kernel.yama.ptrace_scope=0`; "
    "in Docker start the container with `--cap-add SYS_PTRACE`; in Kubernetes add SYS_PTRACE "
    "to the container's securityContext.capabilities.add."
)

# py-spy 0.4 wording (checked by running it unprivileged against a root process, against
# `sleep`, and against a PID that exited).
_PERMISSION = ("permission denied", "operation not permitted", "os error 1)", "os error 13)")
_NOT_PYTHON = ("failed to find python version", "no python processes found",
               "failed to find a python interpreter", "doesn't look like a python")


class Outcome(enum.Enum):
    """The kinds of window result the recording loop treats differently."""

    OK = "ok"
    TARGET_GONE = "target exited"
    PERMISSION = "no ptrace permission"
    NOT_PYTHON = "not a Python process"
    MISSING = "py-spy missing"
    ERROR = "py-spy error"


def first_error_line(text: str) -> str:
    """The line of py-spy's output that says what went wrong (without the ``py-spy>`` chatter)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.lower().startswith(("error", "permission denied")):
            return ln.removeprefix("Error: ")
    chatter = [ln for ln in lines if not ln.startswith("py-spy>")]
    return (chatter or lines or ["no output"])[-1][:300]


def classify(code: int, text: str, wrote_output: bool, target_alive: bool) -> tuple[Outcome, str]:
    """The outcome of one ``py-spy record`` run and a one-line detail for messages."""
    if code == 0 and wrote_output:
        return Outcome.OK, ""
    detail = first_error_line(text)
    low = text.lower()
    if any(p in low for p in _PERMISSION):
        return Outcome.PERMISSION, detail
    if not target_alive:
        return Outcome.TARGET_GONE, detail
    if any(p in low for p in _NOT_PYTHON):
        return Outcome.NOT_PYTHON, detail
    if code < 0:
        return Outcome.ERROR, f"py-spy ended by signal {-code}"
    return Outcome.ERROR, f"exit status {code}: {detail}"
