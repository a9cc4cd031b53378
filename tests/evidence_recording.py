"""Record real browser evidence for the importer tests (private to engineer 4's tests).

Real parts only: a WebSocket server (``websockets``) and an HTTP server with SSE
and streamed endpoints on 127.0.0.1, headless Chromium driven by Playwright
with ``--log-net-log`` (NetLog), a CDP session (DevTools events as JSONL),
``record_har_path`` (HAR) and the page console (text lines with ISO times).

``record_browser(dirpath)`` runs one scripted page visit and returns the paths:
the page opens a WebSocket (the server sends 3 messages then closes with 4001
"bye"), a second WebSocket the server drops without a close frame, an
EventSource (3 events), a fetch() of a chunked body the server cuts
(ERR_INCOMPLETE_CHUNKED_ENCODING), a fetch() SSE that stays open, then the page
navigates away (the open stream is cancelled: ERR_ABORTED).

``record_killed_netlog(dirpath)`` runs Chromium directly and SIGKILLs it
mid-run, leaving a NetLog without its closing brackets, and Chromium's own
``--enable-logging=stderr`` console lines. ``record_crash`` crashes the renderer
(chrome://crash) under an open WebSocket and EventSource; ``record_bounded_killed``
kills a ``--net-log-max-size-mb`` run; ``record_h2_through_caddy`` goes through a
real Caddy over HTTPS/HTTP/2 (``tls internal``). ``shared(name, tmp_path_factory)``
records each once per test session; the ``rec``/``killed``/``crash`` fixtures
(``tests/fixtures_browser.py``) hand those to tests. ``of(obs, kind, url_part)`` picks observations.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tearline.analysis.evidence.observation import Observation

from tearline.lab.browser import CHROMIUM, CHROMIUM_ARGS

CDP_EVENTS = (
    "Network.requestWillBeSent",
    "Network.responseReceived",
    "Network.dataReceived",
    "Network.loadingFinished",
    "Network.loadingFailed",
    "Network.eventSourceMessageReceived",
    "Network.webSocketCreated",
    "Network.webSocketWillSendHandshakeRequest",
    "Network.webSocketHandshakeResponseReceived",
    "Network.webSocketFrameSent",
    "Network.webSocketFrameReceived",
    "Network.webSocketFrameError",
    "Network.webSocketClosed",
    "Page.frameNavigated",
    "Page.frameStartedLoading",
    "Page.lifecycleEvent",
    "Page.navigatedWithinDocument",
    "Runtime.consoleAPICalled",
    "Runtime.exceptionThrown",
    "Log.entryAdded",
    "Inspector.targetCrashed",
)

PAGE = """<!doctype html><html><head><title>tearline evidence</title></head><body><pre id=log></pre>
<script>
const WS = "ws://127.0.0.1:%(ws_port)d";
const dead = new WebSocket("ws://127.0.0.1:%(dead_port)d/nothing-listens");
dead.onclose = (e) => { window.done.dead = true; };
function log(m) { console.log(m); document.getElementById('log').textContent += m + "\\n"; }
window.done = {ws: false, drop: false, es: false, cut: false, dead: false};
const ws = new WebSocket(WS + "/close4001");
ws.onopen = () => { ws.send("hello"); ws.send("again"); };
ws.onmessage = (e) => log("ws message " + e.data);
ws.onclose = (e) => { log("ws close " + e.code + " " + e.reason + " clean=" + e.wasClean); window.done.ws = true; };
const wd = new WebSocket(WS + "/drop");
wd.onclose = (e) => { log("drop close " + e.code + " clean=" + e.wasClean); window.done.drop = true; };
const es = new EventSource("/sse?n=3");
let got = 0;
es.onmessage = (e) => { log("sse " + e.data); if (++got == 3) { es.close(); window.done.es = true; } };
fetch("/cut").then(r => r.text()).then(t => log("cut ok?!"), e => { log("cut failed " + e); window.done.cut = true; });
fetch("/sse?n=1000&interval=0.2", {method: "POST", headers: {Accept: "text/event-stream"}, body: "{}"})
  .then(r => { const rd = r.body.getReader(); const pump = () => rd.read().then(x => { if (!x.done) pump(); }); pump(); });
</script></body></html>
"""


STREAMS_PAGE = """<!doctype html><title>open streams</title><script>
window.opened = {ws: false, sse: false};
const ws = new WebSocket("ws://127.0.0.1:%(ws_port)d/echo");
ws.onopen = () => { ws.send("hello"); window.opened.ws = true; };
const es = new EventSource("/sse?n=1000&interval=0.2");
es.onmessage = () => { window.opened.sse = true; };
</script>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ws_port = 0
    dead_port = 0

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        self.do_GET()

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        try:
            if path in ("/", "/page"):
                body = (PAGE % {"ws_port": self.ws_port, "dead_port": self.dead_port}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif path == "/streams":
                body = (STREAMS_PAGE % {"ws_port": self.ws_port}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif path == "/hop":
                body = b"<!doctype html><title>hop</title><script>location.href = '/other';</script>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif path == "/other":
                body = b"<!doctype html><title>other</title>elsewhere"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif path == "/sse":
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(int(params.get("n", "3"))):
                    self._send_chunk(b"id: %d\ndata: event %d\n\n" % (i, i))
                    time.sleep(float(params.get("interval", "0.05")))
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            elif path == "/cut":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self._send_chunk(b"partial body ")
                time.sleep(0.1)
                self._send_chunk(b"and more")
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            else:
                self.send_error(404)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


@dataclass
class Servers:
    http_port: int
    ws_port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@contextlib.contextmanager
def run_servers() -> Iterator[Servers]:
    """A threaded HTTP server and a websockets server on 127.0.0.1, both stopped on exit."""
    import websockets.asyncio.server as wss

    # a port that refuses connections and that nobody else can take meanwhile: bound, never listening
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    handler = type("H", (_Handler,), {"dead_port": dead.getsockname()[1]})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    http_thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    http_thread.start()
    ports: list[int] = []

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()

    async def ws_handler(conn: Any) -> None:
        path = conn.request.path
        if path == "/close4001":
            for i in range(3):
                await conn.send(f"server message {i}")
                await asyncio.sleep(0.05)
            with contextlib.suppress(Exception):
                await conn.recv()
            await conn.close(4001, "bye")
        elif path == "/drop":
            await conn.send("about to drop")
            await asyncio.sleep(0.2)
            conn.transport.abort()
        else:
            with contextlib.suppress(Exception):
                async for msg in conn:
                    await conn.send(msg)

    async def main() -> None:
        async with wss.serve(ws_handler, "127.0.0.1", 0) as server:
            ports.extend(sock.getsockname()[1] for sock in server.sockets)
            ready.set()
            await stop.wait()

    ws_thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    ws_thread.start()
    try:
        if not ready.wait(60) or not ports:
            raise RuntimeError("the WebSocket server did not start")
        handler.ws_port = ports[0]  # type: ignore[attr-defined]
        yield Servers(http_port=httpd.server_address[1], ws_port=ports[0])
    finally:
        loop.call_soon_threadsafe(stop.set)
        ws_thread.join(30)
        httpd.shutdown()
        httpd.server_close()
        dead.close()


@dataclass
class Recording:
    netlog: Path
    cdp: Path
    har: Path
    console: Path
    base: str
    ws_port: int
    started: float
    ended: float


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_browser(dirpath: Path, servers: Servers | None = None) -> Recording:
    """One scripted visit in headless Chromium; every evidence file closed cleanly."""
    from playwright.sync_api import sync_playwright

    dirpath.mkdir(parents=True, exist_ok=True)
    netlog = dirpath / "netlog.json"
    cdp_path = dirpath / "cdp.jsonl"
    har = dirpath / "session.har"
    console = dirpath / "console.log"
    with contextlib.ExitStack() as stack:
        srv = servers or stack.enter_context(run_servers())
        started = time.time()
        cdp_fh = stack.enter_context(open(cdp_path, "w", encoding="utf-8"))
        con_fh = stack.enter_context(open(console, "w", encoding="utf-8"))
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--log-net-log={netlog}", "--net-log-capture-mode=Everything"],
            timeout=120_000,
        )
        try:
            context = browser.new_context(record_har_path=str(har))
            page = context.new_page()
            page.on(
                "console",
                lambda m: con_fh.write(f"{_iso(time.time())} [{m.type}] {m.text}\n"),
            )
            cdp = context.new_cdp_session(page)
            for method in CDP_EVENTS:
                cdp.on(
                    method,
                    lambda params, method=method: cdp_fh.write(
                        json.dumps({"method": method, "params": params}) + "\n"
                    ),
                )
            for domain in ("Network", "Page", "Runtime", "Log"):
                cdp.send(f"{domain}.enable")
            page.goto(srv.base + "/", timeout=60_000)
            page.wait_for_function(
                "window.done.ws && window.done.drop && window.done.es && window.done.cut && window.done.dead",
                timeout=60_000,
            )
            page.wait_for_timeout(500)  # let the open fetch stream deliver a few events
            page.goto(srv.base + "/other", timeout=60_000)
            page.wait_for_timeout(300)
            context.close()
        finally:
            browser.close()
        ended = time.time()
    return Recording(netlog, cdp_path, har, console, srv.base, srv.ws_port, started, ended)


@dataclass
class KilledRun:
    netlog: Path
    stderr_log: Path


def record_killed_netlog(dirpath: Path, servers: Servers, *, seconds: float = 4.0) -> KilledRun:
    """Chromium with --log-net-log and --enable-logging=stderr, SIGKILLed after ``seconds``."""
    dirpath.mkdir(parents=True, exist_ok=True)
    netlog = dirpath / "killed-netlog.json"
    stderr_log = dirpath / "chrome-stderr.log"
    profile = dirpath / "profile"
    with open(stderr_log, "wb") as err:
        proc = subprocess.Popen(
            [
                CHROMIUM,
                *CHROMIUM_ARGS,
                f"--user-data-dir={profile}",
                f"--log-net-log={netlog}",
                "--net-log-capture-mode=Everything",
                "--enable-logging=stderr",
                "--v=0",
                "--remote-debugging-port=0",
                servers.base + "/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + seconds + 60
            # wait until the page has produced console output (the WebSocket closed), then kill
            while time.monotonic() < deadline:
                time.sleep(0.25)
                if time.monotonic() > deadline - 60 and b"ws close" in stderr_log.read_bytes():
                    break
            time.sleep(0.5)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    return KilledRun(netlog, stderr_log)


@dataclass
class CrashRecording:
    netlog: Path
    cdp: Path
    crashed: bool
    crash_t: float


def record_crash(dirpath: Path, servers: Servers) -> CrashRecording:
    """A page with an open WebSocket and EventSource whose renderer is crashed (chrome://crash)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    dirpath.mkdir(parents=True, exist_ok=True)
    netlog = dirpath / "crash-netlog.json"
    cdp_path = dirpath / "crash-cdp.jsonl"
    crashed = threading.Event()
    crash_t = 0.0
    with sync_playwright() as pw, open(cdp_path, "w", encoding="utf-8") as cdp_fh:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--log-net-log={netlog}", "--net-log-capture-mode=Everything"],
            timeout=120_000,
        )
        try:
            page = browser.new_page()
            page.on("crash", lambda _: crashed.set())
            cdp = page.context.new_cdp_session(page)
            for method in CDP_EVENTS:
                cdp.on(
                    method,
                    lambda params, method=method: cdp_fh.write(
                        json.dumps({"method": method, "params": params}) + "\n"
                    ),
                )
            cdp.send("Network.enable")
            cdp.send("Page.enable")
            page.goto(servers.base + "/streams", timeout=60_000)
            page.wait_for_function("window.opened.ws && window.opened.sse", timeout=60_000)
            page.wait_for_timeout(300)
            crash_t = time.time()
            with contextlib.suppress(PlaywrightError):
                page.goto("chrome://crash", timeout=10_000)
            deadline = time.monotonic() + 30
            while not crashed.is_set() and time.monotonic() < deadline:
                try:
                    page.wait_for_timeout(100)
                except PlaywrightError:  # "Page crashed"
                    crashed.set()
            time.sleep(0.3)
        finally:
            browser.close()
    return CrashRecording(netlog, cdp_path, crashed.is_set(), crash_t)


# --- one recording per test session, shared by every importer's tests ---------------------------

_CACHE: dict[str, Any] = {}


def of(obs: list[Observation], kind: str, url_part: str = "") -> list[Observation]:
    """The observations of ``kind`` whose URL contains ``url_part``."""
    return [o for o in obs if o.kind == kind and url_part in (o.url or "")]


def shared(name: str, tmp_path_factory: Any) -> Any:
    """``"browser"`` (Recording), ``"killed"`` (KilledRun), ``"crash"`` (CrashRecording) or ``"bounded"``
    (BoundedRun), recorded once per test session."""
    if name not in _CACHE:
        base = Path(tmp_path_factory.mktemp(f"evidence-{name}"))
        with run_servers() as servers:
            if name == "browser":
                _CACHE[name] = record_browser(base, servers)
            elif name == "killed":
                _CACHE[name] = record_killed_netlog(base, servers)
            elif name == "crash":
                _CACHE[name] = record_crash(base, servers)
            elif name == "bounded":
                _CACHE[name] = record_bounded_killed(base, servers)
            elif name == "h2":
                _CACHE[name] = record_h2_through_caddy(base, servers)
            else:
                raise KeyError(name)
    return _CACHE[name]


@dataclass
class BoundedRun:
    placeholder: Path  # the --log-net-log file: only a note naming the directory
    directory: Path  # where Chrome kept the data (constants.json, event_file_N.json)


def record_bounded_killed(dirpath: Path, servers: Servers, *, seconds: float = 4.0) -> BoundedRun:
    """Chromium with --net-log-max-size-mb (bounded mode), SIGKILLed: the data stays in a temp directory."""
    dirpath.mkdir(parents=True, exist_ok=True)
    tmp = dirpath / "tmp"
    tmp.mkdir(exist_ok=True)
    netlog = dirpath / "bounded-netlog.json"
    proc = subprocess.Popen(
        [
            CHROMIUM,
            *CHROMIUM_ARGS,
            f"--user-data-dir={dirpath / 'profile'}",
            f"--log-net-log={netlog}",
            "--net-log-max-size-mb=1",
            "--net-log-capture-mode=Everything",
            servers.base + "/hop",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    try:
        deadline = time.monotonic() + seconds + 60
        needle = f"127.0.0.1:{servers.http_port}/other".encode()  # the page navigated there: all logged
        while time.monotonic() < deadline:
            time.sleep(0.25)
            events = list(tmp.glob("*/event_file_*.json"))
            if time.monotonic() > deadline - 60 and any(needle in f.read_bytes() for f in events):
                break
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    (directory,) = [d for d in tmp.iterdir() if (d / "constants.json").exists()]
    return BoundedRun(netlog, directory)


# --- HTTP/2 through a real Caddy with TLS (tls internal) -------------------------------------------

H2_PAGE = """<!doctype html><title>h2</title><script>
window.done = {cut: false};
fetch("/cut").then(r => r.text()).then(() => {}, e => { window.done.cut = true; });
fetch("/sse?n=1000&interval=0.2", {headers: {Accept: "text/event-stream"}})
  .then(r => { const rd = r.body.getReader(); const pump = () => rd.read().then(x => { if (!x.done) pump(); }); pump(); });
</script>"""


@dataclass
class H2Recording:
    netlog: Path
    caddy_log: Path
    base: str


def record_h2_through_caddy(dirpath: Path, servers: Servers) -> H2Recording:
    """Chromium -> Caddy (HTTPS, HTTP/2, ``tls internal``) -> our HTTP server: a body Caddy must abort
    (the upstream cuts it) and a stream cancelled by a navigation."""
    from playwright.sync_api import sync_playwright

    dirpath.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = dirpath / "caddy-h2.log"
    caddyfile = dirpath / "Caddyfile"
    caddyfile.write_text(
        "{\n\tadmin off\n\tdefault_bind 127.0.0.1\n\tpersist_config off\n\tskip_install_trust\n"
        f"\thttps_port {port}\n\tlog {{\n\t\toutput file {log}\n\t\tformat json\n\t\tlevel DEBUG\n\t}}\n}}\n"
        f"https://app.localhost:{port} {{\n\ttls internal\n\tlog {{\n\t\toutput file {log}\n\t\tformat json\n\t}}\n"
        f"\treverse_proxy 127.0.0.1:{servers.http_port}\n}}\n"
    )
    env = {**os.environ, "XDG_DATA_HOME": str(dirpath / "data"), "XDG_CONFIG_HOME": str(dirpath / "config")}
    caddy = Path(sys.executable).with_name("caddy")
    with open(dirpath / "caddy.stderr", "wb") as err:
        proc = subprocess.Popen(
            [str(caddy), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            stdout=err,
            stderr=err,
            env=env,
            start_new_session=True,
        )
    netlog = dirpath / "h2-netlog.json"
    base = f"https://app.localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("caddy did not start: " + (dirpath / "caddy.stderr").read_text()[-500:])
            time.sleep(0.1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    *CHROMIUM_ARGS,
                    "--ignore-certificate-errors",
                    f"--log-net-log={netlog}",
                    "--net-log-capture-mode=Everything",
                ],
                timeout=120_000,
            )
            try:
                page = browser.new_page(ignore_https_errors=True)
                page.route(
                    base + "/h2page", lambda route: route.fulfill(body=H2_PAGE, content_type="text/html")
                )
                page.goto(base + "/h2page", timeout=60_000)
                page.wait_for_function("window.done.cut", timeout=60_000)
                page.wait_for_timeout(800)
                page.goto(base + "/other", timeout=60_000)
                page.wait_for_timeout(300)
            finally:
                browser.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)
    return H2Recording(netlog, log, base)
