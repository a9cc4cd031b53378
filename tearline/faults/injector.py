"""The per-stream decision engine: traffic in, effects out (pure; the caller supplies the clock).

The edge creates one ``Injector`` from the parsed scenario, calls
``open_stream`` for each request, then feeds the stream's life through the
returned ``StreamFaults``: ``on_request``, ``on_headers``, ``start`` (the
stream opened), ``on_message`` (a WebSocket message), ``on_chunk`` (a body
chunk), ``on_timer`` when ``next_deadline()`` passes, and ``fire`` for the
``faults.fire`` command. Each returns what to do and ``Firing`` records to put
in the capture. Times are monotonic seconds.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tearline.faults.effects import Abort, Close, Delay, Drop, Effect, Respond, Throttle, Truncate
from tearline.faults.fault import FirePoint, Point
from tearline.faults.framing import SseSplitter
from tearline.faults.throttle import release_time
from tearline.faults.triggers import Trigger, TriggerState

__all__ = [
    "ArmedFault",
    "ChunkDecision",
    "FaultSpec",
    "Firing",
    "Injector",
    "MessageDecision",
    "StreamFaults",
]

TERMINAL = (Close, Abort, Truncate, Respond)


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultSpec:
    """One validated ``[[fault]]``: its id (``file#n`` or ``cli#n``), the fault and its trigger."""

    fault_id: str
    fault: Any  # an instance of a class in FAULTS
    trigger: Trigger = field(default_factory=Trigger)

    @property
    def action(self) -> str:
        return str(self.fault.name)

    def fault_params(self) -> dict[str, Any]:
        return {f.name: getattr(self.fault, f.name) for f in dataclasses.fields(self.fault)}

    def params(self) -> dict[str, Any]:
        """Fault parameters and the trigger keys set, as recorded in ``fault_armed``/``fault_fired``."""
        return {**self.fault_params(), **self.trigger.as_params()}


@dataclass(frozen=True, kw_only=True, slots=True)
class Firing:
    """A fault fired (or applied) on a stream: record it, then carry out ``effects``."""

    fault_id: str
    action: str
    stream: str
    params: dict[str, Any]
    trigger: str  # what made it fire, e.g. "after_messages=3 (server): message 3 from server"
    effects: tuple[Effect, ...]


@dataclass(kw_only=True, slots=True)
class ArmedFault:
    """A spec plus its run-time state: armed flag, seeded RNG, streams it fired on."""

    spec: FaultSpec
    seed: int
    armed: bool = True
    streams: set[str] = field(default_factory=set)
    fired: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def may_fire(self, stream: str) -> bool:
        limit = self.spec.trigger.max_streams
        return self.armed and (limit is None or stream in self.streams or len(self.streams) < limit)

    def draw(self) -> bool:
        p = self.spec.trigger.probability
        return p >= 1.0 or self.rng.random() < p

    def params(self) -> dict[str, Any]:
        return {**self.spec.params(), "seed": self.seed}


@dataclass(kw_only=True, slots=True)
class MessageDecision:
    """What to do with one WebSocket message.

    ``drop``: do not pass it on. ``due``: monotonic time it may be passed on (None = now).
    ``firings``: each-faults applied to it (for the record). ``after``: once-faults that fired
    on it: carry them out after passing it on.
    """

    drop: bool = False
    due: float | None = None
    firings: list[Firing] = field(default_factory=list)
    after: list[Firing] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class ChunkDecision:
    """What to do with one body chunk: pass ``out`` on (maybe shorter than the chunk or empty),
    then carry out ``after``; ``due`` delays it; ``resume_at``: stop reading the upstream until then."""

    out: bytes = b""
    due: float | None = None
    resume_at: float | None = None
    firings: list[Firing] = field(default_factory=list)
    after: list[Firing] = field(default_factory=list)


class Injector:
    """All armed faults of a proxy run."""

    def __init__(self, specs: Sequence[FaultSpec], *, seed_source: Callable[[], int] | None = None) -> None:
        pick = seed_source or (lambda: random.SystemRandom().randrange(2**31))
        self.faults: dict[str, ArmedFault] = {}
        for spec in specs:
            self.add(spec, seed=spec.trigger.seed if spec.trigger.seed is not None else pick())

    def add(self, spec: FaultSpec, *, seed: int) -> ArmedFault:
        af = ArmedFault(spec=spec, seed=seed)
        self.faults[spec.fault_id] = af
        return af

    def open_stream(
        self, stream: str, kind: str, now: float, matches: Callable[[FaultSpec], bool] = lambda s: True
    ) -> StreamFaults:
        """A stream (request) begins; ``matches`` evaluates each spec's ``match`` filter on it."""
        chosen = [af for af in self.faults.values() if matches(af.spec)]
        return StreamFaults(stream=stream, kind=kind, now=now, faults=chosen)


class StreamFaults:
    """The armed faults' state on one stream."""

    def __init__(self, *, stream: str, kind: str, now: float, faults: Iterable[ArmedFault]) -> None:
        self.stream = stream
        self.kind = kind
        self.faults = list(faults)
        self.states = {
            af.spec.fault_id: TriggerState(trigger=af.spec.trigger, opened=now) for af in self.faults
        }
        self.last_activity = now
        self.started = False
        self.ended = False  # a terminal effect fired: nothing more happens on this stream
        self.splitter: SseSplitter | None = None
        self.held = b""  # partial SSE event held back while a drop could still apply to it
        self._release: dict[tuple[str, str], float] = {}  # throttle: (fault, direction) -> last release
        self._half_cut: ArmedFault | None = None  # truncate mid_event waiting for the next event's bytes
        self._last_text: str | None = None
        self._last_event: str | None = None
        self.set_kind(kind)

    # --- life cycle ---------------------------------------------------------------------

    def set_kind(self, kind: str) -> None:
        """The stream kind became known (response headers: ``sse``, ``http-stream``, ``http``)."""
        self.kind = kind
        if kind == "sse" and self.splitter is None:
            self.splitter = SseSplitter()

    def start(self, now: float) -> list[Firing]:
        """The stream opened (WebSocket handshake done, or streamed response headers passed).

        Once-faults with no condition at all (no counts, timer, regex) fire here.
        """
        self.started = True
        self.last_activity = now
        for st in self.states.values():
            st.opened = now
        out = []
        for af in self._active("timer"):
            st = self.states[af.spec.fault_id]
            t = af.spec.trigger
            if af.spec.fault.mode != "once" or st.done or self.ended or af.spec.action == "idle_timeout":
                continue
            if t.after_messages is not None or t.after_bytes is not None or t.after_ms is not None:
                continue
            if st.needs_unit():
                continue
            st.done = True
            if af.draw():
                out.append(self._fire(af, FirePoint(kind=self.kind, point="timer"), "stream opened"))
        return out

    def _active(self, point: str) -> list[ArmedFault]:
        if self.ended:
            return []
        return [
            af
            for af in self.faults
            if af.spec.trigger.selects(self.kind)
            and self.kind in af.spec.fault.streams
            and point in af.spec.fault.points
            and af.may_fire(self.stream)
        ]

    def _fire(self, af: ArmedFault, at: FirePoint, why: str) -> Firing:
        af.streams.add(self.stream)
        af.fired += 1
        effects = af.spec.fault.effects(at)
        if any(isinstance(e, TERMINAL) for e in effects):
            self.ended = True
        trig = af.spec.trigger.describe()
        return Firing(
            fault_id=af.spec.fault_id,
            action=af.spec.action,
            stream=self.stream,
            params=af.params(),
            trigger=f"{trig}: {why}" if why else trig,
            effects=effects,
        )

    def _once_at_point(self, point: Point, why: str) -> list[Firing]:
        out = []
        for af in self._active(point):
            st = self.states[af.spec.fault_id]
            t = af.spec.trigger
            if af.spec.fault.mode != "once" or st.done or self.ended:
                continue
            if point == "headers" and (t.after_messages or t.after_bytes or t.after_ms or st.needs_unit()):
                continue  # a headers-time firing is only for faults with nothing to wait for
            st.done = True
            if af.draw():
                out.append(self._fire(af, FirePoint(kind=self.kind, point=point), why))
        return out

    def _each_at_point(self, point: Point) -> list[Firing]:
        out = []
        for af in self._active(point):
            if af.spec.fault.mode == "each" and af.draw():
                out.append(
                    self._fire(af, FirePoint(kind=self.kind, point=point, rand=af.rng.random()), point)
                )
        return out

    def on_request(self, now: float) -> list[Firing]:
        """Before the request goes upstream: ``respond``, ``delay`` of the handshake."""
        return self._once_at_point("request", "request") + self._each_at_point("request")

    def on_headers(self, now: float) -> list[Firing]:
        """Response headers arrived, not yet passed on: ``delay`` of headers, untriggered ``abort``/``reset``."""
        return self._each_at_point("headers") + self._once_at_point("headers", "before response headers")

    # --- data ---------------------------------------------------------------------------

    def _touch(self, now: float) -> None:
        self.last_activity = now
        for st in self.states.values():
            if st.first_data is None:
                st.first_data = now

    def _apply_each(
        self, direction: str, size: int, text: str | None, event: str | None, now: float
    ) -> tuple[bool, float | None, list[Firing]]:
        """Each-faults on one unit, with the counts as they were before it."""
        drop, due, firings = False, None, []
        for af in self._active("data"):
            if af.spec.fault.mode != "each":
                continue
            st = self.states[af.spec.fault_id]
            if not (st.unit_matches(direction, text, event) and st.counts_reached() and st.time_reached(now)):
                continue
            if not af.draw():
                continue
            first = self.stream not in af.streams
            f = self._fire(
                af, FirePoint(kind=self.kind, point="data", direction=direction, rand=af.rng.random()), ""
            )
            for e in f.effects:
                if isinstance(e, Drop):
                    drop = True
                elif isinstance(e, Delay):
                    due = max(due or now, now + e.ms / 1000)
                elif isinstance(e, Throttle):
                    key = (af.spec.fault_id, direction)
                    rel = release_time(self._release.get(key, now), now, size, e.bytes_per_s)
                    self._release[key] = rel
                    due = max(due or now, rel)
            if first or any(isinstance(e, Drop) for e in f.effects):
                firings.append(f)
        return drop, due, firings

    def _count(self, direction: str, size: int, text: str | None, event: str | None) -> None:
        for st in self.states.values():
            if st.unit_matches(direction, text, event):
                st.count(size)

    def _once_on_unit(self, direction: str, why: str, now: float, keep: int = 0) -> list[Firing]:
        out = []
        for af in self._active("data"):
            st = self.states[af.spec.fault_id]
            if af.spec.fault.mode != "once" or st.done or self.ended:
                continue
            t = af.spec.trigger
            counted = t.after_messages is not None or t.after_bytes is not None or st.needs_unit()
            if not counted and t.after_ms is None:
                continue  # nothing to wait for: fired at headers/timer instead
            if not (st.counts_reached() and st.time_reached(now)) or (counted and st.messages == 0):
                continue
            if st.needs_unit() and not st.unit_matches(direction, self._last_text, self._last_event):
                continue
            st.done = True
            if not af.draw():
                continue
            if getattr(af.spec.fault, "mid_event", False) and self.kind == "sse":
                self._half_cut = af  # cut inside the next event
                continue
            out.append(
                self._fire(af, FirePoint(kind=self.kind, point="data", direction=direction, keep=keep), why)
            )
        return out

    def on_message(self, direction: str, size: int, text: str | None, now: float) -> MessageDecision:
        """A WebSocket message of ``size`` bytes from ``direction`` (``text`` for text messages)."""
        if self.ended:
            return MessageDecision()
        self._touch(now)
        drop, due, firings = self._apply_each(direction, size, text, None, now)
        self._count(direction, size, text, None)
        self._last_text, self._last_event = text, None
        n = max((s.messages for s in self.states.values()), default=0)
        after = self._once_on_unit(direction, f"message {n} from {direction}", now)
        return MessageDecision(drop=drop, due=due, firings=firings, after=after)

    def on_chunk(self, data: bytes, now: float) -> ChunkDecision:
        """A chunk of the response body (``b""`` = the body ended; held bytes are released)."""
        if self.ended:
            return ChunkDecision()
        if not data:
            rest, self.held = self.held, b""
            return ChunkDecision(out=rest)
        self._touch(now)
        dec = ChunkDecision()
        out = bytearray()
        if self._half_cut is not None:
            return self._cut_half(data, dec, out)
        if self.splitter is None:
            units: list[tuple[bytes, bool, str | None, str | None]] = [
                (data, True, None, data.decode("utf-8", "replace"))
            ]
        else:
            units = [(p.data, p.complete, p.name, p.text) for p in self.splitter.feed(data)]
        hold = self._drop_possible()
        for i, (piece, complete, name, text) in enumerate(units):
            if not complete:
                if hold:
                    self.held += piece
                else:
                    out += piece
                continue
            whole = self.held + piece if hold else piece
            self.held = b""
            size = len(whole)
            drop, due, firings = self._apply_each("server", size, text, name, now)
            dec.firings += firings
            if due is not None:
                dec.due = max(dec.due or due, due)
            cut = self._cut_by_bytes(whole, out)
            if cut is not None:
                dec.out, dec.after = bytes(out), [cut]
                return dec
            self._count("server", size, text, name)
            self._last_text, self._last_event = text, name
            if not drop:
                out += whole
            n = max((s.messages for s in self.states.values()), default=0)
            what = f"event {n}" if self.splitter is not None else f"chunk {n}"
            after = self._once_on_unit("server", what, now, keep=len(out))
            if after:
                dec.out, dec.after = bytes(out), after
                return dec
            if self._half_cut is not None:
                rest = b"".join(u[0] for u in units[i + 1 :])
                if rest:
                    return self._cut_half(rest, dec, out)
        for af in self._active("data"):  # throttle on bodies: stop reading upstream for a while
            if af.spec.action == "throttle":
                rel = self._release.get((af.spec.fault_id, "server"))
                if rel is not None and rel > now:
                    dec.resume_at = max(dec.resume_at or rel, rel)
        dec.out = bytes(out)
        return dec

    def _drop_possible(self) -> bool:
        return self.splitter is not None and any(
            af.spec.fault.mode == "each" and af.spec.action == "drop" for af in self._active("data")
        )

    def _cut_half(self, data: bytes, dec: ChunkDecision, out: bytearray) -> ChunkDecision:
        af, self._half_cut = self._half_cut, None
        assert af is not None
        head = data[: max(1, len(data) // 2)]
        while head and head.endswith((b"\n", b"\r")):  # never complete the event we are cutting
            head = head[:-1]
        out += head
        dec.out = bytes(out)
        n = max((s.messages for s in self.states.values()), default=0)
        dec.after = [
            self._fire(
                af,
                FirePoint(kind=self.kind, point="data", direction="server", keep=len(out)),
                f"inside event {n + 1}",
            )
        ]
        return dec

    def _cut_by_bytes(self, piece: bytes, out: bytearray) -> Firing | None:
        """A truncate with only ``after_bytes`` cuts at that exact byte."""
        for af in self._active("data"):
            st = self.states[af.spec.fault_id]
            t = af.spec.trigger
            if af.spec.action != "truncate" or st.done or t.after_bytes is None:
                continue
            if t.after_messages is not None or st.needs_unit() or t.after_ms is not None:
                continue
            if st.bytes + len(piece) <= t.after_bytes:
                continue
            keep = t.after_bytes - st.bytes
            st.done = True
            if not af.draw():
                continue
            out += piece[:keep]
            return self._fire(
                af,
                FirePoint(kind=self.kind, point="data", direction="server", keep=len(out)),
                f"byte {t.after_bytes}",
            )
        return None

    def read_delay(self, now: float) -> float:
        """Milliseconds of body delay for a read arriving now (``delay`` faults on bodies; the edge
        delays whole upstream reads, since a stream callable cannot wait). 0 when none applies."""
        total = 0.0
        for af in self._active("data"):
            if af.spec.action != "delay" or af.spec.fault.mode != "each":
                continue
            st = self.states[af.spec.fault_id]
            if not (st.trigger.counts("server") and st.counts_reached() and st.time_reached(now)):
                continue
            if af.draw():
                (effect,) = af.spec.fault.effects(
                    FirePoint(kind=self.kind, point="data", rand=af.rng.random())
                )
                total = max(total, effect.ms)
        return total

    # --- timers and commands -------------------------------------------------------------

    def next_deadline(self, now: float) -> float | None:
        """When ``on_timer`` should next be called (monotonic s), or None."""
        if self.ended or not self.started:
            return None
        times = []
        for af in self._active("timer") + self._active("data"):
            st = self.states[af.spec.fault_id]
            if af.spec.fault.mode != "once" or st.done:
                continue
            due = st.deadline()
            if due is not None and due > now:
                times.append(due)
            idle = getattr(af.spec.fault, "ms", None) if af.spec.action == "idle_timeout" else None
            if idle is not None:
                times.append(max(self.last_activity + idle / 1000, due or 0.0))
        return min(times) if times else None

    def on_timer(self, now: float) -> list[Firing]:
        """Time passed: fire once-faults whose time has come (and whose counts are reached)."""
        out: list[Firing] = []
        if not self.started:
            return out
        for af in self._active("timer") + [
            a for a in self._active("data") if "timer" not in a.spec.fault.points
        ]:
            st = self.states[af.spec.fault_id]
            if af.spec.fault.mode != "once" or st.done or self.ended:
                continue
            if af.spec.action == "idle_timeout":
                idle_ms = af.spec.fault.ms
                if now < self.last_activity + idle_ms / 1000 or not st.time_reached(now):
                    continue
                why = f"no traffic for {idle_ms} ms"
            else:
                if st.trigger.after_ms is None or not st.time_reached(now):
                    continue
                if st.needs_unit() or not st.counts_reached():
                    continue
                why = "timer"
            st.done = True
            if af.draw():
                out.append(self._fire(af, FirePoint(kind=self.kind, point="timer"), why))
        return out

    def fire(self, fault_id: str) -> Firing | None:
        """``faults.fire``: fire a once-fault on this stream now, whatever its trigger says."""
        for af in self.faults:
            if af.spec.fault_id == fault_id and af.spec.fault.mode == "once" and not self.ended:
                if self.kind not in af.spec.fault.streams:
                    return None
                self.states[fault_id].done = True
                return self._fire(af, FirePoint(kind=self.kind, point="timer"), "fired by command")
        return None
