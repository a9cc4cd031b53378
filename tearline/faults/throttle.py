"""``throttle``: bandwidth limit per direction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import Effect, Throttle
from tearline.faults.fault import FirePoint
from tearline.faults.params import check_range, param

__all__ = ["ThrottleFault", "release_time"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ThrottleFault:
    """Pass the trigger's ``direction`` on at no more than ``bytes_per_s`` (a token bucket; on
    bodies by not reading the upstream socket, so the server sees backpressure)."""

    name: ClassVar[str] = "throttle"
    summary: ClassVar[str] = "Bandwidth limit for one direction (or both), in bytes per second."
    streams: ClassVar[tuple[str, ...]] = ("ws", "sse", "http-stream")
    mode: ClassVar[str] = "each"
    ends: ClassVar[bool] = False  # it shapes the stream; whatever ends it afterwards is not it by itself
    points: ClassVar[tuple[str, ...]] = ("data",)

    bytes_per_s: int = field(metadata=param("bandwidth limit", kind="int", unit="bytes/s"))

    def __post_init__(self) -> None:
        check_range("bytes_per_s", self.bytes_per_s, 1, None)

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        return (Throttle(bytes_per_s=self.bytes_per_s, direction=at.direction or "server"),)  # type: ignore[arg-type]


def release_time(prev_release: float, now: float, size: int, bytes_per_s: int) -> float:
    """When ``size`` bytes that arrived at ``now`` may leave, given the previous unit left at
    ``prev_release`` (seconds, same clock). A unit leaves once its bytes have been "paid" for at
    ``bytes_per_s``, after the previous one; an idle link does not save up credit."""
    return max(prev_release, now) + size / bytes_per_s
