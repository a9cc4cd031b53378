"""Recording HTTP flows and streamed bodies (part of ``WsTrace``).

``HttpRecording`` is a mixin for ``addons.ws_trace.WsTrace``. Requests and responses
become ``http_request`` / ``http_response``; streaming responses (``text/event-stream``,
chunked without length, or matched by ``trace_stream``) get ``flow.response.stream`` set
to a callable in ``responseheaders``, so they are relayed live, never buffered, and
recorded chunk by chunk with the proxy's own time (``body_chunk``), SSE parsed into
``sse_event``. Every body ends in a ``body_end``; a cut one also leaves ``flow_error``,
the partial SSE event, and HTTP/2 resets or GOAWAY parsed from mitmproxy's error text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mitmproxy import http
from tearline.addons import conn_watch, stream_ends
from tearline.addons.conn_trace import alpn, mono_at

from tearline.events import (
    BodyChunk,
    BodyEnd,
    Event,
    FlowError,
    H2GoAway,
    H2Reset,
    HttpRequest,
    HttpResponse,
    SseEvent,
)
from tearline.flow_errors import h2_goaway, h2_reset
from tearline.payload import PayloadPolicy
from tearline.proxy_cost import CostBook
from tearline.redact import Redactor
from tearline.sse import SseParsed, SseParser
from tearline.sse_types import sse_data_type
from tearline.trace_options import TraceConfig, stream_kind

__all__ = ["HttpRecording", "StreamState"]


@dataclass
class StreamState:
    """Per-flow recording state (kept on the addon, never in flow.metadata)."""

    kind: str = "http"
    conn: str | None = None
    chunks: int = 0
    bytes: int = 0
    ended: bool = False
    sse: SseParser | None = None
    ws_index: dict[str, int] = field(default_factory=lambda: {"client": 0, "server": 0})
    end_how: str = "terminated"


class HttpRecording:
    """HTTP hooks. Needs ``emit``, ``flush``, ``config``, ``payload``, ``_streams`` and
    ``_filter`` from the addon."""

    config: TraceConfig | None
    cost: CostBook
    _streams: dict[str, StreamState]
    _filter: Callable[[Any], bool] | None

    def emit(self, event: Event) -> None:  # pragma: no cover - provided by WsTrace
        raise NotImplementedError

    def flush(self) -> None:  # pragma: no cover - provided by WsTrace
        raise NotImplementedError

    @property
    def payload(self) -> PayloadPolicy:
        return self.config.payload if self.config else PayloadPolicy()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        ts = req.timestamp_start or time.time()
        red = self.config.redactor if self.config else Redactor()
        self.emit(
            HttpRequest(
                ts=ts,
                mono=mono_at(ts),
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
        st = StreamState(kind=kind, conn=flow.client_conn.id)
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
                mono=mono_at(ts),
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
        self, flow: http.HTTPFlow, st: StreamState, inner: Callable[[bytes], Any] | None
    ) -> Callable[[bytes], Any]:
        def cb(chunk: bytes) -> Any:
            t0 = time.perf_counter()
            out: Any = chunk
            if inner is not None:
                out = inner(chunk)
            pieces = [out] if isinstance(out, bytes) else list(out)
            if not chunk:  # the end-of-message call
                self._body_end(flow, st, complete=True, how=st.end_how)
                return out if isinstance(out, bytes) else pieces
            for piece in pieces:
                self._chunk(flow, st, piece)
            # the proxy's own delay: from the upstream read that brought the chunk to now, when
            # mitmproxy sends what this returns (in the same call; nothing sent: no delay)
            hook = time.perf_counter() - t0
            now = time.time()
            io = conn_watch.io_times(flow.server_conn.id if flow.server_conn else None)
            arrival = io[0] if io is not None and 0.0 < io[0] <= now else now - hook
            self.cost.note(st.conn, now - arrival if any(pieces) else None, hook)
            return out if isinstance(out, bytes) else pieces

        return cb

    def _chunk(self, flow: http.HTTPFlow, st: StreamState, piece: bytes) -> None:
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

    def _sse(self, flow: http.HTTPFlow, st: StreamState, ev: SseParsed, ts: float, mono: float) -> None:
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
                data_type=sse_data_type(ev.data),
                **self.payload.fields(ev.data),
            )
        )

    def _body_end(
        self, flow: http.HTTPFlow, st: StreamState, *, complete: bool, how: str, error: str | None = None
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
                    mono=mono_at(ts),
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
        self.emit(FlowError(ts=ts, mono=mono_at(ts), conn=conn, stream=flow.id, message=msg))
        by: Literal["client", "server"] = "client" if alpn(flow.client_conn) == "h2" else "server"
        from_frames = flow.metadata.get(stream_ends.FRAME_KEY)  # recorded from the frames already
        if not from_frames and (code := h2_reset(msg)) is not None:
            self.emit(H2Reset(ts=ts, mono=mono_at(ts), conn=conn, stream=flow.id, error_code=code, by=by))
        if not from_frames and (goaway := h2_goaway(msg)) is not None:
            self.emit(
                H2GoAway(
                    ts=ts,
                    mono=mono_at(ts),
                    conn=conn,
                    stream=flow.id,
                    error_code=goaway[0],
                    by=by,
                    last_stream_id=goaway[1],
                )
            )
        st = self._streams.pop(flow.id, None)
        partial = flow.metadata.get(stream_ends.PARTIAL_BODY_KEY)
        if (
            st is not None and partial is not None
        ):  # a buffered body cut upstream: these bytes reached the client
            st.bytes, st.chunks = partial, 1 if partial else 0
        if st is not None and st.kind != "ws":
            self._body_end(flow, st, complete=False, how="cut", error=msg)
        self.flush()
