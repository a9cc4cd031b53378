"""``reset``: TCP RST (SO_LINGER 0) to either side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import H2_ERRORS, H2_RST_HELP, TO, Abort, Effect
from tearline.faults.fault import FirePoint
from tearline.faults.params import check_choice, param

__all__ = ["ResetFault"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ResetFault:
    """RST to ``to`` (the peer's next read fails with ECONNRESET); a leg not named gets FIN.
    Before the response headers the browser gets ERR_CONNECTION_RESET."""

    name: ClassVar[str] = "reset"
    summary: ClassVar[str] = "TCP reset (RST, SO_LINGER 0) to the client, the server or both."
    streams: ClassVar[tuple[str, ...]] = ("ws", "sse", "http-stream")
    mode: ClassVar[str] = "once"
    ends: ClassVar[bool] = True  # it ends the stream (or its connection) itself
    points: ClassVar[tuple[str, ...]] = ("headers", "data", "timer")

    to: str = field(default="client", metadata=param("which leg is reset", kind="str", choices=TO))

    h2_error: str = field(
        default="INTERNAL_ERROR", metadata=param(H2_RST_HELP, kind="str", choices=H2_ERRORS)
    )

    def __post_init__(self) -> None:
        check_choice("h2_error", self.h2_error, H2_ERRORS)
        check_choice("to", self.to, TO)

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        return (Abort(how="rst", to=self.to, h2_error=self.h2_error),)  # type: ignore[arg-type]
