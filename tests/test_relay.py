"""The faithful relay against the truth: the same client, directly and through mitmdump + tearline.

For each kind of end, a real ``LabServer`` ends the stream, and a raw-socket client
(``tearline.lab.wire``) reports the close frame, whether the body was complete and
whether TCP ended with FIN or RST; what it sees through ``mitmdump -s
addons/ws_trace.py`` (which loads the relay) must equal what it sees directly, and
the capture must hold the ``Relay`` event saying what tearline passed on. Headless
Chromium checks the main cases the way a user meets them (``CloseEvent`` and the
net error from DevTools). A control run without tearline's addons shows mitmproxy's
own rewriting, so these tests can fail.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from tearline.addons.conn_watch import TLS_CLOSE_NOTIFY
from tearline.addons.relay import PHASES, RULES, decide

from tearline.capture import read_capture
from tearline.errors import InputError
from tearline.events import RELAY_ACTIONS, ConnClose, Relay
from tearline.lab.caddy import Caddy, CaddySite, run_caddy
from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer
from tearline.lab.wire import HttpOutcome, WsOutcome, http_get, ws_session
from tearline.tcp_end import end_socket
from tests.conftest import wait_for
from tests.fixtures_browser import FETCH_JS, WS_JS, Chrome
from tests.fixtures_proxy import server_ws_end
from tests.raw_server import raw_server

REPO = Path(__file__).resolve().parent.parent
WS_TRACE = REPO / "addons" / "ws_trace.py"

# name -> (kind, LabServer path, expected Relay event (leg, observed, action, code, reason))
SERVER_ENDS: dict[str, tuple[str, str, tuple[str, str, str, int | None, str | None]]] = {
    "ws-close-4000": (
        "ws",
        "/ws?n=2&interval_ms=20&end=close&code=4000&reason=bye",
        ("client", "close", "close", 4000, "bye"),
    ),
    "ws-fin-no-close-frame": ("ws", "/ws?n=2&interval_ms=20&end=fin", ("client", "fin", "fin", None, None)),
    "ws-rst": ("ws", "/ws?n=2&interval_ms=20&end=rst", ("client", "rst", "rst", None, None)),
    "chunked-cut": ("http", "/stream?n=3&interval_ms=20&end=cut", ("client", "fin", "cut", None, None)),
    "chunked-rst": ("http", "/stream?n=3&interval_ms=20&end=rst", ("client", "rst", "rst", None, None)),
    "sse-cut-mid-event": (
        "http",
        "/sse?n=2&interval_ms=20&end=partial",
        ("client", "fin", "cut", None, None),
    ),
}
CLIENT_ABORTS = {"client-fin-no-close-frame": "fin", "client-rst": "rst"}
CLIENT_CLOSE = (4001, "client-bye")


# --- fixtures: one LabServer and one recording mitmdump per module ------------------------------


def _proxy(tmp: Path, server: LabServer, scripts: list[str]) -> Mitmdump:
    options = {"trace_file": str(tmp / "capture.jsonl")} if scripts else {}
    return Mitmdump(
        scripts=scripts, mode=f"reverse:{server.base}", options=options, confdir=tmp / "mitm", cwd=REPO
    )


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, server: LabServer) -> Iterator[Mitmdump]:
    p = _proxy(tmp_path_factory.mktemp("relay"), server, [str(WS_TRACE)])
    p.capture = Path(p.options["trace_file"])  # type: ignore[attr-defined]
    try:
        yield p.start()
    finally:
        p.stop(timeout=20)
        p.kill()


@pytest.fixture(scope="module")
def bare_proxy(tmp_path_factory: pytest.TempPathFactory, server: LabServer) -> Iterator[Mitmdump]:
    p = _proxy(tmp_path_factory.mktemp("bare"), server, [])
    try:
        yield p.start()
    finally:
        p.stop(timeout=20)
        p.kill()


def relay_events(proxy: Mitmdump) -> list[Relay]:
    path: Path = proxy.capture  # type: ignore[attr-defined]
    try:
        capture = read_capture(path)
    except (FileNotFoundError, InputError):  # not written yet (the header comes with the first flush)
        return []
    return [e for e in capture.events if isinstance(e, Relay)]


def new_relay_events(proxy: Mitmdump, before: int, want: int = 1, timeout: float = 10.0) -> list[Relay]:
    """Relay events written after the first ``before`` ones (the recorder flushes every 100 ms)."""
    deadline = time.monotonic() + timeout
    while True:
        got = relay_events(proxy)[before:]
        if len(got) >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def observe(kind: str, port: int, path: str) -> WsOutcome | HttpOutcome:
    return ws_session(port, path, after_close_timeout=3) if kind == "ws" else http_get(port, path)


# --- the rule table (pure) ----------------------------------------------------------------------


def test_rules_name_only_known_actions_and_phases() -> None:
    for phase, table in RULES.items():
        assert phase in PHASES
        assert set(table.values()) <= set(RELAY_ACTIONS)
    assert decide("ws-open", "fin") == "fin"
    assert decide("ws-open", "rst") == "rst"
    assert decide("body", "fin") == "cut"
    assert decide("body-eof", "fin") == "fin"
    assert decide("idle", "fin") == "none"  # mitmproxy FINs an idle upstream itself
    assert decide("h2-stream", "rst") == "none"
    assert decide("ws-open", "closed") == "none"  # we closed it ourselves: nothing to pass on
    with pytest.raises(ValueError, match="unknown relay phase"):
        decide("nope", "fin")


# --- Python clients: direct == through tearline ---------------------------------------------------


@pytest.mark.parametrize("rep", range(3))
@pytest.mark.parametrize("name", list(SERVER_ENDS))
def test_server_end_reaches_client_as_it_happened(
    name: str, rep: int, server: LabServer, proxy: Mitmdump
) -> None:
    kind, path, (leg, observed, action, code, reason) = SERVER_ENDS[name]
    direct = observe(kind, server.port, path)
    before = len(relay_events(proxy))
    proxied = observe(kind, proxy.port, path)
    assert direct == proxied, f"{name}: direct {direct} != through tearline {proxied}"
    if isinstance(direct, HttpOutcome):
        assert not direct.terminated and direct.body  # the case really is a cut body
    got = new_relay_events(proxy, before)
    assert [(e.leg, e.observed, e.action, e.code, e.reason) for e in got] == [
        (leg, observed, action, code, reason)
    ]
    assert got[0].stream is not None and got[0].conn is not None


@pytest.mark.parametrize("rep", range(3))
@pytest.mark.parametrize("name", list(CLIENT_ABORTS))
def test_client_abort_reaches_server_as_it_happened(
    name: str, rep: int, server: LabServer, proxy: Mitmdump
) -> None:
    how = CLIENT_ABORTS[name]
    path = "/ws?n=5&interval_ms=100"
    start = len(server.observed)
    assert ws_session(server.port, path, abort=how).end == f"aborted-{how}"
    direct = server_ws_end(server, start)
    start = len(server.observed)
    before = len(relay_events(proxy))
    assert ws_session(proxy.port, path, abort=how).end == f"aborted-{how}"
    proxied = server_ws_end(server, start)
    assert direct == [("eof" if how == "fin" else "reset", None)]
    assert proxied == direct
    got = new_relay_events(proxy, before)
    assert [(e.leg, e.observed, e.action) for e in got] == [("server", how, how)]


def stream_end(server: LabServer, start: int, timeout: float = 15.0) -> list[tuple[str, str]]:
    """How the server's last streamed response ended (its own ``end`` note, or the reset/error it met)."""
    deadline = time.monotonic() + timeout
    while True:
        ends = [
            (e.what, e.text) for e in server.observed[start:] if e.what in ("end", "reset", "error", "eof")
        ]
        if ends or time.monotonic() > deadline:
            return ends
        time.sleep(0.05)


SSE_LONG = "/sse?n=40&interval_ms=100"


@pytest.mark.parametrize("rep", range(3))
@pytest.mark.parametrize("how", ["fin", "rst"])
def test_client_leaving_a_stream_reaches_server(
    how: str, rep: int, server: LabServer, proxy: Mitmdump
) -> None:
    start = len(server.observed)
    assert http_get(server.port, SSE_LONG, abort=how, abort_after=100).end == f"aborted-{how}"
    direct = stream_end(server, start)
    start, before = len(server.observed), len(relay_events(proxy))
    assert http_get(proxy.port, SSE_LONG, abort=how, abort_after=100).end == f"aborted-{how}"
    assert stream_end(server, start) == direct == [("reset", "")]  # not streamed on to the end
    got = new_relay_events(proxy, before)
    assert [(e.leg, e.observed, e.action) for e in got] == [("server", how, how)]


def conn_end(server: LabServer, start: int, timeout: float = 10.0) -> list[str]:
    """How the server saw connections end (eof / reset) in ``observed[start:]``."""
    deadline = time.monotonic() + timeout
    while True:
        ends = [e.what for e in server.observed[start:] if e.what in ("eof", "reset", "error")]
        if ends or time.monotonic() > deadline:
            return ends
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_client_leaving_an_idle_connection_reaches_server(
    how: str, server: LabServer, proxy: Mitmdump
) -> None:
    """mitmproxy dials the upstream when the client connects (reverse mode, eager): no request yet."""
    seen = []
    for port in (server.port, proxy.port):
        start, before = len(server.observed), len(relay_events(proxy))
        accepted = server.connections
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        wait_for(
            lambda n=accepted: server.connections > n, "the upstream connection (mitmproxy dials eagerly)"
        )
        end_socket(sock, how)
        seen.append(conn_end(server, start))
    assert seen[0] == seen[1] == ["eof" if how == "fin" else "reset"]
    got = new_relay_events(proxy, before, timeout=3 if how == "fin" else 10)
    expected = [] if how == "fin" else [("server", "rst", "rst")]  # a FIN is mitmproxy's own
    assert [(e.leg, e.observed, e.action) for e in got] == expected


def hang_up_server(how: Literal["fin", "rst"]) -> contextlib.AbstractContextManager[int]:
    """A server on 127.0.0.1 that reads each request and hangs up without answering (FIN or RST)."""
    return raw_server(b"", how)


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_upstream_hanging_up_before_headers_is_not_a_502(how: str, tmp_path: Path) -> None:
    with hang_up_server(how) as port:
        p = Mitmdump(
            scripts=[str(WS_TRACE)],
            mode=f"reverse:http://127.0.0.1:{port}",
            options={"trace_file": str(tmp_path / "capture.jsonl")},
            confdir=tmp_path / "mitm",
            cwd=REPO,
        )
        p.capture = tmp_path / "capture.jsonl"  # type: ignore[attr-defined]
        try:
            p.start()
            direct, proxied = http_get(port, "/x"), http_get(p.port, "/x")
            got = new_relay_events(p, 0)
        finally:
            p.stop(timeout=20)
            p.kill()
    assert direct == proxied == HttpOutcome(0, b"", False, "eof" if how == "fin" else "rst")
    assert [(e.leg, e.observed, e.action) for e in got] == [("client", how, how)]


@pytest.mark.parametrize("rep", range(3))
def test_client_close_frame_reaches_server(rep: int, server: LabServer, proxy: Mitmdump) -> None:
    path = "/ws?n=5&interval_ms=100"
    start = len(server.observed)
    direct = ws_session(server.port, path, close=CLIENT_CLOSE, after_close_timeout=1)
    direct_server = server_ws_end(server, start)
    start, before = len(server.observed), len(relay_events(proxy))
    proxied = ws_session(proxy.port, path, close=CLIENT_CLOSE, after_close_timeout=1)
    assert (direct.messages, direct.close) == (proxied.messages, proxied.close) == (1, CLIENT_CLOSE)
    proxied_server = server_ws_end(server, start)
    assert proxied_server == direct_server
    assert direct_server[0] == ("ws_close_received", 4001)
    got = new_relay_events(proxy, before)
    assert [(e.leg, e.observed, e.action, e.code, e.reason) for e in got] == [
        ("server", "close", "close", 4001, "client-bye")
    ]


# --- control: mitmproxy alone launders these ends, so the tests above can fail -------------------


@pytest.mark.parametrize(
    ("path", "laundered"),
    [
        ("/ws?n=2&interval_ms=20&end=fin", WsOutcome(2, (1000, ""), "eof")),
        ("/ws?n=2&interval_ms=20&end=rst", WsOutcome(2, (1000, ""), "eof")),
    ],
)
def test_control_mitmproxy_alone_rewrites_websocket_drops(
    path: str, laundered: WsOutcome, server: LabServer, bare_proxy: Mitmdump
) -> None:
    got = ws_session(bare_proxy.port, path)
    # the laundering is the invented close frame 1000; how mitmproxy's socket then ends depends on
    # whether the client's answering close frame reaches it before it closes (on a loaded machine: RST)
    assert (got.messages, got.close) == (laundered.messages, laundered.close)
    assert got.end in ("eof", "rst")
    assert ws_session(server.port, path).close is None


def test_control_mitmproxy_alone_turns_upstream_rst_into_fin(server: LabServer, bare_proxy: Mitmdump) -> None:
    path = "/stream?n=3&interval_ms=20&end=rst"
    assert http_get(server.port, path).end == "rst"
    laundered = http_get(bare_proxy.port, path)
    assert (laundered.status, laundered.end) == (502, "eof")  # buffered, then a 502 page and a FIN
    start = len(server.observed)
    ws_session(bare_proxy.port, "/ws?n=5&interval_ms=100", abort="rst")
    assert server_ws_end(server, start)[0] == (
        "ws_close_received",
        1000,
    )  # a client reset became a clean close


# --- headless Chromium ----------------------------------------------------------------------------------


def outcome(chrome: Chrome, origin: str, kind: str, path: str) -> dict[str, Any]:
    """How Chromium saw ``path`` end at ``origin``: the CloseEvent of a WebSocket, or a fetch's net error."""
    if kind == "ws":
        return chrome.websocket(origin, origin.replace("http://", "ws://") + path)
    result = chrome.fetch(origin, path, wait_s=5)
    result.pop("error", None)  # the JS text differs by origin only in wording; the net error is the truth
    return result


BROWSER_CASES = [
    "ws-close-4000",
    "ws-fin-no-close-frame",
    "ws-rst",
    "chunked-cut",
    "chunked-rst",
    "sse-cut-mid-event",
]


@pytest.mark.browser
@pytest.mark.parametrize("rep", range(3))
@pytest.mark.parametrize("name", BROWSER_CASES)
def test_chromium_sees_the_same_end_through_tearline(
    name: str, rep: int, server: LabServer, proxy: Mitmdump, chrome: Chrome
) -> None:
    kind, path, _ = SERVER_ENDS[name]
    direct = outcome(chrome, server.base, kind, path)
    proxied = outcome(chrome, proxy.url, kind, path)
    if kind == "http":
        # how many bytes reach JavaScript before the error races in Chromium itself (direct runs
        # differ from each other too); the wire-level body is compared by the raw-client tests
        direct.pop("bytes"), proxied.pop("bytes")
    assert direct == proxied
    if kind == "ws" and name != "ws-close-4000":
        assert (direct["code"], direct["wasClean"]) == (1006, False)
    if kind == "http":
        assert not direct["ok"] and direct["net_error"]


@pytest.mark.browser
@pytest.mark.parametrize("rep", range(2))
def test_chromium_leaving_mid_stream_reaches_server_the_same(
    rep: int, server: LabServer, proxy: Mitmdump, chrome: Chrome
) -> None:
    """The incident's trigger: the user clicks away while a fetch stream is running."""
    seen = []
    for origin in (server.base, proxy.url):
        chrome.page.goto(origin + "/")
        start = len(server.observed)
        chrome.page.evaluate(
            "url => { window.s = fetch(url).then(r => r.text()).catch(() => null); }", origin + SSE_LONG
        )
        chrome.page.wait_for_timeout(600)
        chrome.page.goto(origin + "/left")  # away: a plain page
        seen.append(stream_end(server, start))
    assert seen[0] == seen[1] == [("reset", "")]


@pytest.mark.browser
def test_chromium_control_mitmproxy_alone_reports_clean_1000(
    server: LabServer, bare_proxy: Mitmdump, chrome: Chrome
) -> None:
    got = outcome(chrome, bare_proxy.url, "ws", SERVER_ENDS["ws-fin-no-close-frame"][1])
    assert got["code"] == 1000  # the laundering the relay exists to undo


@pytest.mark.browser
def test_chromium_over_tls_and_http2(server: LabServer, proxy: Mitmdump, chrome: Chrome) -> None:
    """https to mitmdump (Chromium speaks h2, WebSockets on their own HTTP/1.1 TLS connection).

    WebSocket drops are relayed below TLS as for plain HTTP. A body cut on an h2 stream
    cannot be relayed per stream: mitmproxy resets the stream (RST_STREAM), so the
    browser still sees a failure (``ERR_HTTP2_PROTOCOL_ERROR``), never a clean end,
    and the capture says the relay left it (action ``none``).
    """
    origin = f"https://127.0.0.1:{proxy.port}"
    context = chrome.browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        failed: list[str] = []
        cdp = context.new_cdp_session(page)
        cdp.on("Network.loadingFailed", lambda p: failed.append(p.get("errorText", "")))
        cdp.send("Network.enable")
        page.goto(origin + "/")
        for name in ("ws-fin-no-close-frame", "ws-rst"):
            got = page.evaluate(WS_JS, origin.replace("https://", "wss://") + SERVER_ENDS[name][1])
            assert (got["code"], got["wasClean"], got["messages"]) == (1006, False, 2), name
        before = len(relay_events(proxy))
        got = page.evaluate(FETCH_JS, origin + SERVER_ENDS["chunked-cut"][1])
        deadline = time.monotonic() + 5
        while not failed and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        protocols = page.evaluate("performance.getEntriesByType('resource').map(e => e.nextHopProtocol)")
    finally:
        context.close()
    assert "h2" in protocols
    assert not got["ok"] and failed == ["net::ERR_HTTP2_PROTOCOL_ERROR"]
    assert [(e.leg, e.observed, e.action) for e in new_relay_events(proxy, before)] == [
        ("client", "fin", "none")
    ]


# --- Chromium -> mitmdump -> Caddy over TLS: Caddy ends TLS with close_notify -------------------------


@pytest.fixture(scope="module")
def caddy_tls(tmp_path_factory: pytest.TempPathFactory, server: LabServer) -> Iterator[Caddy]:
    """Caddy with TLS (internal CA, HTTP/2) in front of the LabServer, as ``relay.localhost``."""
    site = CaddySite(host="relay.localhost", upstream=f"127.0.0.1:{server.port}")
    with run_caddy([site], tmp_path_factory.mktemp("caddy-tls"), tls=True) as caddy:
        yield caddy


def _tls_proxy(tmp: Path, caddy: Caddy, scripts: list[str]) -> Mitmdump:
    options: dict[str, object] = {"keep_host_header": True, "ssl_insecure": True}  # Caddy's internal CA
    if scripts:
        options["trace_file"] = str(tmp / "capture.jsonl")
    p = Mitmdump(
        scripts=scripts,
        mode=f"reverse:https://127.0.0.1:{caddy.port}",
        options=options,
        confdir=tmp / "mitm",
        cwd=REPO,
    )
    p.capture = tmp / "capture.jsonl"  # type: ignore[attr-defined]
    return p


@pytest.fixture(scope="module")
def tls_proxies(tmp_path_factory: pytest.TempPathFactory, caddy_tls: Caddy) -> Iterator[dict[str, Mitmdump]]:
    """``tearline``: mitmdump + ws_trace (the relay); ``bare``: mitmdump alone; both https to Caddy."""
    started: dict[str, Mitmdump] = {}
    try:
        for name, scripts in (("tearline", [str(WS_TRACE)]), ("bare", [])):
            started[name] = _tls_proxy(tmp_path_factory.mktemp(f"tls-{name}"), caddy_tls, scripts).start()
        yield started
    finally:
        for p in started.values():
            p.stop(timeout=20)
            p.kill()


def tls_ws_outcome(chrome: Chrome, port: int, path: str) -> dict[str, Any]:
    """Chromium's CloseEvent for wss://relay.localhost:PORT/path (certificate errors ignored)."""
    context = chrome.browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.goto(f"https://relay.localhost:{port}/")
        return dict(page.evaluate(WS_JS, f"wss://relay.localhost:{port}{path}"))
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.caddy
@pytest.mark.parametrize("rep", range(3))
@pytest.mark.parametrize("name", ["ws-fin-no-close-frame", "ws-rst"])
def test_chromium_through_caddy_over_tls_sees_the_drop_as_direct(
    name: str, rep: int, caddy_tls: Caddy, tls_proxies: dict[str, Mitmdump], chrome: Chrome
) -> None:
    """The upstream drops a WebSocket behind Caddy with TLS (``record_scenario(..., tls=True)``'s set-up).

    Caddy (Go's ``tls.Conn.Close``) ends the TLS connection to the proxy with a
    close_notify before its FIN. mitmproxy's TLS layer reports that to the WebSocket
    layer as a closed connection before the FIN is read; conn_watch records it as
    the peer's ``fin`` (``TLS close_notify``) so the relay passes it on, and
    Chromium sees ``1006``, ``wasClean=false``, as when it talks to Caddy directly
    (before: mitmproxy's clean ``1000``, and no ``relay`` event).
    """
    path = SERVER_ENDS[name][1]
    proxy = tls_proxies["tearline"]
    before = len(relay_events(proxy))
    direct = tls_ws_outcome(chrome, caddy_tls.port, path)
    proxied = tls_ws_outcome(chrome, proxy.port, path)
    assert direct == proxied == {"code": 1006, "reason": "", "wasClean": False, "messages": 2}
    relayed = new_relay_events(proxy, before)
    assert [(e.leg, e.observed, e.action) for e in relayed] == [("client", "fin", "fin")]
    # the leg to Caddy ended by the peer's close_notify, recorded as such
    ends = {
        e.conn: e
        for e in read_capture(proxy.capture).events  # type: ignore[attr-defined]
        if isinstance(e, ConnClose) and e.leg == "server"
    }
    assert any(e.by == "peer" and e.how == "fin" and e.error == TLS_CLOSE_NOTIFY for e in ends.values())


@pytest.mark.browser
@pytest.mark.caddy
def test_chromium_through_caddy_over_tls_control_mitmproxy_alone_reports_clean_1000(
    tls_proxies: dict[str, Mitmdump], chrome: Chrome
) -> None:
    got = tls_ws_outcome(chrome, tls_proxies["bare"].port, SERVER_ENDS["ws-fin-no-close-frame"][1])
    # the invented close frame 1000 is what the relay undoes on this path too; whether Chrome then calls
    # the close clean depends on how mitmproxy's socket ends after it (under load, not always cleanly)
    assert got["code"] == 1000
