"""Start the real CopilotKit stack on 127.0.0.1: the LangGraph agent, the Next.js app and Caddy, with taps.

::

    with run_stack(out_dir, tls=True) as stack:
        with record_browser(out_dir, extra_args=stack.chromium_args) as browser:
            browser.page.goto(stack.page_url)

The wiring (every arrow a real connection; ``[tap]`` a mitmdump with tearline's recorder, each optional)::

    Chromium ─► [tap: browser] ─► Caddy ─┬─ app.localhost ─► [tap: app] ─► next start (CopilotKit runtime)
                                         └─ ai.localhost  ─► [tap: agent] ─► agent (LangGraph over AG-UI)
    runtime (server side) ─► Caddy ai.localhost/agent ─► ...

With ``tls=True`` Caddy serves both sites with ``tls internal`` (the browser speaks HTTP/2); Chromium trusts
Caddy's local CA, and the browser tap's mitmproxy CA, by their SPKI hashes
(``--ignore-certificate-errors-spki-list``), which keeps its HTTP cache on; the runtime trusts Caddy's root
through ``NODE_EXTRA_CA_CERTS`` and reaches ``ai.localhost`` through ``localhost-resolve.cjs``.
``tls=False`` is the plain HTTP/1.1 variant. Caddy advertises HTTP/3 over TLS; the lab's Chromium runs with
``--disable-quic``, so it is never used.

Files in ``out_dir``: ``agent.log`` (the agent's JSON lines, see ``agent.py``), ``agent.stderr``,
``next.log`` (the runtime's stdout and stderr), ``caddy.log``, ``caddy.json``, ``capture-browser.jsonl``,
``capture-agent.jsonl``, ``capture-app.jsonl`` (one per tap), ``faults-<leg>.toml``. Everything started is
stopped when the ``with`` block ends, also on failure.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tearline.errors import UsageError
from tearline.lab.caddy import Caddy, CaddySite, free_port, run_caddy
from tearline.lab.copilotkit.build import TELEMETRY_OFF, ensure_app, node_binary
from tearline.lab.mitmdump import Mitmdump

__all__ = ["LEGS", "CopilotKitStack", "run_stack", "spki_hash"]

LEGS = ("browser", "app", "agent")  # where a tap can sit
KEEP_ALIVE_MS = 180_000  # upstreams keep idle connections longer than Caddy (2 min) does


def _addons_dir() -> Path:
    import tearline.addons

    return Path(tearline.addons.__file__).parent


@dataclass(frozen=True, kw_only=True)
class CopilotKitStack:
    """A running stack. URLs are as the browser reaches them (through the browser tap when there is one)."""

    out_dir: Path
    tls: bool
    page_url: str  # the chat page on app.localhost
    link_url: str  # the header link's target on ai.localhost
    agent_url: str  # where the runtime reaches the agent
    caddy: Caddy
    agent_log: Path
    next_log: Path
    captures: Mapping[str, Path]  # leg -> capture file, for each tap
    chromium_args: tuple[str, ...] = ()
    pids: Mapping[str, int] = field(default_factory=dict)

    @property
    def caddy_log(self) -> Path:
        return self.caddy.log_path


def spki_hash(pem: bytes) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: Chromium's SPKI pin format."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    cert = x509.load_pem_x509_certificate(pem)
    der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _caddy_ca(data_dir: Path) -> tuple[Path, list[Path]]:
    """Caddy's local root certificate and its root + intermediate (``tls internal``)."""
    roots = sorted(data_dir.rglob("pki/authorities/local/root.crt"))
    if not roots:
        raise UsageError("Caddy wrote no local CA", path=data_dir)
    root = roots[0]
    return root, [root, root.with_name("intermediate.crt")]


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                resp.read()
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
            state = (
                f"exited with {proc.returncode}" if proc.poll() is not None else f"not up in {timeout:.0f} s"
            )
            raise UsageError(f"{what} {state}: " + (" | ".join(tail) or "no output"), path=log)
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM to the process group it leads (next start has children), SIGKILL after ``grace`` s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


@contextmanager
def _process(
    cmd: list[str], *, log: Path, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,  # its own process group, stopped as a whole
        )
    try:
        yield proc
    finally:
        _stop(proc)


def _tap(out_dir: Path, leg: str, upstream: str, *, scheme: str, fault_text: str | None) -> Mitmdump:
    addons = _addons_dir()
    capture = out_dir / f"capture-{leg}.jsonl"
    capture.unlink(missing_ok=True)
    scripts = [addons / "ws_trace.py"]
    options: dict[str, object] = {"keep_host_header": True, "trace_file": str(capture)}
    if scheme == "https":
        options["ssl_insecure"] = True  # Caddy's internal CA
    if fault_text is not None:
        fault_file = out_dir / f"faults-{leg}.toml"
        fault_file.write_text(fault_text)
        scripts.append(addons / "faults.py")
        options["faults"] = str(fault_file)
    return Mitmdump(
        scripts=scripts,
        mode=f"reverse:{scheme}://{upstream}",
        options=options,
        confdir=out_dir / "mitmproxy-conf",
    )


@contextmanager
def run_stack(
    out_dir: Path,
    *,
    tls: bool = True,
    taps: tuple[str, ...] = ("browser", "agent"),
    faults: Mapping[str, str] | None = None,
    tokens: int = 200,
    interval: float = 0.05,
    agent_read_timeout: float | None = None,
    startup_timeout: float = 120.0,
) -> Iterator[CopilotKitStack]:
    """Start the stack writing into ``out_dir``; stop every process on exit.

    ``taps``: legs (``LEGS``) with a recorder. ``faults``: leg -> fault TOML (``docs/faults.md``) for that
    leg's tap (a fault needs its tap). ``tokens``/``interval``: the agent's default answer.
    ``agent_read_timeout``: Caddy's ``reverse_proxy`` read timeout (s) on ``ai.localhost``, the hop from the
    runtime to the agent. Builds the app
    first if needed (``build.ensure_app``). Raises ``UsageError`` when a part is missing or does not start.
    """
    faults = dict(faults or {})
    for leg in (*taps, *faults):
        if leg not in LEGS:
            raise UsageError(f"unknown leg {leg!r}", hint="choose from: " + ", ".join(LEGS))
    for leg in faults:
        if leg not in taps:
            raise UsageError(f"a fault on the {leg} leg needs a tap there", hint=f"add {leg!r} to taps")
    app = ensure_app()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    scheme = "https" if tls else "http"
    captures: dict[str, Path] = {}
    with ExitStack() as stack:
        # 1. the agent
        agent_port = free_port()
        agent_log = out_dir / "agent.log"
        agent_log.unlink(missing_ok=True)
        agent_cmd = [sys.executable, "-m", "tearline.lab.copilotkit.agent", "--port", str(agent_port)]
        agent_cmd += ["--log", str(agent_log), "--tokens", str(tokens), "--interval", str(interval)]
        agent_cmd += ["--keep-alive", str(KEEP_ALIVE_MS / 1000)]
        agent_err = out_dir / "agent.stderr"
        agent = stack.enter_context(_process(agent_cmd, log=agent_err))
        agent_up = f"127.0.0.1:{agent_port}"
        next_port = free_port()
        app_up = f"127.0.0.1:{next_port}"
        _wait_http(f"http://{agent_up}/agent/health", agent, "the agent", agent_err, startup_timeout)

        # 2. backend taps, then Caddy in front of them
        for leg, name in (("agent", "agent_up"), ("app", "app_up")):
            if leg in taps:
                upstream = agent_up if name == "agent_up" else app_up
                tap = stack.enter_context(
                    _tap(out_dir, leg, upstream, scheme="http", fault_text=faults.get(leg))
                )
                captures[leg] = out_dir / f"capture-{leg}.jsonl"
                if leg == "agent":
                    agent_up = f"127.0.0.1:{tap.port}"
                else:
                    app_up = f"127.0.0.1:{tap.port}"
        sites = [
            CaddySite(host="app.localhost", upstream=app_up),
            CaddySite(host="ai.localhost", upstream=agent_up, read_timeout=agent_read_timeout),
        ]
        caddy = stack.enter_context(run_caddy(sites, out_dir, tls=tls))
        front = caddy.port

        # 3. the browser tap, in front of Caddy
        chromium_args: list[str] = []
        pins: list[str] = []
        if "browser" in taps:
            tap = stack.enter_context(
                _tap(
                    out_dir,
                    "browser",
                    f"127.0.0.1:{caddy.port}",
                    scheme=scheme,
                    fault_text=faults.get("browser"),
                )
            )
            captures["browser"] = out_dir / "capture-browser.jsonl"
            front = tap.port
            if tls:
                pins.append(spki_hash((out_dir / "mitmproxy-conf" / "mitmproxy-ca-cert.pem").read_bytes()))
        env = dict(os.environ) | TELEMETRY_OFF
        agent_url = f"{scheme}://ai.localhost:{caddy.port}/agent"
        env["TEARLINE_AGENT_URL"] = agent_url
        link_url = f"{scheme}://ai.localhost:{front}/docs"
        env["TEARLINE_LINK_URL"] = link_url
        if tls:
            root, chain = _caddy_ca(out_dir / "caddy-data")
            env["NODE_EXTRA_CA_CERTS"] = str(root)
            pins += [spki_hash(p.read_bytes()) for p in chain if p.exists()]
            chromium_args.append("--ignore-certificate-errors-spki-list=" + ",".join(pins))

        # 4. the Next.js app (CopilotKit runtime inside)
        next_log = out_dir / "next.log"
        next_cmd = [node_binary(), "--require", str(app / "localhost-resolve.cjs")]
        next_cmd += ["node_modules/next/dist/bin/next", "start", "-H", "127.0.0.1", "-p", str(next_port)]
        # Node closes idle keep-alive connections after 5 s, Caddy keeps them for 2 min: a POST that Caddy
        # sends on a connection Node is closing fails with a 502 ("write: broken pipe"). Outlive Caddy.
        next_cmd += ["--keepAliveTimeout", str(KEEP_ALIVE_MS)]
        nxt = stack.enter_context(_process(next_cmd, log=next_log, cwd=app, env=env))
        _wait_http(f"http://127.0.0.1:{next_port}/", nxt, "next start", next_log, startup_timeout)
        yield CopilotKitStack(
            out_dir=out_dir,
            tls=tls,
            page_url=f"{scheme}://app.localhost:{front}/",
            link_url=link_url,
            agent_url=agent_url,
            caddy=caddy,
            agent_log=agent_log,
            next_log=next_log,
            captures=captures,
            chromium_args=tuple(chromium_args),
            pids={"agent": agent.pid, "next": nxt.pid, "caddy": caddy.proc.pid},
        )
