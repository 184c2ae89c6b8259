"""The parent side of the worker protocol: spawn, request with a deadline, close."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from kaizen_perf.errors import HarnessError, SuiteMissing
from kaizen_perf.regression import worker as _worker_module

WORKER_FILE = Path(_worker_module.__file__).resolve()
# Run by path through runpy: ``-m`` would resolve ``kaizen_perf`` from the side's
# directory, which for an old baseline ref may not contain the worker at all.
_BOOT = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')"
# Counting starts switched off: the worker turns it on around each sample only.
CALLGRIND_ARGS = ("--tool=callgrind", "--collect-atstart=no", "--dump-instr=no",
                  "--dump-line=no", "--compress-strings=no", "--compress-pos=no")


def valgrind() -> str | None:
    """Where valgrind is (None when it is not installed: instruction counts unavailable)."""
    return shutil.which("valgrind")


def worker_env(side_path: Path, *, hashseed: int,
               base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The worker's environment: side first on PYTHONPATH, fixed hash seed, no KAIZEN_PERF_*."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith("KAIZEN_PERF_")}
    rest = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(side_path) + (os.pathsep + rest if rest else "")
    env["PYTHONHASHSEED"] = str(hashseed)
    return env


class Worker:
    """One spawned worker process for one side."""

    def __init__(self, side_path: Path, *, hashseed: int = 0, timeout_s: float = 120.0,
                 python: str = sys.executable, callgrind: bool = False) -> None:
        self.side_path, self.timeout_s = side_path, timeout_s
        # Closed in close(); a file, not a pipe, so a chatty benchmark can never block.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        cmd = [python, "-c", _BOOT, str(WORKER_FILE)]
        #: Where the worker's callgrind dumps go (``load`` passes it on); None: native worker.
        self.callgrind_out: str | None = None
        self._dumps: str | None = None
        if callgrind:
            tool = valgrind()
            if tool is None:
                self._stderr.close()
                msg = ("Instruction counts need valgrind, which is not on PATH. Install it "
                       "(apt-get install valgrind) or choose --measure cpu.")
                raise HarnessError(msg)
            self._dumps = tempfile.mkdtemp(prefix="kaizen-perf-callgrind-")
            self.callgrind_out = str(Path(self._dumps) / "cg.out")
            cmd = [tool, *CALLGRIND_ARGS, f"--callgrind-out-file={self.callgrind_out}", *cmd]
        try:
            self._proc = subprocess.Popen(
                cmd, cwd=side_path,
                env=worker_env(side_path, hashseed=hashseed), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1)
        except OSError as exc:
            self._stderr.close()
            self._remove_dumps()
            msg = f"Cannot start a benchmark worker in {side_path}: {exc}."
            raise HarnessError(msg) from exc

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its reply (HarnessError on crash or timeout)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise self._died(op) from exc
        line = self._readline(op)
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            msg = f"Benchmark worker in {self.side_path} failed on {op!r}: {reply.get('error')}"
            # The worker names its error (it cannot import ours); a missing suite is ours.
            error = SuiteMissing if str(reply.get("error")).startswith("SuiteMissing:") \
                else HarnessError
            raise error(msg + _indent(reply.get("traceback", "")))
        return reply

    def _readline(self, op: str) -> str:
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + self.timeout_s
            while time.monotonic() < deadline:
                if sel.select(timeout=min(1.0, self.timeout_s)):
                    line = self._proc.stdout.readline()
                    if not line:
                        raise self._died(op)
                    return line
        self.close()
        msg = (f"Benchmark worker in {self.side_path} did not answer {op!r} within "
               f"{self.timeout_s:.0f} s. A benchmark may hang; raise --timeout if it is slow.")
        raise HarnessError(msg)

    def _died(self, op: str) -> HarnessError:
        code = self._proc.wait(timeout=5)
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:].decode(errors="replace")
        return HarnessError(f"Benchmark worker in {self.side_path} exited with code {code} "
                            f"during {op!r}.{_indent(tail)}")

    def close(self) -> None:
        """Ask the worker to quit; kill it if it does not within 5 s."""
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write('{"op": "quit"}\n')
                self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        self._stderr.close()
        self._remove_dumps()

    def _remove_dumps(self) -> None:
        if self._dumps is not None:
            shutil.rmtree(self._dumps, ignore_errors=True)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _indent(text: str) -> str:
    text = text.strip()
    return "" if not text else "\n  " + text.replace("\n", "\n  ")
