"""One streaming bpftrace process: start, wait until BEGIN ran, read, stop.

The reader thread (``kaizen-perf-ebpf``) polls stdout with ``select`` so it can enforce
the start-up deadline and notice a stop request without a second thread. Anything
wrong (bpftrace exits, prints junk, does not attach in time) ends in ONE call of
``on_error`` with a full-sentence message, and the process is killed: never a hang.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from kaizen_perf.collectors.ebpf_parse import OutputFormatError, StreamParser, Window

#: how long the reader sleeps in select(): bounds how late it sees the attach deadline
#: or a stop, at a cost of five wake-ups a second
_POLL_S = 0.2


class BpftraceStream:
    """Runs ``bpftrace -f json PROGRAM`` and hands each window to ``on_window``."""

    def __init__(self, bpftrace: str, program: Path, *, on_window: Callable[[Window], None],
                 on_error: Callable[[str], None], attach_timeout_s: float = 30.0,
                 on_attached: Callable[[int], None] = lambda probes: None,
                 name: str = "kaizen-perf-ebpf") -> None:
        self._argv = [bpftrace, "-f", "json", str(program)]
        self._stderr_path = program.with_suffix(".stderr")
        self._on_window, self._on_error, self._on_attached = on_window, on_error, on_attached
        self._attach_timeout_s, self._name = attach_timeout_s, name
        self.parser = StreamParser()
        self.attached = threading.Event()
        self.ended = threading.Event()
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._cpu_s = 0.0
        self.peak_rss_bytes = 0
        self.failed = False

    def start(self) -> BpftraceStream:
        """Start bpftrace and the reader thread (returns at once; see :meth:`wait_attached`)."""
        with open(self._stderr_path, "wb") as err:
            # stderr to a file, not a pipe: bpftrace's warnings could fill a pipe nobody
            # reads and block it. Its own session: a Ctrl-C meant for the agent does not
            # reach it; stop() sends its SIGINT after setting _stopping, so that exit is
            # not reported as a failure and bpftrace still prints its last window.
            self._proc = subprocess.Popen(self._argv, stdout=subprocess.PIPE, stderr=err,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        self._thread = threading.Thread(target=self._read, name=self._name, daemon=True)
        self._thread.start()
        return self

    def wait_attached(self, timeout_s: float) -> bool:
        """Block until the probes are attached (True) or the stream ended/timed out (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.ended.is_set():
            if self.attached.wait(0.05):
                return True
        return self.attached.is_set()

    @property
    def cpu_seconds(self) -> float:
        """CPU bpftrace used so far (user + system; the last reading once it exited)."""
        self._sample_usage()
        return self._cpu_s

    @property
    def pid(self) -> int | None:
        """bpftrace's PID while it runs."""
        return None if self._proc is None else self._proc.pid

    def _sample_usage(self) -> None:
        if self._proc is None or self._proc.returncode is not None:
            return
        try:
            proc = psutil.Process(self._proc.pid)
            with proc.oneshot():
                cpu, rss = proc.cpu_times(), proc.memory_info().rss
        except psutil.Error:
            return
        self._cpu_s = max(self._cpu_s, cpu.user + cpu.system)
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)

    # -- the reader thread --------------------------------------------------------------
    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd, buf = self._proc.stdout.fileno(), b""
        deadline = time.monotonic() + self._attach_timeout_s
        try:
            while True:
                if not self.attached.is_set() and time.monotonic() > deadline:
                    self._fail(f"bpftrace did not attach its probes within "
                               f"{self._attach_timeout_s:g} s")
                    return
                ready, _, _ = select.select([fd], [], [], _POLL_S)
                if not ready:
                    continue
                # os.read, not the file object's readline: after select() it never
                # blocks on a partial line, which would defeat the deadline above
                chunk = os.read(fd, 65536)
                if not chunk:
                    self._eof()
                    return
                *lines, buf = (buf + chunk).split(b"\n")  # keep a partial last line
                for line in lines:
                    self._line(line.decode(errors="replace"))
        except OutputFormatError as exc:
            self._fail(f"{exc}; this bpftrace version's output format is not supported")
        finally:
            self.ended.set()

    def _line(self, line: str) -> None:
        window = self.parser.feed(line)
        if self.parser.tracing and not self.attached.is_set():
            self.attached.set()
            self._on_attached(self.parser.attached_probes or 0)
        if window is not None:
            self._sample_usage()
            self._on_window(window)

    def _eof(self) -> None:
        assert self._proc is not None
        self._sample_usage()
        code = self._proc.wait()
        # An exit we asked for, or a clean end after attaching (a syscalls-only program
        # with an exit timer), is not an error; any other exit is reported once.
        if not self._stopping.is_set() and not (code == 0 and self.attached.is_set()):
            self.failed = True
            self._on_error(f"bpftrace exited with status {code}: {self._stderr_tail()}")

    def _fail(self, message: str) -> None:
        self.failed = True
        self._kill()
        tail = self._stderr_tail()
        self._on_error(f"{message} ({tail})" if tail else message)

    def _stderr_tail(self) -> str:
        try:
            lines = self._stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        useful = [ln for ln in lines if ln.strip() and "RLIMIT_MEMLOCK" not in ln]
        return " / ".join(useful[-3:])[:400] or "no error output"

    # -- stopping -----------------------------------------------------------------------
    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGINT (bpftrace prints its last window), then kill after ``timeout_s``; joins."""
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._sample_usage()
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._kill()
        if self._thread is not None:
            self._thread.join(timeout_s)
        # Close our end of the pipe only once the reader has left select(): closing an
        # fd another thread is polling could hand the number to a new file meanwhile.
        if proc is not None and proc.stdout is not None and not (
                self._thread and self._thread.is_alive()):
            proc.stdout.close()

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
