"""``delay``: latency with jitter, order preserved; or delay of the handshake or response headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import Delay, Effect
from tearline.faults.fault import FirePoint
from tearline.faults.params import check_choice, check_range, param

__all__ = ["DelayFault"]

ON: tuple[str, ...] = ("messages", "handshake", "headers")
_POINTS = {"messages": ("data",), "handshake": ("request",), "headers": ("headers",)}


@dataclass(frozen=True, kw_only=True, slots=True)
class DelayFault:
    """Hold each matching message or chunk ``ms`` (+ up to ``jitter_ms``) after it arrived,
    keeping order within a direction and not blocking the other direction (on a streamed body:
    every upstream read, the response headers included, like network latency); or hold the
    request before it goes upstream (``on = "handshake"``), or the response headers."""

    name: ClassVar[str] = "delay"
    summary: ClassVar[str] = "Latency with jitter per message or chunk (order kept), or of handshake/headers."
    streams: ClassVar[tuple[str, ...]] = ("ws", "sse", "http-stream")
    mode: ClassVar[str] = "each"
    ends: ClassVar[bool] = False  # it shapes the stream; whatever ends it afterwards is not it by itself

    ms: int = field(metadata=param("added latency", kind="int", unit="ms"))
    jitter_ms: int = field(
        default=0, metadata=param("extra random latency, 0..jitter_ms", kind="int", unit="ms")
    )
    on: str = field(default="messages", metadata=param("what is delayed", kind="str", choices=ON))

    def __post_init__(self) -> None:
        check_range("ms", self.ms, 0, 3_600_000)
        check_range("jitter_ms", self.jitter_ms, 0, 3_600_000)
        check_choice("on", self.on, ON)

    @property
    def points(self) -> tuple[str, ...]:
        return _POINTS[self.on]

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        return (Delay(ms=self.ms + self.jitter_ms * at.rand),)
