"""The armed faults' state on one stream: traffic in, effects out (pure; the caller supplies the clock).

``StreamFaults`` is what ``Injector.open_stream`` returns. The edge feeds it the
stream's life: ``on_request``, ``on_headers``, ``start`` (the stream opened),
``on_message`` (a WebSocket message, answered with a ``MessageDecision``),
``on_chunk`` (a body chunk, ``tearline.faults.body_faults``), ``on_timer`` when
``next_deadline()`` passes, and ``fire`` for the ``faults.fire`` command. Each returns
what to do and ``Firing`` records to put in the capture. Times are monotonic seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tearline.faults.armed import TERMINAL, ArmedFault, Firing
from tearline.faults.body_faults import BodyFaults
from tearline.faults.effects import Delay, Drop, Throttle
from tearline.faults.fault import FirePoint, Point
from tearline.faults.framing import SseSplitter
from tearline.faults.throttle import release_time
from tearline.faults.triggers import TriggerState

__all__ = ["MessageDecision", "StreamFaults"]


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


class StreamFaults(BodyFaults):
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
