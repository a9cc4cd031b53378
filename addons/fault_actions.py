"""Carrying out a fault's once-effects with mitmproxy and ``addons.mitm_io``.

``FaultActions`` (a mixin of ``addons.faults.Faults``): ``close`` (close frames to
one side, FIN to the other after ``CLOSE_WAIT_S``), ``abort``/``reset`` (FIN or RST
on the named legs, WebSocket or HTTP), ``truncate`` (cut a body after the bytes
passed; with HTTP/2 to the browser these end the one stream with RST_STREAM ``h2_error``
and cancel it upstream, the connection's other streams go on), ``stall`` (stop reading a socket, with backpressure, for ``ms`` or until
disarmed) and a body throttle's pause of upstream reads. Each records its
``fault_fired`` first (``_record``). Times: seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from mitmproxy import http
from tearline.addons import mitm_io
from tearline.addons.fault_live import Live

from tearline.faults.effects import (
    H2_ERROR_CODES,
    Abort,
    Close,
    Delay,
    Drop,
    GoAway,
    Respond,
    Stall,
    Throttle,
    Truncate,
    describe,
)
from tearline.faults.injector import Firing

__all__ = ["CLOSE_WAIT_S", "CUT_GRACE_S", "FaultActions"]

CUT_GRACE_S = 0.05  # after returning the kept bytes of a cut body, before closing the socket (s)
CLOSE_WAIT_S = 0.5  # time the peer gets to answer our close frame before TCP close (s)


class FaultActions:
    """Once-effects. Needs ``_record`` from the addon."""

    _record: Callable[[Live, Firing, str | None, str | None], None]  # provided by Faults

    def _execute(self, live: Live, f: Firing) -> None:
        flow = live.flow
        for e in f.effects:
            if isinstance(e, Close):
                client: mitm_io.WsAction = "close" if e.to in ("client", "both") else "fin"
                server: mitm_io.WsAction = "close" if e.to in ("server", "both") else "fin"
                self._record(live, f, _leg_text(client, e), _leg_text(server, e))
                if client == "fin":
                    # FIN the browser only once the upstream had time to read its close frame:
                    # the end of the client connection makes mitmproxy drop the upstream at once
                    client = "keep"
                    lay = mitm_io.ws_layer_for(flow)
                    asyncio.get_running_loop().create_task(self._fin_client_after(flow, lay))
                mitm_io.ws_terminate(
                    flow, client=client, server=server, code=e.code, reason=e.reason, close_wait=CLOSE_WAIT_S
                )
                live.done = True
            elif isinstance(e, Abort) and live.faults.kind == "ws" and flow.websocket is not None:
                client = e.how if e.to in ("client", "both") else "fin"
                server = e.how if e.to in ("server", "both") else "fin"
                self._record(live, f, client, server)
                mitm_io.ws_terminate(flow, client=client, server=server, code=1006)
                live.done = True
            elif (
                isinstance(e, Abort | Truncate)
                and _h2_client(flow)
                and getattr(e, "to", "client") != "server"
            ):
                # HTTP/2 to the browser: end this stream only (RST_STREAM); its siblings go on
                rst = f"RST_STREAM {e.h2_error}"
                what = (
                    f"body cut after {e.keep} bytes of this chunk, then {rst}"
                    if isinstance(e, Truncate)
                    else rst
                )
                self._record(live, f, what, "cancel")
                code = H2_ERROR_CODES[e.h2_error]
                asyncio.get_running_loop().call_later(CUT_GRACE_S, mitm_io.h2_reset_stream, flow, code)
                live.done = True
            elif isinstance(e, Abort):
                # let the bytes passed with this chunk reach the socket before it is closed
                asyncio.get_running_loop().call_later(CUT_GRACE_S, self._abort_http, live, f, e)
                live.done = True
            elif isinstance(e, Truncate):
                self._record(live, f, f"body cut after {e.keep} bytes of this chunk, then {e.how}", "fin")
                asyncio.get_running_loop().call_later(CUT_GRACE_S, mitm_io.cut_body, flow, e.how, "fin")
                live.done = True
            elif isinstance(e, GoAway):
                if _h2_client(flow):
                    self._record(live, f, describe(e), None)
                    code = H2_ERROR_CODES[e.h2_error]
                    mitm_io.h2_goaway(flow, code, e.last_stream_id)
                else:
                    self._record(live, f, "none (the browser speaks HTTP/1.1 here: no GOAWAY)", None)
            elif isinstance(e, Stall):
                self._stall(live, f, e)
            elif isinstance(e, Drop | Delay | Throttle | Respond):
                self._record(live, f, describe(e), None)

    @staticmethod
    async def _fin_client_after(flow: http.HTTPFlow, lay: Any) -> None:
        """FIN the browser's leg ``CLOSE_WAIT_S`` after ``ws_terminate`` has run on ``lay``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while lay is not None and lay._handle_event != lay.done and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(CLOSE_WAIT_S)
        mitm_io.close_conn(flow, flow.client_conn, "fin")

    def _stall(self, live: Live, f: Firing, e: Stall) -> None:
        flow = live.flow
        key = (f.fault_id, e.to)
        ev = asyncio.Event()
        live.stalls[key] = ev
        paused: list[Any] = []
        if e.to in ("client", "both"):  # data toward the client comes from the server's socket
            paused.append(flow.server_conn)
        if e.to in ("server", "both"):
            paused.append(flow.client_conn)
        for conn in paused:
            mitm_io.pause_reading(flow, conn)
        how = "stalled " + (f"{e.ms} ms" if e.ms else "until disarmed") + ": reading paused"
        self._record(
            live, f, how if e.to in ("client", "both") else None, how if e.to in ("server", "both") else None
        )

        def end() -> None:
            if live.stalls.get(key) is not ev:
                return
            del live.stalls[key]
            live.stall_end.pop(key, None)
            for conn in paused:
                mitm_io.resume_reading(flow, conn)
            ev.set()

        live.stall_end[key] = end
        if e.ms is not None:
            asyncio.get_running_loop().call_later(e.ms / 1000, end)

    def _pause_upstream_until(self, live: Live, until: float) -> None:
        """Throttle a body: do not read the upstream socket until ``until`` (monotonic s)."""
        if live.resume_at >= until:
            return
        if live.resume is None and not mitm_io.pause_reading(live.flow, live.flow.server_conn):
            return
        if live.resume is not None:
            live.resume.cancel()
        live.resume_at = until

        def resume() -> None:
            live.resume = None
            if not live.stalls:
                mitm_io.resume_reading(live.flow, live.flow.server_conn)

        live.resume = asyncio.get_running_loop().call_later(max(0.0, until - time.monotonic()), resume)

    def _abort_http(self, live: Live, f: Firing, e: Abort) -> None:
        """End an HTTP stream (before or during the body) with FIN or RST on the named leg(s)."""
        flow = live.flow
        client = e.how if e.to in ("client", "both") else "fin"
        server = e.how if e.to in ("server", "both") else "fin"
        if e.to == "server":
            mitm_io.close_conn(flow, flow.server_conn, e.how)
            self._record(live, f, None, e.how)
            return
        self._record(live, f, client, server)
        mitm_io.cut_body(flow, client, server)


def _h2_client(flow: http.HTTPFlow) -> bool:
    """True when the browser speaks HTTP/2 on this flow (one stream of a shared connection)."""
    return flow.request.http_version == "HTTP/2.0"


def _leg_text(action: str, e: Close) -> str:
    return f"close {e.code}" + (f" {e.reason!r}" if e.reason else "") if action == "close" else action
