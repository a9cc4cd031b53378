"""The fault addon: ``mitmdump -s addons/ws_trace.py -s addons/faults.py --set faults=scenario.toml``.

The edge of ``tearline.faults``: parses the scenario once in ``configure``,
feeds each stream's life (request, response headers, WebSocket messages, body
chunks, timers) through the pure injector, and carries out the effects it
returns with mitmproxy's own APIs (``msg.drop()``, ``inject.websocket``,
``http.Response.make``, the response stream callable) and ``addons.mitm_io``
(FIN/RST, close frames to one side, pause/resume reading, cutting a body).

Options:
``faults``  path of a TOML scenario (``[[fault]]`` tables; docs/faults.md)
``fault``   one fault in the one-line form, repeatable:
            ``--set fault=close:stream=ws,direction=server,after_messages=3,to=client,code=4001``

Commands (mitmdump, mitmproxy console, mitmweb): ``faults.list``, ``faults.arm ID``,
``faults.disarm ID``, ``faults.fire ID``.

Every arming and firing is recorded through the recorder
(``ctx.master.addons.get("ws_trace").emit``) as ``fault_armed``/``fault_fired``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from mitmproxy import command, ctx, exceptions, flowfilter, http
from mitmproxy.proxy.layers.websocket import WebsocketLayer, WebSocketMessageInjected

from addons import mitm_io
from tearline.errors import UsageError
from tearline.events import Anomaly, FaultArmed, FaultFired
from tearline.faults.effects import Abort, Close, Delay, Drop, Respond, Stall, Throttle, Truncate, describe
from tearline.faults.injector import FaultSpec, Firing, Injector, StreamFaults
from tearline.faults.scenario import load_scenario, one_line, parse_one_line

log = logging.getLogger(__name__)

__all__ = ["Faults", "request_kind", "response_kind"]

CUT_GRACE_S = 0.05  # after returning the kept bytes of a cut body, before closing the socket (s)
CLOSE_WAIT_S = 0.5  # time the peer gets to answer our close frame before TCP close (s)


def request_kind(headers: Any) -> str:
    """Stream kind guessed from request headers (pure): ``ws``, ``sse`` or ``http-stream``."""
    if headers.get("upgrade", "").lower() == "websocket":
        return "ws"
    if "text/event-stream" in headers.get("accept", "").lower():
        return "sse"
    return "http-stream"


def response_kind(status: int, headers: Any) -> str:
    """Stream kind from response headers (pure): ``ws``, ``sse``, ``http-stream`` or ``http``."""
    if status == 101:
        return "ws"
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "text/event-stream":
        return "sse"
    if "chunked" in headers.get("transfer-encoding", "").lower() and "content-length" not in headers:
        return "http-stream"
    return "http"


class _Live:
    """What the edge keeps per live stream (on the addon, never in flow.metadata).

    A plain class: mitmproxy loads this file as a script module that is not in
    ``sys.modules``, where ``@dataclass`` cannot resolve string annotations.
    """

    def __init__(self, flow: http.HTTPFlow, faults: StreamFaults) -> None:
        self.flow = flow
        self.faults = faults
        self.timer: asyncio.TimerHandle | None = None
        self.queues: dict[bool, asyncio.Queue[Any]] = {}  # to_client -> FIFO of held messages
        self.senders: list[asyncio.Task[None]] = []
        self.pending: dict[bool, int] = {True: 0, False: 0}
        self.reinjecting: dict[bool, int] = {True: 0, False: 0}  # to_client -> injections not yet seen
        self.stalls: dict[tuple[str, str], asyncio.Event] = {}  # (fault id, to) -> set at the stall's end
        self.stall_end: dict[tuple[str, str], Callable[[], None]] = {}
        self.held = b""  # body bytes read during a stall
        self.resume: asyncio.TimerHandle | None = None  # throttle: when upstream reading resumes
        self.resume_at = 0.0
        self.done = False


def _isolate_injected_fragments() -> None:
    """Give each injected WebSocket message a fragment buffer of its own (mitmproxy 12.3.1).

    ``WebsocketLayer.relay_messages`` appends an injected message's fragments to the buffer of
    the *live* message being received from the same side; when tearline re-injects a held
    message while a large live message is half received (reads paused by a stall, or just a
    partial socket read), the two are spliced into one corrupt message. Patched once, at load,
    before any WebSocket starts (the layer binds ``relay_messages`` when it starts).
    """
    orig = WebsocketLayer.relay_messages
    if getattr(orig, "_tearline", False):
        return

    def relay_messages(self: Any, event: Any) -> Any:
        if not isinstance(event, WebSocketMessageInjected):
            return (yield from orig(self, event))
        src = self.client_ws if event.message.from_client else self.server_ws
        saved, src.frame_buf = src.frame_buf, [b""]
        try:
            return (yield from orig(self, event))
        finally:
            src.frame_buf = saved

    relay_messages._tearline = True  # type: ignore[attr-defined]
    WebsocketLayer.relay_messages = relay_messages  # type: ignore[method-assign]


_isolate_injected_fragments()


class _DelayLine:
    """Per-read latency on an upstream connection, order kept: a streamed body's chunks are delayed.

    mitmproxy's stream callable is synchronous and cannot wait, so a body is delayed where it
    is read: the upstream ``StreamReader.read`` of that connection is replaced (an instance
    attribute; ``handle_connection`` calls it per read). A pump task reads on, stamping each
    read with its arrival time; ``read`` hands it out at arrival + delay, never before an
    earlier one. Pausing the transport (stall, throttle) still blocks the pump: backpressure
    is kept. ``delay_s()`` says the delay for the read now arriving (0 = none).
    """

    def __init__(self, reader: asyncio.StreamReader, delay_s: Callable[[], float]) -> None:
        self._orig = reader.read
        self._delay_s = delay_s
        self._q: asyncio.Queue[tuple[float, bytes, BaseException | None]] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._last = 0.0
        reader.read = self.read  # type: ignore[method-assign]

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


class Faults:
    """mitmproxy addon "tearline_faults"."""

    name = "tearline_faults"

    def __init__(self) -> None:
        self.specs: list[FaultSpec] = []
        self.injector = Injector([])
        self.filters: dict[str, Callable[[Any], bool]] = {}
        self.live: dict[str, _Live] = {}
        self.lines: dict[str, _DelayLine] = {}  # upstream connection id -> delay line
        self.on_server: dict[str, str] = {}  # upstream connection id -> id of the flow it carries
        self._announced = False

    # --- options ------------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        loader.add_option("faults", str | None, None, "tearline fault scenario (TOML [[fault]] tables)")
        loader.add_option(
            "fault",
            Sequence[str],
            [],
            "one fault, one-line form (repeatable), e.g. close:stream=ws,after_messages=3,to=client,code=4001",
        )

    def configure(self, updated: set[str]) -> None:
        if not ({"faults", "fault"} & updated):
            return
        try:
            specs = load_scenario(ctx.options.faults) if ctx.options.faults else []
            specs += [parse_one_line(text, i) for i, text in enumerate(ctx.options.fault, 1)]
            filters: dict[str, Any] = {}
            for spec in specs:
                if spec.trigger.match:
                    try:
                        filters[spec.fault_id] = flowfilter.parse(spec.trigger.match)
                    except ValueError as e:
                        raise UsageError(
                            f"{spec.trigger.match!r} is not a mitmproxy filter expression ({e})",
                            place=f"fault {spec.fault_id}, key 'match'",
                            hint='e.g. match = "~u /agent"',
                        ) from None
        except UsageError as e:
            if not self._announced:
                # at start-up: one error line (no traceback); mitmdump then exits
                # ("Error logged during startup"). Later (a live `set`): the change is refused.
                log.error(f"tearline_faults: {e}")
                self.injector = Injector([])
                return
            raise exceptions.OptionsError(str(e)) from None  # type: ignore[no-untyped-call]
        self.specs = specs
        self.filters = filters
        self.injector = Injector(specs)
        if self._announced:
            self._announce()

    def running(self) -> None:
        if self._tracer() is None:
            log.error(
                "tearline_faults: the recorder is not loaded, so faults will not be recorded; "
                "load it first: mitmdump -s addons/ws_trace.py -s addons/faults.py"
            )
        self._announced = True
        self._announce()

    def _announce(self) -> None:
        for af in self.injector.faults.values():
            self._emit(FaultArmed, fault_id=af.spec.fault_id, action=af.spec.action, params=af.params())
            log.info(
                f"tearline_faults: armed {af.spec.fault_id}: {af.spec.action} ({af.spec.trigger.describe()})"
            )

    # --- recording ------------------------------------------------------------------------------

    @staticmethod
    def _tracer() -> Any:
        return ctx.master.addons.get("ws_trace")  # type: ignore[no-untyped-call]

    def _emit(self, cls: Any, **kw: Any) -> None:
        tracer = self._tracer()
        if tracer is not None and hasattr(tracer, "emit"):
            tracer.emit(cls(ts=time.time(), mono=time.monotonic(), **kw))

    def _record(self, live: _Live, f: Firing, client: str | None, server: str | None) -> None:
        log.info(
            f"tearline_faults: {f.fault_id} {f.action} fired on {live.flow.request.pretty_url} ({f.trigger})"
        )
        self._emit(
            FaultFired,
            conn=live.flow.client_conn.id,
            stream=live.flow.id,
            fault_id=f.fault_id,
            action=f.action,
            params=f.params,
            trigger=f.trigger,
            client_action=client,
            server_action=server,
        )

    # --- connections ---------------------------------------------------------------------------

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
        self.lines[server_id] = _DelayLine(io.reader, lambda: self._read_delay(server_id))

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

    # --- HTTP hooks ----------------------------------------------------------------------------

    async def request(self, flow: http.HTTPFlow) -> None:
        if not self.injector.faults or flow.response is not None:
            return
        now = time.monotonic()
        sf = self.injector.open_stream(flow.id, request_kind(flow.request.headers), now, self._matcher(flow))
        if not sf.faults:
            return
        live = self.live[flow.id] = _Live(flow=flow, faults=sf)
        if flow.server_conn is not None:
            self.on_server[flow.server_conn.id] = flow.id
        for f in sf.on_request(now):
            for e in f.effects:
                if isinstance(e, Respond) and e.status is None:
                    self._record(live, f, "refused: connection closed, no response", None)
                    mitm_io.close_conn(flow, flow.client_conn, "fin")
                    flow.kill()  # type: ignore[no-untyped-call]
                elif isinstance(e, Respond):
                    self._record(live, f, f"responded {e.status}", "request not sent")
                    flow.response = http.Response.make(
                        e.status or 503, e.body.encode(), {"Content-Type": "text/plain; charset=utf-8"}
                    )
                elif isinstance(e, Delay):
                    self._record(live, f, None, f"request held {e.ms:.0f} ms")
                    await asyncio.sleep(e.ms / 1000)

    async def responseheaders(self, flow: http.HTTPFlow) -> None:
        live = self.live.get(flow.id)
        if live is None or flow.response is None:
            return
        sf = live.faults
        now = time.monotonic()
        sf.set_kind(response_kind(flow.response.status_code, flow.response.headers))
        for f in sf.on_headers(now):
            for e in f.effects:
                if isinstance(e, Delay):
                    self._record(live, f, f"response headers held {e.ms:.0f} ms", None)
                    await asyncio.sleep(e.ms / 1000)
                elif isinstance(e, Abort):
                    self._abort_http(live, f, e)
        if sf.ended or sf.kind not in ("sse", "http-stream"):
            return
        resp = flow.response
        prev = resp.stream if callable(resp.stream) else None
        resp.stream = self._stream_cb(live, prev)
        self._started(live, now)

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None and flow.response.status_code != 101:
            self._end(flow.id)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:
            self._end(flow.id)

    def _matcher(self, flow: http.HTTPFlow) -> Callable[[FaultSpec], bool]:
        def matches(spec: FaultSpec) -> bool:
            flt = self.filters.get(spec.fault_id)
            return flt is None or bool(flt(flow))

        return matches

    def _started(self, live: _Live, now: float) -> None:
        for f in live.faults.start(now):
            self._execute(live, f)
        self._schedule(live)

    # --- bodies ---------------------------------------------------------------------------------

    def _stream_cb(self, live: _Live, prev: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
        def pieces(out: Any) -> list[bytes]:
            return [out] if isinstance(out, bytes) else list(out)

        def cb(chunk: bytes) -> Any:
            out = self._body_chunk(live, chunk)
            if prev is None:
                return [out] if out else []
            result: list[bytes] = []
            if out:
                result += pieces(prev(out))
            if not chunk:
                result += [p for p in pieces(prev(b"")) if p]
            return [p for p in result if p]

        return cb

    def _body_chunk(self, live: _Live, chunk: bytes) -> bytes:
        now = time.monotonic()
        if live.stalls and chunk:  # data read while stalled waits for the stall's end
            live.held += chunk
            return b""
        data, live.held = live.held + chunk, b""
        if not data and chunk:
            return b""
        dec = live.faults.on_chunk(data, now)
        for f in dec.firings:
            self._record(live, f, ", ".join(describe(e) for e in f.effects), None)
        if dec.resume_at is not None:
            self._pause_upstream_until(live, dec.resume_at)
        for f in dec.after:
            self._execute(live, f)
        if chunk:
            self._schedule(live)
        return dec.out

    def _pause_upstream_until(self, live: _Live, until: float) -> None:
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

    def _abort_http(self, live: _Live, f: Firing, e: Abort) -> None:
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

    # --- WebSocket hooks -------------------------------------------------------------------------

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        live = self.live.get(flow.id)
        if live is not None:
            live.faults.set_kind("ws")
            self._started(live, time.monotonic())

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        live = self.live.get(flow.id)
        if live is None or flow.websocket is None or not flow.websocket.messages:
            return
        msg = flow.websocket.messages[-1]
        if live.done:
            # a close/abort/reset already fired: frames read in the same socket read as the
            # triggering message reach this hook before the termination runs; never pass them on
            msg.drop()  # type: ignore[no-untyped-call]
            return
        if msg.injected and live.reinjecting[not msg.from_client] > 0:
            live.reinjecting[not msg.from_client] -= 1
            live.pending[not msg.from_client] -= 1
            return
        direction = "client" if msg.from_client else "server"
        to_client = not msg.from_client
        dec = live.faults.on_message(
            direction, len(msg.content), msg.text if msg.is_text else None, time.monotonic()
        )
        for f in dec.firings:
            self._record(live, f, *self._ws_legs(f, direction))
        stalled = self._stalled(live, to_client)
        if dec.drop:
            msg.drop()  # type: ignore[no-untyped-call]
        elif dec.due is not None or live.pending[to_client] or stalled:
            msg.drop()  # type: ignore[no-untyped-call]
            self._enqueue(live, to_client, (dec.due or time.monotonic(), msg.content, msg.is_text))
        for f in dec.after:
            if live.pending[True] or live.pending[False]:
                self._enqueue(live, to_client, f)  # carried out once the messages before it have left
            else:
                self._execute(live, f)
        self._schedule(live)

    def _ws_legs(self, f: Firing, direction: str) -> tuple[str | None, str | None]:
        text = ", ".join(describe(e) for e in f.effects)
        # each-faults act on the messages of `direction`, i.e. on the leg they travel to
        return (text, None) if direction == "server" else (None, text)

    @staticmethod
    def _stalls_toward(live: _Live, to_client: bool) -> list[asyncio.Event]:
        side = "client" if to_client else "server"
        return [ev for (_fid, to), ev in live.stalls.items() if to in ("both", side) and not ev.is_set()]

    def _stalled(self, live: _Live, to_client: bool) -> bool:
        return bool(self._stalls_toward(live, to_client))

    def _enqueue(self, live: _Live, to_client: bool, item: Any) -> None:
        q = live.queues.get(to_client)
        if q is None:
            q = live.queues[to_client] = asyncio.Queue()
            live.senders.append(asyncio.get_running_loop().create_task(self._sender(live, q, to_client)))
        live.pending[to_client] += 1
        q.put_nowait(item)

    async def _sender(self, live: _Live, q: asyncio.Queue[Any], to_client: bool) -> None:
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

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._end(flow.id)

    # --- carrying out once-effects ---------------------------------------------------------------

    def _execute(self, live: _Live, f: Firing) -> None:
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
            elif isinstance(e, Abort):
                # let the bytes passed with this chunk reach the socket before it is closed
                asyncio.get_running_loop().call_later(CUT_GRACE_S, self._abort_http, live, f, e)
                live.done = True
            elif isinstance(e, Truncate):
                self._record(live, f, f"body cut after {e.keep} bytes of this chunk, then {e.how}", "fin")
                asyncio.get_running_loop().call_later(CUT_GRACE_S, mitm_io.cut_body, flow, e.how, "fin")
                live.done = True
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

    def _stall(self, live: _Live, f: Firing, e: Stall) -> None:
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

    # --- timers -------------------------------------------------------------------------------------

    def _schedule(self, live: _Live) -> None:
        if live.timer is not None:
            live.timer.cancel()
            live.timer = None
        if live.done:
            return
        due = live.faults.next_deadline(time.monotonic())
        if due is not None:
            loop = asyncio.get_running_loop()
            live.timer = loop.call_later(max(0.0, due - time.monotonic()), self._on_timer, live)

    def _on_timer(self, live: _Live) -> None:
        live.timer = None
        if live.done or not live.flow.live:
            return
        for f in live.faults.on_timer(time.monotonic()):
            self._execute(live, f)
        self._schedule(live)

    def _end(self, flow_id: str) -> None:
        live = self.live.pop(flow_id, None)
        if live is None:
            return
        live.done = True
        if live.timer is not None:
            live.timer.cancel()
        for q in live.queues.values():
            q.put_nowait(None)
        for end in list(live.stall_end.values()):
            end()

    # --- commands -----------------------------------------------------------------------------------

    @command.command("faults.list")  # type: ignore[untyped-decorator]
    def list_faults(self) -> Sequence[str]:
        """The armed and disarmed faults, one line each."""
        lines = []
        for af in self.injector.faults.values():
            state = "armed" if af.armed else "disarmed"
            lines.append(
                f"{af.spec.fault_id} {state} {af.spec.action} seed={af.seed} fired={af.fired} "
                f"streams={len(af.streams)}: {one_line(af.spec)}"
            )
        for line in lines:
            log.info(line)
        return lines

    def _get(self, fault_id: str) -> Any:
        af = self.injector.faults.get(fault_id)
        if af is None:
            raise exceptions.CommandError(
                f"no fault {fault_id!r}; known: {', '.join(self.injector.faults) or 'none'}"
            )
        return af

    @command.command("faults.arm")  # type: ignore[untyped-decorator]
    def arm(self, fault_id: str) -> None:
        """Arm a fault (it fires on new and live streams when its trigger holds)."""
        af = self._get(fault_id)
        af.armed = True
        self._emit(FaultArmed, fault_id=fault_id, action=af.spec.action, params=af.params(), armed=True)

    @command.command("faults.disarm")  # type: ignore[untyped-decorator]
    def disarm(self, fault_id: str) -> None:
        """Disarm a fault; stalls it started end now."""
        af = self._get(fault_id)
        af.armed = False
        self._emit(FaultArmed, fault_id=fault_id, action=af.spec.action, params=af.params(), armed=False)
        for live in list(self.live.values()):
            for key, end in list(live.stall_end.items()):
                if key[0] == fault_id:
                    end()

    @command.command("faults.fire")  # type: ignore[untyped-decorator]
    def fire(self, fault_id: str) -> int:
        """Fire a fault now on every live stream it matches; returns how many streams."""
        self._get(fault_id)
        n = 0
        for live in list(self.live.values()):
            if not live.faults.started or live.done:
                continue
            f = live.faults.fire(fault_id)
            if f is not None:
                n += 1
                with contextlib.suppress(Exception):
                    self._execute(live, f)
        log.info(f"tearline_faults: fired {fault_id} on {n} stream(s)")
        return n


def _leg_text(action: str, e: Close) -> str:
    return f"close {e.code}" + (f" {e.reason!r}" if e.reason else "") if action == "close" else action


addons = [Faults()]
