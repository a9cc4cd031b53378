"""Start and stop a real ``mitmdump`` subprocess on 127.0.0.1.

::

    with Mitmdump(scripts=["addons/ws_trace.py"], mode="reverse:http://127.0.0.1:8080",
                  options={"trace_file": "out.jsonl"}, confdir=tmp / "mitm") as proxy:
        proxy.port            # the port the kernel gave it (-p 0)
        proxy.log_text()      # its combined stdout/stderr so far

Readiness: the log line ``... listening at 127.0.0.1:PORT.`` (mitmproxy prints it even
when a script failed to load, so the start also waits ``settle`` seconds and
checks that the process is still alive; an ``OptionsError`` from an addon's
``configure`` ends it with "Error logged during startup"). ``MitmdumpFailed``
carries the log. ``stop()`` sends SIGTERM (addons' ``done`` hooks run), ``kill()``
sends SIGKILL.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["Mitmdump", "MitmdumpFailed", "mitmdump_binary"]

_LISTEN = re.compile(r"listening at (?:\[[^\]]+\]|\*|[\w.:-]+?):(\d+)")


class MitmdumpFailed(RuntimeError):
    """mitmdump did not start (or died at start-up); ``log`` holds its output."""

    def __init__(self, message: str, log: str) -> None:
        super().__init__(f"{message}\n--- mitmdump log ---\n{log}")
        self.log = log


def mitmdump_binary() -> str:
    """The ``mitmdump`` next to this Python (the virtualenv's), else the one on PATH."""
    here = Path(sys.executable).parent / "mitmdump"
    if here.exists():
        return str(here)
    found = shutil.which("mitmdump")
    if not found:
        raise FileNotFoundError("mitmdump not found: install tearline's dependencies (pip install -e .)")
    return found


def _option_args(options: Mapping[str, object]) -> list[str]:
    args: list[str] = []
    for name, value in options.items():
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if isinstance(v, bool):
                v = "true" if v else "false"
            args += ["--set", f"{name}={v}"]
    return args


class Mitmdump:
    """A real mitmdump process listening on 127.0.0.1 with a kernel-chosen port.

    ``mode``: a mitmproxy mode spec (``"reverse:http://127.0.0.1:PORT"``, ``"regular"``,
    ``"upstream:http://..."``) or a list of them. ``options``: ``--set`` name -> value
    (lists repeat the option). ``confdir`` keeps mitmproxy's CA out of ``~/.mitmproxy``.
    ``cwd`` is the working directory (default: the current one).
    """

    def __init__(
        self,
        scripts: Sequence[str | os.PathLike[str]] = (),
        mode: str | Sequence[str] = "regular",
        options: Mapping[str, object] | None = None,
        *,
        confdir: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
        settle: float = 0.5,
    ) -> None:
        self.scripts = [str(s) for s in scripts]
        self.modes = [mode] if isinstance(mode, str) else list(mode)
        self.options = dict(options or {})
        self.confdir = confdir
        self.extra_args = list(extra_args)
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.start_timeout = start_timeout
        self.settle = settle
        self.port: int = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._listening = threading.Event()

    @property
    def args(self) -> list[str]:
        args = [mitmdump_binary(), "--listen-host", "127.0.0.1", "-p", "0", "--set", "flow_detail=0"]
        for m in self.modes:
            args += ["--mode", m]
        if self.confdir is not None:
            args += ["--set", f"confdir={self.confdir}"]
        for s in self.scripts:
            args += ["-s", s]
        args += _option_args(self.options)
        return args + self.extra_args

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def log_text(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self._lines.append(line)
            m = _LISTEN.search(line)
            if m and not self._listening.is_set():
                self.port = int(m.group(1))
                self._listening.set()

    def start(self) -> Mitmdump:
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.cwd,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, name="mitmdump-log", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._fail("mitmdump did not start listening")
        time.sleep(self.settle)
        if self.proc.poll() is not None or "Error logged during startup" in self.log_text():
            self._fail("mitmdump exited during start-up")
        return self

    def _fail(self, message: str) -> None:
        self.kill()
        raise MitmdumpFailed(message + f" (exit status {self.returncode})", self.log_text())

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        rc = self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(5)
        return rc

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (clean shutdown: ``done`` hooks run), then SIGKILL after ``timeout`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return self.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.wait_exit(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        """SIGKILL: no ``done`` hooks, like a crash."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            return self.wait_exit(30)
        except subprocess.TimeoutExpired:
            return None

    def __enter__(self) -> Mitmdump:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
