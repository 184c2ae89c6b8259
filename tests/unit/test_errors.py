"""The one exception tree: every error kaizen-perf raises or names is in it, with its exit code."""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

import pytest

import kaizen_perf
from kaizen_perf import errors
from kaizen_perf.cli import exitcodes
from kaizen_perf.cli.main import cli, main
from kaizen_perf.integrations import claude_agent_sdk
from kaizen_perf.integrations.kaizen import _agent
from kaizen_perf.regression.protocol import Worker

ROOT = Path(kaizen_perf.__file__).resolve().parent
#: The benchmark worker imports nothing from kaizen-perf on purpose (an old baseline's
#: code runs it); the parent turns its SuiteMissing reply into errors.SuiteMissing.
OUTSIDE_THE_TREE = {("regression/worker.py", "SuiteMissing")}
TREE = [c for c in vars(errors).values()
        if inspect.isclass(c) and issubclass(c, errors.KaizenPerfError)]


def _builtin_exception(base: ast.expr) -> bool:
    name = base.id if isinstance(base, ast.Name) else None
    value = getattr(builtins, name, None) if name else None
    return isinstance(value, type) and issubclass(value, BaseException)


def test_no_exception_class_is_defined_outside_the_tree() -> None:
    """Only errors.py derives classes from built-in exceptions: every other one is in the tree."""
    found = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(map(_builtin_exception, node.bases)):
                found.add((path.relative_to(ROOT).as_posix(), node.name))
    assert found == {("errors.py", "KaizenPerfError"), ("errors.py", "ConfigError"),
                     *OUTSIDE_THE_TREE}


@pytest.mark.parametrize("cls", TREE, ids=lambda c: c.__name__)
def test_every_error_declares_a_contract_exit_code(cls: type[errors.KaizenPerfError]) -> None:
    """Configuration errors exit 2, every other error 3: never 1, which means a check failed."""
    expected = exitcodes.USAGE if issubclass(cls, errors.ConfigError) else exitcodes.RUNTIME
    assert cls.exit_code == expected


@pytest.mark.parametrize("cls", [errors.HarnessError, errors.SuiteMissing, errors.AuditDenied,
                                 errors.ConfigError], ids=lambda c: c.__name__)
def test_the_cli_exits_with_the_code_the_error_declares(
        cls: type[errors.KaizenPerfError], capsys: pytest.CaptureFixture[str]) -> None:
    """An error reaching the CLI prints its message and exits with the class's exit_code."""
    @cli.command("_raise", hidden=True)
    def _raise() -> None:
        raise cls("the message says what to do")

    try:
        assert main(["_raise"]) == cls.exit_code
        assert "Error: the message says what to do" in capsys.readouterr().err
    finally:
        cli.commands.pop("_raise")


def test_errors_raised_into_user_code_are_exported() -> None:
    """AuditDenied and BudgetExceeded reach agent code, so ``kaizen_perf`` exports them."""
    assert kaizen_perf.AuditDenied is errors.AuditDenied
    assert kaizen_perf.BudgetExceeded is errors.BudgetExceeded
    assert {"AuditDenied", "BudgetExceeded", "KaizenPerfError"} <= set(kaizen_perf.__all__)


def test_observed_tool_outcomes_are_in_the_tree_under_their_documented_names() -> None:
    """The Claude Agent SDK's tool outcomes keep their import path and name, inside the tree."""
    for name in ("ToolUseFailure", "PermissionDenied", "ToolUnfinished"):
        cls = getattr(claude_agent_sdk, name)
        assert cls is getattr(errors, name) and cls.__name__ == name
        assert issubclass(cls, errors.ObservedToolError)
    assert issubclass(_agent.ToolError, errors.ObservedToolError)
    assert issubclass(_agent.error_type("ValidationFailed"), errors.ObservedToolError)


def test_a_side_without_a_suite_raises_suite_missing(tmp_path: Path) -> None:
    """A real worker asked for a suite directory that is not there raises SuiteMissing."""
    worker = Worker(tmp_path, timeout_s=60)
    try:
        with pytest.raises(errors.SuiteMissing, match="does not exist"):
            worker.request("load", suite="benchmarks")
    finally:
        worker.close()
