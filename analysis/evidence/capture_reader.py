"""``read_capture``'s sink for ``load_capture``: every event to its handler (``capture.HANDLERS``), in file
order, and the fast path of a long capture: a version-2 WebSocket message line of a stream already named
becomes its observation straight from the parsed line, as ``capture._ws_message`` would make it, without an
event object; with ``fold``, a plain one (text, no payload kept, not tampered with) becomes an entry in its
stream's ``MessageRun`` (``runs.py``) instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tearline.analysis.evidence.observation import Observation
from tearline.analysis.evidence.runs import MessageRun

from tearline import events as ev
from tearline.capture_compact import CompactDecoder

if TYPE_CHECKING:
    from tearline.analysis.evidence.capture import _State

__all__ = ["CaptureReader"]

Handler = Callable[["_State", Any, str], None]

# The keys a WebSocket message line may have for ``CaptureReader.line`` to take it without decoding;
# ``_PLAIN_WS_KEYS``: those of a text message with no payload kept and not tampered with.
_PLAIN_WS_KEYS = frozenset({"type", "ts", "mono", "stream", "direction", "size", "index"})
_WS_KEYS = _PLAIN_WS_KEYS | {
    "opcode",
    "injected",
    "dropped",
    "payload",
    "payload_encoding",
    "payload_truncated",
}
_WS_KINDS = {"client": "ws_frame_sent", "server": "ws_frame_received"}


class CaptureReader:
    """``read_capture``'s sink: each event to its handler, in file order. A version-2 WebSocket
    message line of a stream already named (the bulk of a long capture) becomes its observation
    straight from the line object, as ``_ws_message`` would make it, without an event object."""

    def __init__(self, state: _State, handlers: Mapping[type[ev.Event], Handler], fold: bool = False) -> None:
        self.state = state
        self.handlers = handlers  # ``capture.HANDLERS``
        self.fold = fold  # plain messages into runs (``runs.py``) instead of observations
        self.count = 0  # events so far; an event's ``where`` is "line <count + 1>" as ever
        # short stream id -> (stream id, its connection, url, leg) as of now; any other event may
        # change the url or leg, so it empties this (and the open runs)
        self.streams: dict[int, tuple[str, str | None, str | None, str | None]] = {}
        # (short stream id, direction) -> the appends of its run's columns (``MessageRun.appenders``)
        self.open_runs: dict[tuple[int, str], tuple[Callable[[Any], None], ...]] = {}
        self.last_runs: dict[tuple[str, str], MessageRun] = {}  # (stream id, direction) -> its last run

    def event(self, event: ev.Event) -> None:
        self.count += 1
        self.streams.clear()
        self.open_runs.clear()
        handler = self.handlers.get(type(event))
        if handler is not None:
            handler(self.state, event, f"line {self.count + 1}")

    def line(self, obj: dict[str, Any], decoder: CompactDecoder) -> bool:
        get = obj.get
        if get("type") != "ws_message":
            return False
        number, ts, mono, size = get("stream"), get("ts"), get("mono"), get("size")
        if (
            type(number) is not int
            or type(ts) is not float
            or type(mono) is not float
            or type(size) is not int
        ):
            return False
        direction = get("direction")
        kind = _WS_KINDS.get(direction)  # type: ignore[arg-type]
        if kind is None:
            return False
        if _PLAIN_WS_KEYS.issuperset(obj):
            opcode, tampered, payload = "text", None, None
        else:
            opcode = get("opcode", "text")
            injected, dropped = get("injected", False), get("dropped", False)
            payload, encoding = get("payload"), get("payload_encoding")
            if (
                opcode not in ("text", "binary")
                or type(injected) is not bool
                or type(dropped) is not bool
                or encoding not in (None, "utf-8", "base64")
                or (payload is None) != (encoding is None)
                or not _WS_KEYS.issuperset(obj)  # "conn" among others: decoded the usual way
            ):
                return False  # the event classes judge it (and name what is wrong)
            tampered = "injected" if injected else "dropped" if dropped else None
            if encoding != "utf-8":
                payload = None
        known = self.streams.get(number)
        s = self.state
        if known is None:
            stream, conn = decoder.stream_home(number)
            known = self.streams[number] = (stream, conn, s.urls.get(stream), s.legs.get(conn or ""))
        stream, conn, url, leg = known
        if conn is not None:
            s.conn_stream[conn] = stream
        self.count += 1
        if self.fold and tampered is None and payload is None and opcode == "text":
            add = self.open_runs.get((number, direction))  # type: ignore[arg-type]
            if add is None:
                add = self._run(number, direction, kind, known)  # type: ignore[arg-type]
            add[0](decoder.started + ts)  # the run's columns, appended to in place (a call less each)
            add[1](decoder.mono_started + mono)
            add[2](size)
            add[3](self.count + 1)
            return True
        s.rec.observations.append(
            Observation(
                source="capture",
                kind=kind,
                t=decoder.started + ts,
                raw_t=decoder.mono_started + mono,
                where=f"line {self.count + 1}",
                stream_key=stream,
                url=url,
                leg=leg,
                size=size,
                direction=direction,
                text=opcode,
                tampered=tampered,
                payload=payload,
            )
        )
        return True

    def _run(
        self, number: int, direction: str, kind: str, known: tuple[str, str | None, str | None, str | None]
    ) -> tuple[Callable[[Any], None], ...]:
        """The run this stream's next plain message in ``direction`` joins (its column appends): its
        last one while the stream's URL and leg stay the same, else a new one."""
        stream, _, url, leg = known
        run = self.last_runs.get((stream, direction))
        if run is None or run.url != url or run.leg != leg:
            run = self.last_runs[(stream, direction)] = MessageRun(stream, kind, direction, url, leg)
            self.state.rec.runs.append(run)
        add = self.open_runs[(number, direction)] = run.appenders()
        return add
