"""Delaying a streamed response body on its way to the client, in order (``delay`` on bodies).

mitmproxy's response stream callable is synchronous and cannot wait, so a body is
delayed where it is read from the upstream: ``DelayLine`` replaces that
connection's ``StreamReader.read`` (an instance attribute, replaced through
``addons.internals.wrap_read``, which lists it; mitmproxy's
``ConnectionHandler.handle_connection`` calls it once per read).
``BodyDelay`` (a mixin of ``addons.faults.Faults``) puts a delay line on each upstream
connection when the scenario has a body delay, and asks the stream's
``StreamFaults.read_delay`` how long each read waits. Times: monotonic seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tearline.addons import internals, mitm_io
from tearline.addons.fault_live import Live

from tearline.faults.injector import Injector

__all__ = ["BodyDelay", "DelayLine"]


class DelayLine:
    """Per-read latency on an upstream connection, order kept: a streamed body's chunks are delayed.

    Replaces the ``read`` of that connection's upstream ``StreamReader`` (layer ``delay`` of
    ``internals.READ_LAYERS``; mitmproxy's ``handle_connection`` calls it per read). A pump task reads on, stamping each read with its arrival time; ``read`` hands
    it out at arrival + delay, never before an earlier one. Pausing the transport (stall, throttle) still blocks the pump: backpressure
    is kept. ``delay_s()`` says the delay for the read now arriving (0 = none).
    """

    def __init__(self, reader: asyncio.StreamReader, delay_s: Callable[[], float]) -> None:
        self._orig: Callable[[int], Awaitable[bytes]] = reader.read
        self._delay_s = delay_s
        self._q: asyncio.Queue[tuple[float, bytes, BaseException | None]] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._last = 0.0
        internals.wrap_read(reader, "delay", self._wrap)

    def _wrap(self, orig: Callable[[int], Awaitable[bytes]]) -> Callable[[int], Awaitable[bytes]]:
        self._orig = orig
        return self.read

    async def read(self, n: int = -1) -> bytes:
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run())
        due, data, exc = await self._q.get()
        if exc is not None:
            raise exc
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        return data

    async def _run(self) -> None:
        while True:
            try:
                data = await self._orig(65535)
            except asyncio.CancelledError:
                raise
            except BaseException as e:  # the reader's error reaches mitmproxy through read()
                self._q.put_nowait((0.0, b"", e))
                return
            due = time.monotonic() + (self._delay_s() if data else 0.0)
            self._last = due = max(self._last, due)
            self._q.put_nowait((due, data, None))
            if not data:
                return

    def cancel(self) -> None:
        if self._pump is not None:
            self._pump.cancel()


class BodyDelay:
    """The ``server_connected``/``server_disconnected`` hooks of the fault addon."""

    injector: Injector
    live: dict[str, Live]
    lines: dict[str, DelayLine]  # upstream connection id -> delay line
    on_server: dict[str, str]  # upstream connection id -> id of the flow it carries

    def _body_delay_armed(self) -> bool:
        return any(
            af.spec.action == "delay" and af.spec.fault.on == "messages" and af.spec.trigger.stream != "ws"
            for af in self.injector.faults.values()
        )

    def server_connected(self, data: Any) -> None:
        """With a body delay in the scenario, put a delay line on each upstream connection."""
        if not self._body_delay_armed():
            return
        h = mitm_io.handler_for_client(data.client.id)
        io = h.transports.get(data.server) if h is not None else None
        if io is None or not isinstance(io.reader, asyncio.StreamReader):
            return
        server_id = data.server.id
        self.lines[server_id] = DelayLine(io.reader, lambda: self._read_delay(server_id))

    def server_disconnected(self, data: Any) -> None:
        line = self.lines.pop(data.server.id, None)
        if line is not None:
            line.cancel()
        self.on_server.pop(data.server.id, None)

    def _read_delay(self, server_id: str) -> float:
        """Seconds to hold the upstream read now arriving: the body delay applying to its flow."""
        live = self.live.get(self.on_server.get(server_id, ""))
        # like network latency, every upstream read of the stream is held, the response headers too
        if live is None or live.faults.kind not in ("sse", "http-stream"):
            return 0.0
        return live.faults.read_delay(time.monotonic()) / 1000
