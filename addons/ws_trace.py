"""The recorder: ``mitmdump -s addons/ws_trace.py`` writes a tearline capture.

Records both legs (browser<->proxy = ``client``, proxy<->upstream = ``server``):
connections opened and how they ended (``addons/conn_watch.py``), HTTP flows,
streamed bodies chunk by chunk (SSE parsed into events), WebSocket messages and
how each socket closed, HTTP/2 resets and GOAWAY as far as mitmproxy exposes
them. It changes nothing that passes through. See docs/capture-format.md.

Options (``--set name=value``; checked in ``configure``, a bad value stops mitmdump):

``trace_file``            capture path (default ``captures/<UTC timestamp>.jsonl``)
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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mitmproxy import ctx, exceptions, flowfilter, http

from addons import conn_watch
from addons.ws_close import ws_inputs
from tearline.capture import CaptureWriter, make_header
from tearline.errors import UsageError
from tearline.events import (
    BodyChunk,
    BodyEnd,
    ConnClose,
    ConnOpen,
    ConnTls,
    Event,
    FlowError,
    H2GoAway,
    H2Reset,
    HttpRequest,
    HttpResponse,
    SseEvent,
    WsClose,
    WsMessage,
    WsStart,
)
from tearline.flow_errors import errno_of, h2_goaway, h2_reset
from tearline.lifecycle import WsLifecycle
from tearline.payload import PayloadPolicy
from tearline.redact import Redactor
from tearline.sse import SseParsed, SseParser
from tearline.trace_options import OPTION_NAMES, TraceConfig, parse_trace_options, stream_kind

__all__ = ["WsTrace"]


def _addr(a: Any) -> str | None:
    if not a:
        return None
    try:
        host, port = a[0], a[1]
    except (TypeError, IndexError):
        return str(a)
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _alpn(conn: Any) -> str | None:
    a = getattr(conn, "alpn", None)
    return a.decode("ascii", "replace") if isinstance(a, bytes) else a


def _mono_at(ts: float) -> float:
    """The monotonic time that corresponds to wall-clock ``ts``."""
    return time.monotonic() - (time.time() - ts)


@dataclass
class _Stream:
    """Per-flow recording state (kept on the addon, never in flow.metadata)."""

    kind: str = "http"
    conn: str | None = None
    chunks: int = 0
    bytes: int = 0
    ended: bool = False
    sse: SseParser | None = None
    ws_index: dict[str, int] = field(default_factory=lambda: {"client": 0, "server": 0})
    end_how: str = "terminated"


class WsTrace:
    """mitmproxy addon "ws_trace": records a tearline capture."""

    name = "ws_trace"

    def __init__(self) -> None:
        self.config: TraceConfig | None = None
        self.writer: CaptureWriter | None = None
        self._streams: dict[str, _Stream] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._filter: Callable[[Any], bool] | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def load(self, loader: Any) -> None:
        loader.add_option("trace_file", str, "", "Capture file path; default captures/<UTC timestamp>.jsonl.")
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
        except UsageError as e:
            raise exceptions.OptionsError(str(e)) from None  # type: ignore[no-untyped-call]
        self._filter = flowfilter.parse(cfg.stream_filter) if cfg.stream_filter else None
        old = self.config
        self.config = cfg
        if self.writer is None or old is None or old.trace_file != cfg.trace_file:
            self._open(cfg)
        elif self.writer is not None:
            self.writer.flush_interval = cfg.flush_s

    def _open(self, cfg: TraceConfig) -> None:
        if self.writer is not None:
            self.writer.close()
        header_opts = {
            "trace_payload": cfg.payload.text,
            "trace_redact_headers": list(cfg.redactor.headers),
            "trace_redact_params": list(cfg.redactor.params),
            "trace_stream": cfg.stream_filter,
            "trace_keep_messages": cfg.keep_messages,
            "trace_flush_ms": int(cfg.flush_s * 1000),
        }
        try:
            mode = list(ctx.options.mode)
        except AttributeError:
            mode = []
        try:
            import mitmproxy.version

            mitm_version = mitmproxy.version.VERSION
        except ImportError:  # pragma: no cover
            mitm_version = None
        try:
            self.writer = CaptureWriter(
                cfg.trace_file,
                make_header(mode=mode, options=header_opts, recorder="ws_trace", mitmproxy=mitm_version),
                flush_interval=cfg.flush_s,
            )
        except OSError as e:
            raise exceptions.OptionsError(  # type: ignore[no-untyped-call]
                f"trace_file={cfg.trace_file!r}: cannot write it ({e.strerror}); pass a writable path"
            ) from None

    def running(self) -> None:
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
        if self.writer is not None:
            self.writer.close()

    # --- the public API -------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        """Write one event to the capture (used by ws_trace itself and by other addons)."""
        if self.writer is not None:
            self.writer.write(event)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    @property
    def payload(self) -> PayloadPolicy:
        return self.config.payload if self.config else PayloadPolicy()

    # --- connections ----------------------------------------------------------------------
    def client_connected(self, client: Any) -> None:
        ts = client.timestamp_start or time.time()
        self.emit(
            ConnOpen(
                ts=ts,
                mono=_mono_at(ts),
                conn=client.id,
                leg="client",
                peer=_addr(client.peername),
                local=_addr(client.sockname),
            )
        )

    def server_connected(self, data: Any) -> None:
        server = data.server
        ts = server.timestamp_tcp_setup or time.time()
        self.emit(
            ConnOpen(
                ts=ts,
                mono=_mono_at(ts),
                conn=server.id,
                leg="server",
                peer=_addr(server.peername),
                local=_addr(server.sockname),
                client_conn=data.client.id,
            )
        )

    def _tls(self, conn: Any, leg: str) -> None:
        ts = conn.timestamp_tls_setup or time.time()
        self.emit(
            ConnTls(
                ts=ts,
                mono=_mono_at(ts),
                conn=conn.id,
                leg=leg,  # type: ignore[arg-type]
                tls_version=conn.tls_version,
                alpn=_alpn(conn),
                sni=conn.sni,
                cipher=getattr(conn, "cipher", None),
            )
        )

    def tls_established_client(self, data: Any) -> None:
        self._tls(data.conn, "client")

    def tls_established_server(self, data: Any) -> None:
        self._tls(data.conn, "server")

    def _conn_close(self, conn: Any, leg: str, error: str | None = None) -> None:
        reason = conn_watch.end_reason(conn)
        ts = conn.timestamp_end or time.time()
        kw: dict[str, Any] = {}
        if reason is not None:
            kw = {
                "by": reason.by,
                "how": reason.how,
                "errno": reason.errno,
                "error": reason.error,
                "bytes_received": reason.bytes_received,
                "bytes_sent": reason.bytes_sent,
            }
            if reason.t is not None:
                ts = reason.t
        elif error:
            kw = {"by": "peer", "how": "error", "error": error, "errno": errno_of(error)}
        self.emit(ConnClose(ts=ts, mono=_mono_at(ts), conn=conn.id, leg=leg, **kw))  # type: ignore[arg-type]
        self.flush()

    def client_disconnected(self, client: Any) -> None:
        self._conn_close(client, "client")

    def server_disconnected(self, data: Any) -> None:
        self._conn_close(data.server, "server")

    def server_connect_error(self, data: Any) -> None:
        self._conn_close(data.server, "server", error=data.server.error or "connect failed")

    # --- HTTP -------------------------------------------------------------------------------
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        ts = req.timestamp_start or time.time()
        red = self.config.redactor if self.config else Redactor()
        self.emit(
            HttpRequest(
                ts=ts,
                mono=_mono_at(ts),
                conn=flow.client_conn.id,
                stream=flow.id,
                method=req.method,
                url=red.url(req.pretty_url),
                http_version=req.http_version,
                headers=red.headers_of(req.headers.items(multi=True)),  # type: ignore[no-untyped-call]
                server_conn=flow.server_conn.id if flow.server_conn else None,
            )
        )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        assert resp is not None
        ts = resp.timestamp_start or time.time()
        items = list(resp.headers.items(multi=True))  # type: ignore[no-untyped-call]
        forced = bool(self._filter and self._filter(flow))
        kind, stream = stream_kind(items, forced)
        if resp.status_code == 101:
            kind, stream = "ws", False
        red = self.config.redactor if self.config else Redactor()
        length = resp.headers.get("content-length")
        st = _Stream(kind=kind, conn=flow.client_conn.id)
        if "chunked" in resp.headers.get("transfer-encoding", "").lower() or resp.http_version.startswith(
            "HTTP/2"
        ):
            st.end_how = "terminated"
        elif length is not None:
            st.end_how = "length"
        else:
            st.end_how = "eof"
        self._streams[flow.id] = st
        self.emit(
            HttpResponse(
                ts=ts,
                mono=_mono_at(ts),
                conn=flow.client_conn.id,
                stream=flow.id,
                status=resp.status_code,
                reason=resp.reason,
                http_version=resp.http_version,
                headers=red.headers_of(items),
                kind=kind,  # type: ignore[arg-type]
                streamed=stream,
                content_length=int(length) if length and length.isdigit() else None,
                server_conn=flow.server_conn.id if flow.server_conn else None,
            )
        )
        if stream:
            if kind == "sse":
                st.sse = SseParser()
            inner = resp.stream if callable(resp.stream) else None
            resp.stream = self._stream_cb(flow, st, inner)

    def _stream_cb(
        self, flow: http.HTTPFlow, st: _Stream, inner: Callable[[bytes], Any] | None
    ) -> Callable[[bytes], Any]:
        def cb(chunk: bytes) -> Any:
            out: Any = chunk
            if inner is not None:
                out = inner(chunk)
            pieces = [out] if isinstance(out, bytes) else list(out)
            if not chunk:  # the end-of-message call
                self._body_end(flow, st, complete=True, how=st.end_how)
                return out if isinstance(out, bytes) else pieces
            for piece in pieces:
                self._chunk(flow, st, piece)
            return out if isinstance(out, bytes) else pieces

        return cb

    def _chunk(self, flow: http.HTTPFlow, st: _Stream, piece: bytes) -> None:
        if not piece:
            return
        ts, mono = time.time(), time.monotonic()
        self.emit(
            BodyChunk(
                ts=ts,
                mono=mono,
                conn=st.conn,
                stream=flow.id,
                size=len(piece),
                offset=st.bytes,
                **self.payload.fields(piece),
            )
        )
        st.chunks += 1
        st.bytes += len(piece)
        if st.sse is not None:
            for ev in st.sse.feed(piece):
                self._sse(flow, st, ev, ts, mono)

    def _sse(self, flow: http.HTTPFlow, st: _Stream, ev: SseParsed, ts: float, mono: float) -> None:
        self.emit(
            SseEvent(
                ts=ts,
                mono=mono,
                conn=st.conn,
                stream=flow.id,
                event=ev.event,
                id=ev.id,
                retry=ev.retry,
                data_len=ev.data_len,
                partial=ev.partial,
                index=ev.index,
                **self.payload.fields(ev.data),
            )
        )

    def _body_end(
        self, flow: http.HTTPFlow, st: _Stream, *, complete: bool, how: str, error: str | None = None
    ) -> None:
        if st.ended:
            return
        st.ended = True
        ts, mono = time.time(), time.monotonic()
        if st.sse is not None:
            left = st.sse.finish()
            if left is not None:
                self._sse(flow, st, left, ts, mono)
        self.emit(
            BodyEnd(
                ts=ts,
                mono=mono,
                conn=st.conn,
                stream=flow.id,
                complete=complete,
                how=how,
                total_bytes=st.bytes,
                chunks=st.chunks,
                error=error,
            )
        )
        self.flush()

    def response(self, flow: http.HTTPFlow) -> None:
        st = self._streams.get(flow.id)
        if st is None or st.kind == "ws":
            return
        if not st.ended:
            # an ordinary (buffered) body: complete when this hook runs
            raw = flow.response.raw_content if flow.response else None
            st.bytes = len(raw) if raw else 0
            st.chunks = 1 if raw else 0
            ts = (flow.response.timestamp_end if flow.response else None) or time.time()
            st.ended = True
            self.emit(
                BodyEnd(
                    ts=ts,
                    mono=_mono_at(ts),
                    conn=st.conn,
                    stream=flow.id,
                    complete=True,
                    how=st.end_how,
                    total_bytes=st.bytes,
                    chunks=st.chunks,
                )
            )
        self._streams.pop(flow.id, None)

    def error(self, flow: http.HTTPFlow) -> None:
        msg = flow.error.msg if flow.error else "unknown error"
        ts = (flow.error.timestamp if flow.error else None) or time.time()
        conn = flow.client_conn.id
        self.emit(FlowError(ts=ts, mono=_mono_at(ts), conn=conn, stream=flow.id, message=msg))
        by: Literal["client", "server"] = "client" if _alpn(flow.client_conn) == "h2" else "server"
        if (code := h2_reset(msg)) is not None:
            self.emit(H2Reset(ts=ts, mono=_mono_at(ts), conn=conn, stream=flow.id, error_code=code, by=by))
        if (goaway := h2_goaway(msg)) is not None:
            self.emit(
                H2GoAway(
                    ts=ts,
                    mono=_mono_at(ts),
                    conn=conn,
                    stream=flow.id,
                    error_code=goaway[0],
                    by=by,
                    last_stream_id=goaway[1],
                )
            )
        st = self._streams.pop(flow.id, None)
        if st is not None and st.kind != "ws":
            self._body_end(flow, st, complete=False, how="cut", error=msg)
        self.flush()

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
        self._streams[flow.id] = _Stream(kind="ws", conn=flow.client_conn.id)
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
        ws = flow.websocket
        if ws is None or not ws.messages:
            return
        st = self._streams.get(flow.id)
        if st is None:
            st = self._streams[flow.id] = _Stream(kind="ws", conn=flow.client_conn.id)
        msg = ws.messages[-1]
        direction = "client" if msg.from_client else "server"
        idx = st.ws_index[direction]
        st.ws_index[direction] = idx + 1
        ts = msg.timestamp
        self.emit(
            WsMessage(
                ts=ts,
                mono=_mono_at(ts),
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
        )
        keep = self.config.keep_messages if self.config else 8
        if keep >= 0 and len(ws.messages) > max(keep, 1):
            # bounded memory: mitmproxy would keep every message for the flow's life
            del ws.messages[: len(ws.messages) - max(keep, 1)]

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        ws = flow.websocket
        st = self._streams.pop(flow.id, None)
        ts = (ws.timestamp_end if ws else None) or time.time()
        lc = WsLifecycle()
        for inp in ws_inputs(flow):
            lc.feed(inp)
        self.emit(
            WsClose(
                ts=ts,
                mono=_mono_at(ts),
                conn=st.conn if st else flow.client_conn.id,
                stream=flow.id,
                **lc.fields(),
            )
        )
        self.flush()


try:
    from addons.relay import Relay
except ImportError:  # engineer 2's relay not there yet
    addons: list[Any] = [WsTrace()]
else:
    addons = [WsTrace(), Relay()]
