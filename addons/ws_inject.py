"""Re-injecting held WebSocket messages, in order, and the mitmproxy patch that makes it safe.

A WebSocket message a fault delays, throttles or holds during a stall is dropped
where it arrives (``websocket_message``) and sent again later with mitmproxy's
``inject.websocket`` command. ``WsInjecting`` (a mixin of ``addons.faults.Faults``)
keeps one FIFO queue and one sender task per direction, so held messages leave in
arrival order, and once-effects that fired after them wait their turn.

``wrap_relay_messages`` is a patch of ``WebsocketLayer.relay_messages`` (applied, with
the others, by ``addons.internals``): without it an injected message's fragments are
appended to the buffer of a live message being received from the same side, splicing
both into one corrupt message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from mitmproxy import ctx
from mitmproxy.proxy.layers.websocket import WebSocketMessageInjected
from tearline.addons.fault_live import Live

from tearline.events import Anomaly
from tearline.faults.injector import Firing

__all__ = ["WsInjecting", "wrap_relay_messages"]


def wrap_relay_messages(orig: Any) -> Any:
    """Give each injected WebSocket message a fragment buffer of its own (``WebsocketLayer.relay_messages``).

    mitmproxy appends an injected message's fragments to the buffer of the *live* message
    being received from the same side; when tearline re-injects a held message while a
    large live message is half received (reads paused by a stall, or just a partial
    socket read), the two are spliced into one corrupt message.
    """

    def relay_messages(self: Any, event: Any) -> Any:
        if not isinstance(event, WebSocketMessageInjected):
            return (yield from orig(self, event))
        src = self.client_ws if event.message.from_client else self.server_ws
        saved, src.frame_buf = src.frame_buf, [b""]
        try:
            return (yield from orig(self, event))
        finally:
            src.frame_buf = saved

    return relay_messages


class WsInjecting:
    """Held WebSocket messages, released in order. Needs ``_execute`` and ``_emit`` from the addon."""

    _execute: Callable[[Live, Firing], None]  # provided by FaultActions
    _emit: Callable[..., None]  # provided by Faults

    @staticmethod
    def _stalls_toward(live: Live, to_client: bool) -> list[asyncio.Event]:
        side = "client" if to_client else "server"
        return [ev for (_fid, to), ev in live.stalls.items() if to in ("both", side) and not ev.is_set()]

    def _stalled(self, live: Live, to_client: bool) -> bool:
        return bool(self._stalls_toward(live, to_client))

    def _enqueue(self, live: Live, to_client: bool, item: Any) -> None:
        q = live.queues.get(to_client)
        if q is None:
            q = live.queues[to_client] = asyncio.Queue()
            live.senders.append(asyncio.get_running_loop().create_task(self._sender(live, q, to_client)))
        live.pending[to_client] += 1
        q.put_nowait(item)

    async def _sender(self, live: Live, q: asyncio.Queue[Any], to_client: bool) -> None:
        """Release delayed/held WebSocket messages toward one side, in arrival order."""
        last = 0.0
        while (item := await q.get()) is not None:
            injected = False
            try:
                if isinstance(item, Firing):
                    self._execute(live, item)
                    continue
                due, content, is_text = item
                last = max(last, due)
                await asyncio.sleep(max(0.0, last - time.monotonic()))
                for ev in self._stalls_toward(live, to_client):
                    await ev.wait()
                if not live.flow.live or live.done:
                    self._emit(
                        Anomaly,
                        conn=live.flow.client_conn.id,
                        stream=live.flow.id,
                        text=f"tearline_faults: a held message ({len(content)} bytes to the "
                        f"{'client' if to_client else 'server'}) was discarded: the WebSocket ended first",
                    )
                else:
                    # pending drops when the message passes our hook again (websocket_message),
                    # so a live message cannot overtake it while the injection waits in the layer
                    live.reinjecting[to_client] += 1
                    injected = True
                    ctx.master.commands.call("inject.websocket", live.flow, to_client, content, is_text)
                    await asyncio.sleep(0)
            finally:
                if not injected:
                    live.pending[to_client] -= 1
