"""``abort``: end the connection with no close frame and no terminating chunk (FIN)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import TO, Abort, Effect
from tearline.faults.fault import FirePoint
from tearline.faults.params import check_choice, param

__all__ = ["AbortFault"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AbortFault:
    """FIN to ``to`` with no WebSocket close frame, mid-stream or mid-body. Before the response
    headers (no count or time trigger) the browser gets an empty response (ERR_EMPTY_RESPONSE)."""

    name: ClassVar[str] = "abort"
    summary: ClassVar[str] = "End the connection with FIN: no close frame, no terminating chunk."
    streams: ClassVar[tuple[str, ...]] = ("ws", "sse", "http-stream")
    mode: ClassVar[str] = "once"
    points: ClassVar[tuple[str, ...]] = ("headers", "data", "timer")
    how: ClassVar[str] = "fin"

    to: str = field(default="client", metadata=param("which leg is ended", kind="str", choices=TO))

    def __post_init__(self) -> None:
        check_choice("to", self.to, TO)

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        return (Abort(how=self.how, to=self.to),)  # type: ignore[arg-type]
