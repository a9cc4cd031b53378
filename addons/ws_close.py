"""What the proxy saw of a WebSocket's end, as ``tearline.lifecycle`` inputs.

Sources, merged in time order: the close frames and connection ends that
``addons.conn_watch`` logged in the WebSocket layer, how each connection ended
(``conn_watch.end_reason``), and mitmproxy's own ``close_code`` /
``closed_by_client`` when the layer log is empty (e.g. a fault replaced the
layer's handler). mitmproxy answers the first close frame itself, so unless the
other peer's close frame was seen, a ``proxy`` answer follows the first frame.
"""

from __future__ import annotations

from typing import Any

from tearline.addons import conn_watch

from tearline.lifecycle import WsInput

__all__ = ["ws_inputs"]


def ws_inputs(flow: Any) -> list[WsInput]:
    """The lifecycle inputs for a finished WebSocket flow, from conn_watch's frame log,
    connection end reasons, and mitmproxy's own ``close_code`` / ``closed_by_client``."""
    ws = flow.websocket
    log = conn_watch.ws_frames(flow.id)
    conns = {"client": flow.client_conn, "server": flow.server_conn}

    def how(side: str) -> str | None:
        r = conn_watch.end_reason(conns[side]) if conns[side] else None
        return r.how if r else None

    items: list[tuple[float, int, WsInput]] = []
    if log is not None:
        for n, (side, code, reason, t) in enumerate(log.closes):
            items.append((t, n, WsInput("frame", side, code=code, reason=reason, t=t)))
        for n, (side, t) in enumerate(log.ends):
            items.append((t, 100000 + n, WsInput("drop", side, how=how(side) or "fin", t=t)))
        for n, (side, code, reason, t) in enumerate(log.proxy[:1]):  # to both sides: one close
            items.append((t, -1000 + n, WsInput("proxy", side, code=code, reason=reason, t=t)))
    items.sort(key=lambda x: (x[0], x[1]))
    inputs = [i for _, _, i in items]
    if not inputs and ws is not None and ws.close_code is not None:
        side = "client" if ws.closed_by_client else "server"
        if ws.close_code == 1006:
            inputs.append(WsInput("drop", side, how=how(side) or "fin"))
        else:
            inputs.append(WsInput("frame", side, code=ws.close_code, reason=ws.close_reason or ""))
    # mitmproxy answers the first close frame itself (the closer's side is REMOTE_CLOSING)
    first_frames = [i for i in inputs if i.kind == "frame"]
    if inputs and inputs[0].kind == "frame":
        other = "server" if first_frames[0].side == "client" else "client"
        if not any(i.kind == "frame" and i.side == other for i in inputs):
            inputs.insert(1, WsInput("proxy", first_frames[0].side, code=first_frames[0].code))
    return inputs
