"""The recorder: ``mitmdump -s addons/ws_trace.py`` writes a tearline capture.

Records both legs (browser<->proxy = ``client``, proxy<->upstream = ``server``):
connections opened and how they ended (``addons/conn_watch.py``), HTTP flows,
streamed bodies chunk by chunk (SSE parsed into events), WebSocket messages and
how each socket closed, HTTP/2 resets and GOAWAY as far as mitmproxy exposes
them. It changes nothing that passes through. See docs/capture-format.md.

This module holds the options, the capture file and the WebSocket hooks; the
connection hooks are in ``addons/conn_trace.py``, the HTTP and body hooks in
``addons/http_trace.py`` (mixins of ``WsTrace``), the WebSocket end inputs in
``addons/ws_close.py``, and how connections ended in ``addons/conn_watch.py``.

Options (``--set name=value``; checked in ``configure``, a bad value stops mitmdump):

``trace_file``            capture path (default ``captures/<UTC timestamp>.jsonl``); a name ending
                          in ``.jsonl.zst`` or ``.jsonl.gz`` writes it compressed
``trace_payload``         ``none`` (default) | ``preview:N`` | ``full``
``trace_redact_headers``  header names to redact: ``""`` = defaults, ``a,b`` = exactly these,
                          ``+a,b`` = defaults plus these, ``-`` = none
``trace_redact_params``   query parameters to redact, same syntax
``trace_stream``          mitmproxy filter expression: also stream (and record chunk by chunk)
                          the responses it matches, besides SSE and chunked bodies without length
``trace_keep_messages``   WebSocket messages mitmproxy keeps per flow after recording (default 8,
                          ``-1`` = all, mitmproxy's unbounded default)
``trace_flush_ms``        flush interval in milliseconds (default 100, 1..1000)

Other addons record through ``ctx.master.addons.get("ws_trace").emit(event)``.
"""

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from mitmproxy import ctx, exceptions, flowfilter, http
from tearline.addons import conn_watch, option_guard
from tearline.addons.conn_trace import ConnRecording, mono_at
from tearline.addons.held_records import HeldRecords
from tearline.addons.http_trace import HttpRecording, StreamState
from tearline.addons.loopback_guard import LoopbackGuard
from tearline.addons.relay import Relay
from tearline.addons.ws_close import ws_inputs

from tearline.capture import CaptureWriter, make_header
from tearline.errors import UsageError
from tearline.events import (
    Event,
    WsClose,
    WsMessage,
    WsStart,
)
from tearline.lifecycle import WsLifecycle
from tearline.proxy_cost import CostBook
from tearline.trace_options import (
    DEFAULT_DIR,
    OPTION_ALLOWED,
    OPTION_KINDS,
    OPTION_NAMES,
    TraceConfig,
    check_trace_file,
    parse_trace_options,
)

__all__ = ["PROXY_COST_HEADER", "WsTrace"]

PROXY_COST_HEADER = {"in": ["conn_close", "capture_end"], "unit": "ms", "quantile_error": 0.05}
"""The header's ``proxy_cost``: this recorder measures its own delay (docs/capture-format.md)."""

logger = logging.getLogger(__name__)


class WsTrace(ConnRecording, HttpRecording):
    """mitmproxy addon "ws_trace": records a tearline capture."""

    name = "ws_trace"

    def __init__(self) -> None:
        self.config: TraceConfig | None = None
        self.writer: CaptureWriter | None = None
        self._streams: dict[str, StreamState] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._filter: Callable[[Any], bool] | None = None
        self._held = HeldRecords(self._write)
        self._running = False
        self._failed = False
        self._default_file = ""  # captures/<start time>.jsonl, chosen once
        self._early: list[Event] = []  # events before the capture exists (before ``running``)
        self.cost = CostBook()  # the proxy's own delay per message, per client connection

    # --- lifecycle ---------------------------------------------------------------------
    def load(self, loader: Any) -> None:
        # before declaring: a value mitmproxy cannot convert would drop this script silently
        self._failed = bool(option_guard.take_bad_values(loader, OPTION_KINDS, OPTION_ALLOWED))
        option_guard.watch_registration(
            "the recorder (ws_trace)", lambda: self.config is not None, lambda: self._failed
        )
        loader.add_option(
            "trace_file",
            str,
            "",
            "Capture file path (.jsonl, or .jsonl.zst/.jsonl.gz compressed); default captures/<UTC timestamp>.jsonl.",
        )
        loader.add_option(
            "trace_payload", str, "none", "Message content to keep: none | preview:N (first N bytes) | full."
        )
        loader.add_option(
            "trace_redact_headers",
            str,
            "",
            "Headers whose values are redacted: '' = defaults (authorization, cookie, set-cookie, ...), "
            "'a,b' = exactly these, '+a,b' = defaults plus these, '-' = none.",
        )
        loader.add_option(
            "trace_redact_params",
            str,
            "",
            "Query parameters whose values are redacted: '' = defaults (token, key, ...), 'a,b', '+a,b' or '-'.",
        )
        loader.add_option(
            "trace_stream",
            str,
            "",
            "mitmproxy filter expression (e.g. '~u /api/stream'): also stream and record chunk by chunk "
            "the responses it matches (SSE and chunked bodies without length always are).",
        )
        loader.add_option(
            "trace_keep_messages",
            int,
            8,
            "WebSocket messages mitmproxy keeps per flow after recording (-1 = all; bounds proxy memory).",
        )
        loader.add_option("trace_flush_ms", int, 100, "Flush the capture at least this often (ms, 1..1000).")
        conn_watch.install()

    def configure(self, updated: set[str]) -> None:
        if not updated & set(OPTION_NAMES):
            return
        try:
            cfg = parse_trace_options(
                {n: getattr(ctx.options, n) for n in OPTION_NAMES}, check_filter=flowfilter.parse
            )
            check_trace_file(cfg.trace_file, default=not ctx.options.trace_file)
        except UsageError as e:
            if not self._running:
                # at start-up: one line, no traceback; mitmdump exits ("Error logged during startup")
                self._failed = True
                logger.error(f"tearline: {e}")
                return
            # at run time (`set`, mitmweb's options editor): refused, the previous value stays
            raise exceptions.OptionsError(str(e)) from None  # type: ignore[no-untyped-call]
        if not ctx.options.trace_file:
            # the default name holds the start time: keep it when other options change
            self._default_file = self._default_file or cfg.trace_file
            cfg = dataclasses.replace(cfg, trace_file=self._default_file)
        old = self.config
        if self._running and (self.writer is None or old is None or old.trace_file != cfg.trace_file):
            self._open(cfg)  # may refuse (OptionsError): then nothing here has changed
        elif self.writer is not None:
            self.writer.flush_interval = cfg.flush_s
        self._filter = flowfilter.parse(cfg.stream_filter) if cfg.stream_filter else None
        self.config = cfg  # before ``running`` the capture is not created yet (``running`` opens it)

    def _open(self, cfg: TraceConfig) -> None:
        """Create the capture for ``cfg``; the previous one is closed only once this one exists."""
        header_opts = {
            "trace_payload": cfg.payload.text,
            "trace_redact_headers": list(cfg.redactor.headers),
            "trace_redact_params": list(cfg.redactor.params),
            "trace_stream": cfg.stream_filter,
            "trace_keep_messages": cfg.keep_messages,
            "trace_flush_ms": int(cfg.flush_s * 1000),
        }
        # mitmproxy's own timers, so the diagnosis can tell an end at exactly one of them.
        for name in ("tcp_timeout", "websocket", "stream_large_bodies", "connection_strategy"):
            value = getattr(ctx.options, name, None)
            if value is not None:
                header_opts[name] = value
        try:
            mode = list(ctx.options.mode)
        except AttributeError:
            mode = []
        try:
            import mitmproxy.version

            mitm_version = mitmproxy.version.VERSION
        except ImportError:  # pragma: no cover
            mitm_version = None
        if cfg.trace_file.startswith(DEFAULT_DIR + "/"):
            with contextlib.suppress(FileExistsError):
                os.mkdir(DEFAULT_DIR, 0o700)  # the default folder only, one level, owner only
        try:
            writer = CaptureWriter(
                cfg.trace_file,
                make_header(
                    mode=mode,
                    options=header_opts,
                    recorder="ws_trace",
                    mitmproxy=mitm_version,
                    proxy_cost=PROXY_COST_HEADER,
                ),
                flush_interval=cfg.flush_s,
            )
        except OSError as e:
            raise exceptions.OptionsError(  # type: ignore[no-untyped-call]
                f"trace_file={cfg.trace_file!r}: cannot write it ({e.strerror}); pass a writable path"
            ) from None
        if self.writer is not None:
            self.writer.close(proxy_cost=self.cost.total())
            self.cost = CostBook()
        self.writer = writer

    def running(self) -> None:
        if option_guard.unknown_prefixed():
            self._failed = True
        if self._failed or self.config is None:
            return  # mitmdump is exiting: the error is logged
        if not self._running:
            self._running = True
            try:
                self._open(self.config)
            except exceptions.OptionsError as e:
                option_guard.fail(str(e))
                return
            early, self._early = self._early, []
            for event in early:
                self._write(event)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_s if self.config else 0.1)
            if self.writer is not None:
                self.writer.flush()

    def done(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        self._held.release_all()
        if self.writer is not None:
            self.writer.close(proxy_cost=self.cost.total())

    # --- the public API -------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        """Write one event to the capture (used by ws_trace itself and by other addons).

        An event for a stream whose WebSocket message is still in its hook chain is written
        right after that message's record (``addons/held_records.py``).
        """
        if not self._held.offer(event):
            self._write(event)

    def _write(self, event: Event) -> None:
        if self.writer is not None:
            self.writer.write(event)
        elif not self._running and not self._failed and len(self._early) < 10000:
            self._early.append(event)  # a client as the proxy starts: written once the file exists

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    # --- WebSocket ---------------------------------------------------------------------------
    def websocket_start(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        ts = time.time()
        exts: tuple[str, ...] = ()
        proto = None
        if resp is not None:
            exts = tuple(
                e.strip()
                for v in resp.headers.get_all("sec-websocket-extensions")
                for e in v.split(",")
                if e.strip()
            )
            proto = resp.headers.get("sec-websocket-protocol")
        self._streams[flow.id] = StreamState(kind="ws", conn=flow.client_conn.id)
        self.emit(
            WsStart(
                ts=ts,
                mono=time.monotonic(),
                conn=flow.client_conn.id,
                stream=flow.id,
                subprotocol=proto,
                extensions=exts,
            )
        )

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        t0 = time.perf_counter()
        ws = flow.websocket
        if ws is None or not ws.messages:
            return
        st = self._streams.get(flow.id)
        if st is None:
            st = self._streams[flow.id] = StreamState(kind="ws", conn=flow.client_conn.id)
        msg = ws.messages[-1]
        direction = "client" if msg.from_client else "server"
        idx = st.ws_index[direction]
        st.ws_index[direction] = idx + 1
        ts = msg.timestamp
        mono = mono_at(ts)

        def record() -> WsMessage:
            # built once the hook chain has run: an addon after this one may drop the message
            return WsMessage(
                ts=ts,
                mono=mono,
                conn=st.conn,
                stream=flow.id,
                direction=direction,  # type: ignore[arg-type]
                opcode="text" if msg.is_text else "binary",
                size=len(msg.content),
                injected=msg.injected,
                dropped=msg.dropped,
                index=idx,
                **self.payload.fields(msg.content),
            )

        keep = self.config.keep_messages if self.config else 8
        if keep >= 0 and len(ws.messages) > max(keep, 1):
            # bounded memory: mitmproxy would keep every message for the flow's life
            del ws.messages[: len(ws.messages) - max(keep, 1)]
        # the proxy's own delay: from the read that brought it (or mitmproxy's time, if earlier)
        # to the write that forwarded it, taken once the hook chain (and the forwarding) ran
        server = flow.server_conn.id if flow.server_conn else None
        src, dst = (flow.client_conn.id, server) if msg.from_client else (server, flow.client_conn.id)
        io = conn_watch.io_times(src)
        arrival = min(ts, io[0]) if io is not None and io[0] > 0.0 else ts
        own = time.perf_counter() - t0

        def measured(cost: float) -> None:
            delay = None
            if not msg.dropped and not msg.injected:
                now = time.time()
                out = conn_watch.io_times(dst)
                sent = out[1] if out is not None and arrival <= out[1] <= now else now
                delay = sent - arrival
            self.cost.note(st.conn, delay, own + cost)

        self._held.hold(flow.id, record, measured)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        ws = flow.websocket
        self._held.release(flow.id)  # the last message's chain has run
        st = self._streams.pop(flow.id, None)
        ts = (ws.timestamp_end if ws else None) or time.time()
        lc = WsLifecycle()
        for inp in ws_inputs(flow):
            lc.feed(inp)
        self.emit(
            WsClose(
                ts=ts,
                mono=mono_at(ts),
                conn=st.conn if st else flow.client_conn.id,
                stream=flow.id,
                **lc.fields(),
            )
        )
        self.flush()


# The guard first: a refused client is closed before anything is recorded about it.
addons = [LoopbackGuard(), WsTrace(), Relay()]
