"""``stall``: stop forwarding while keeping the connection open, with real TCP backpressure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import TO, Effect, Stall
from tearline.faults.fault import FirePoint
from tearline.faults.params import check_choice, check_range, param

__all__ = ["StallFault"]


@dataclass(frozen=True, kw_only=True, slots=True)
class StallFault:
    """Stop passing data toward ``to`` (the sender's socket is no longer read, so its send
    buffer fills and its writes block) for ``ms``, or until the fault is disarmed."""

    name: ClassVar[str] = "stall"
    summary: ClassVar[str] = (
        "Stop forwarding, connection kept open, with TCP backpressure; for ms or until disarmed."
    )
    streams: ClassVar[tuple[str, ...]] = ("ws", "sse", "http-stream")
    mode: ClassVar[str] = "once"
    ends: ClassVar[bool] = False  # it shapes the stream; whatever ends it afterwards is not it by itself
    points: ClassVar[tuple[str, ...]] = ("data", "timer")

    ms: int | None = field(
        default=None, metadata=param("how long; absent = until disarmed", kind="int", unit="ms")
    )
    to: str = field(
        default="both", metadata=param("direction(s) stopped: data toward this side", kind="str", choices=TO)
    )

    def __post_init__(self) -> None:
        check_range("ms", self.ms, 1, 86_400_000)
        check_choice("to", self.to, TO)

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        return (Stall(ms=self.ms, to=self.to),)  # type: ignore[arg-type]
