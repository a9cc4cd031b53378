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

This module holds the options and the hooks; its parts are mixins of ``Faults``:
``addons/fault_actions.py`` carries out once-effects (close, abort, truncate, stall),
``addons/ws_inject.py`` re-injects held WebSocket messages in order (with a patch, applied by
``addons/internals.py``, so an injected message is never spliced into a half-received one),
``addons/body_delay.py`` delays streamed bodies where they are read (replacing the
upstream reader's ``read``), ``addons/fault_commands.py`` has the commands, and
``addons/fault_live.py`` the per-stream state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from mitmproxy import ctx, exceptions, flowfilter, http
from tearline.addons import internals, mitm_io, option_guard
from tearline.addons.body_delay import BodyDelay, DelayLine
from tearline.addons.fault_actions import FaultActions
from tearline.addons.fault_commands import FaultCommands
from tearline.addons.fault_live import Live, request_kind, response_kind
from tearline.addons.ws_inject import WsInjecting

from tearline.errors import UsageError
from tearline.events import FaultArmed, FaultFired
from tearline.faults.effects import Abort, Delay, Respond, describe
from tearline.faults.injector import FaultSpec, Firing, Injector
from tearline.faults.scenario import load_scenario, parse_one_line

log = logging.getLogger(__name__)

__all__ = ["Faults", "request_kind", "response_kind"]


class Faults(FaultActions, WsInjecting, BodyDelay, FaultCommands):
    """mitmproxy addon "tearline_faults"."""

    name = "tearline_faults"

    def __init__(self) -> None:
        self.specs: list[FaultSpec] = []
        self.injector = Injector([])
        self.filters: dict[str, Callable[[Any], bool]] = {}
        self.live: dict[str, Live] = {}
        self.lines: dict[str, DelayLine] = {}  # upstream connection id -> delay line
        self.on_server: dict[str, str] = {}  # upstream connection id -> id of the flow it carries
        self._announced = False
        self._failed = False
        self._configured = False

    # --- options ------------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        # before declaring: a value mitmproxy cannot convert would drop this script silently
        self._failed = bool(
            option_guard.take_bad_values(loader, {"faults": "optional_str", "fault": "str_list"})
        )
        self._configured = False
        option_guard.watch_registration(
            "the fault addon (tearline_faults)", lambda: self._configured, lambda: self._failed
        )
        internals.apply()  # before any WebSocket starts: held messages are re-injected (ws_inject)
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
        self._configured = True
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
                self._failed = True
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

    def _record(self, live: Live, f: Firing, client: str | None, server: str | None) -> None:
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

    # --- HTTP hooks ----------------------------------------------------------------------------

    async def request(self, flow: http.HTTPFlow) -> None:
        if not self.injector.faults or flow.response is not None:
            return
        now = time.monotonic()
        sf = self.injector.open_stream(flow.id, request_kind(flow.request.headers), now, self._matcher(flow))
        if not sf.faults:
            return
        live = self.live[flow.id] = Live(flow=flow, faults=sf)
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

    def _started(self, live: Live, now: float) -> None:
        for f in live.faults.start(now):
            self._execute(live, f)
        self._schedule(live)

    # --- bodies ---------------------------------------------------------------------------------

    def _stream_cb(self, live: Live, prev: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
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

    def _body_chunk(self, live: Live, chunk: bytes) -> bytes:
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

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._end(flow.id)

    # --- timers -------------------------------------------------------------------------------------

    def _schedule(self, live: Live) -> None:
        if live.timer is not None:
            live.timer.cancel()
            live.timer = None
        if live.done:
            return
        due = live.faults.next_deadline(time.monotonic())
        if due is not None:
            loop = asyncio.get_running_loop()
            live.timer = loop.call_later(max(0.0, due - time.monotonic()), self._on_timer, live)

    def _on_timer(self, live: Live) -> None:
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


addons = [Faults()]
