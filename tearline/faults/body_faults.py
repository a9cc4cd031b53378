"""Faults on a streamed response body, chunk by chunk (pure; part of ``StreamFaults``).

``BodyFaults`` is a mixin of ``tearline.faults.stream_faults.StreamFaults``: ``on_chunk``
splits a chunk into units (SSE events, or the chunk itself), applies each-faults
(drop, delay, throttle) and once-faults counted in units or bytes (truncate after N
events, mid-event or at an exact byte), and says what to pass on (``ChunkDecision``).
``read_delay`` is the body delay for an upstream read (the edge delays whole reads).
Sizes in bytes, times monotonic seconds, delays in milliseconds where named ``_ms``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tearline.faults.armed import ArmedFault, Firing
from tearline.faults.fault import FirePoint
from tearline.faults.framing import SseSplitter
from tearline.faults.triggers import TriggerState

__all__ = ["BodyFaults", "ChunkDecision"]


@dataclass(kw_only=True, slots=True)
class ChunkDecision:
    """What to do with one body chunk: pass ``out`` on (maybe shorter than the chunk or empty),
    then carry out ``after``; ``due`` delays it; ``resume_at``: stop reading the upstream until then."""

    out: bytes = b""
    due: float | None = None
    resume_at: float | None = None
    firings: list[Firing] = field(default_factory=list)
    after: list[Firing] = field(default_factory=list)


class BodyFaults:
    """Body chunks. Needs the stream's state and helpers from ``StreamFaults``."""

    kind: str
    ended: bool
    states: dict[str, TriggerState]
    splitter: SseSplitter | None
    held: bytes
    _release: dict[tuple[str, str], float]
    _half_cut: ArmedFault | None
    _last_text: str | None
    _last_event: str | None
    _active: Callable[[str], list[ArmedFault]]
    _fire: Callable[[ArmedFault, FirePoint, str], Firing]
    _touch: Callable[[float], None]
    _apply_each: Callable[[str, int, str | None, str | None, float], tuple[bool, float | None, list[Firing]]]
    _count: Callable[[str, int, str | None, str | None], None]
    _once_on_unit: Callable[..., list[Firing]]

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
