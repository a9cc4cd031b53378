"""``abort``: end the connection with no close frame and no terminating chunk (FIN)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import H2_ERRORS, H2_RST_HELP, TO, Abort, Effect
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
    ends: ClassVar[bool] = True  # it ends the stream (or its connection) itself
    points: ClassVar[tuple[str, ...]] = ("headers", "data", "timer")
    how: ClassVar[str] = "fin"

    to: str = field(default="client", metadata=param("which leg is ended", kind="str", choices=TO))

    h2_error: str = field(
        default="INTERNAL_ERROR", metadata=param(H2_RST_HELP, kind="str", choices=H2_ERRORS)
    )

    def __post_init__(self) -> None:
        check_choice("h2_error", self.h2_error, H2_ERRORS)
        check_choice("to", self.to, TO)

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        return (Abort(how=self.how, to=self.to, h2_error=self.h2_error),)  # type: ignore[arg-type]
