"""tearline.addons.mitm_io against a real mitmdump: what each primitive does to real peers on 127.0.0.1.

A small driver addon (written to ``tmp_path``) calls the primitive named in the
request's query string at a chosen moment; a raw-socket client
(``tearline.lab.wire``) and ``LabServer.observed`` report what each peer saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tearline.addons import mitm_io

from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer
from tearline.lab.wire import WsOutcome, http_get, ws_session
from tests.fixtures_proxy import server_ws_end

# query parameters the lab server ignores here (read by this module's proxy addon)
LAB_EXTRA_PARAMS = {"at", "term", "kill", "cut", "pause_ms", "wait"}

REPO = Path(__file__).resolve().parent.parent

DRIVER = """
import asyncio
from urllib.parse import parse_qs, urlsplit
from tearline.addons import mitm_io


def q(flow):
    return {k: v[0] for k, v in parse_qs(urlsplit(flow.request.path).query).items()}


class Driver:
    def websocket_message(self, flow):
        p = q(flow)
        if flow.websocket.messages[-1].from_client:
            return
        if sum(1 for m in flow.websocket.messages if not m.from_client) != int(p.get("at", "1")):
            return
        if "term" in p:  # term=client:close,server:fin
            kw = dict(x.split(":") for x in p["term"].split(","))
            task = mitm_io.ws_terminate(
                flow, client=kw["client"], server=kw["server"], code=int(p.get("code", "1000")),
                reason=p.get("reason", ""), close_wait=float(p.get("wait", "0.5")),
            )
            assert task is not None
        if "kill" in p:  # kill=server:rst
            side, how = p["kill"].split(":")
            assert mitm_io.close_conn(flow, flow.client_conn if side == "client" else flow.server_conn, how)

    def responseheaders(self, flow):
        p = q(flow)
        if "pause_ms" in p:
            flow.response.stream = True
            assert mitm_io.pause_reading(flow, flow.server_conn)
            loop = asyncio.get_running_loop()
            loop.call_later(int(p["pause_ms"]) / 1000, mitm_io.resume_reading, flow, flow.server_conn)
        if "cut" in p:
            seen = [0]

            def cb(chunk):
                seen[0] += 1
                if seen[0] == int(p.get("at", "2")):
                    asyncio.get_running_loop().call_soon(mitm_io.cut_body, flow, p["cut"], p.get("server", "fin"))
                return chunk

            flow.response.stream = cb


addons = [Driver()]
"""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, server: LabServer) -> Iterator[Mitmdump]:
    tmp = tmp_path_factory.mktemp("mitm_io")
    driver = tmp / "driver.py"
    driver.write_text(DRIVER)
    p = Mitmdump(scripts=[str(driver)], mode=f"reverse:{server.base}", confdir=tmp / "mitm", cwd=REPO)
    try:
        yield p.start()
    finally:
        p.stop(timeout=20)
        p.kill()


# --- unit: argument checks and gone flows ------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # ldap3, imported by mitmproxy's test helpers
def test_primitives_do_nothing_for_a_flow_without_live_connection() -> None:
    from mitmproxy.test import taddons, tflow

    with taddons.context():
        f = tflow.tflow(resp=True)
        assert mitm_io.handler_for(f) is None
        assert mitm_io.close_conn(f, f.client_conn, "rst") is False
        assert mitm_io.pause_reading(f, f.server_conn) is False
        assert mitm_io.resume_reading(f, f.server_conn) is False
        assert mitm_io.cut_body(f, "fin") is False
        assert mitm_io.ws_layer_for(f) is None
        with pytest.raises(ValueError, match="'fin' or 'rst'"):
            mitm_io.close_conn(f, f.client_conn, "reset")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="close, fin, rst, keep"):
            mitm_io.ws_terminate(tflow.twebsocketflow(), client="boom")  # type: ignore[arg-type]


# --- ws_terminate: each side gets exactly what was asked ---------------------------------------

TERMINATE = {
    # term query -> (client outcome, how the server's side began to end)
    "client:close,server:fin&code=4001&reason=proxy": (WsOutcome(2, (4001, "proxy"), "eof"), ("eof", None)),
    "client:close,server:close&code=4002": (WsOutcome(2, (4002, ""), "eof"), ("ws_close_received", 4002)),
    "client:rst,server:close&code=4004": (WsOutcome(2, None, "rst"), ("ws_close_received", 4004)),
    "client:rst,server:rst": (WsOutcome(2, None, "rst"), ("reset", None)),
    "client:fin,server:keep": (WsOutcome(2, None, "eof"), ("eof", None)),
}


@pytest.mark.parametrize("term", list(TERMINATE))
def test_ws_terminate(term: str, server: LabServer, proxy: Mitmdump) -> None:
    client_sees, server_first = TERMINATE[term]
    start = len(server.observed)
    got = ws_session(proxy.port, f"/ws?n=6&interval_ms=50&at=2&term={term}", after_close_timeout=5)
    assert got == client_sees
    seen = server_ws_end(server, start)
    assert seen[0] == server_first
    if server_first[0] != "ws_close_received":
        assert len(seen) == 1  # no close frame at all


def test_ws_terminate_close_wait_lets_the_client_answer(server: LabServer, proxy: Mitmdump) -> None:
    # close_wait=0: FIN right after the frame; the client's answer then meets a closed socket
    got = ws_session(proxy.port, "/ws?n=6&interval_ms=50&at=2&term=client:close,server:fin&code=4003&wait=0")
    assert (got.messages, got.close) == (2, (4003, ""))
    assert got.end in ("eof", "rst")


# --- close_conn -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kill", "client_end", "server_first"),
    [
        # a WebSocket's layer still hears the client leave and may send the server a 1000 close
        # frame (mitmproxy's rewrite; racy, both seen): ws_terminate chooses what the other side gets
        ("client:rst", "rst", None),
        ("client:fin", "eof", None),
        ("server:rst", None, ("reset", None)),
        ("server:fin", None, ("eof", None)),
    ],
)
def test_close_conn(
    kill: str,
    client_end: str | None,
    server_first: tuple[str, int | None],
    server: LabServer,
    proxy: Mitmdump,
) -> None:
    start = len(server.observed)
    got = ws_session(proxy.port, f"/ws?n=6&interval_ms=50&at=1&kill={kill}", after_close_timeout=5)
    if client_end is not None:
        # closed inside the hook, before mitmproxy forwarded the triggering message
        assert got == WsOutcome(0, None, client_end)
    else:
        assert got.messages <= 1
    first = server_ws_end(server, start)[0]
    if server_first is None:
        assert first in (("ws_close_received", 1000), ("eof", None))
    else:
        assert first == server_first


# --- cut_body -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_cut_body_ends_without_terminator(how: str, proxy: Mitmdump) -> None:
    got = http_get(proxy.port, f"/stream?n=8&interval_ms=40&size=10&cut={how}&at=2")
    assert got.status == 200
    assert not got.terminated
    assert got.end == ("eof" if how == "fin" else "rst")
    assert got.body.startswith(b"0:xxxxxxxx1:xxxxxxxx") if how == "fin" else len(got.body) <= 20
    assert len(got.body) < 80  # the rest of the 8 chunks never came


# --- pause_reading: real TCP backpressure ------------------------------------------------------------

PAUSE_MS = 3000
TOTAL = 400 * 65536  # 26 MB: more than loopback socket buffers can hold


@pytest.mark.slow
def test_pause_reading_blocks_the_senders_writes(server: LabServer, proxy: Mitmdump) -> None:
    start = len(server.observed)
    got = http_get(proxy.port, f"/stream?n=400&size=65536&interval_ms=0&pause_ms={PAUSE_MS}", timeout=120)
    assert got.terminated and len(got.body) == TOTAL  # nothing lost across the pause
    seen = server.observed[start:]
    t_req = next(e.t for e in seen if e.what == "request")
    t_end = next(e.t for e in seen if e.what == "end")
    # the server could only finish writing after the proxy resumed reading (tolerance 20%)
    assert t_end - t_req >= PAUSE_MS / 1000 * 0.8, f"server finished after {t_end - t_req:.2f}s"
