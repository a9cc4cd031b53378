"""``truncate``: cut an SSE or chunked body after N events, chunks or bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import H2_ERRORS, H2_RST_HELP, HOW, Effect, Truncate
from tearline.faults.fault import FirePoint
from tearline.faults.params import check_choice, param

__all__ = ["TruncateFault"]


@dataclass(frozen=True, kw_only=True, slots=True)
class TruncateFault:
    """End the body without its terminating chunk once the trigger holds (``after_messages``
    counts SSE events, or chunks of a non-SSE stream; ``after_bytes`` cuts at that byte). With
    ``mid_event`` half of the next event is passed first. The browser sees
    ERR_INCOMPLETE_CHUNKED_ENCODING (HTTP/1.1)."""

    name: ClassVar[str] = "truncate"
    summary: ClassVar[str] = (
        "Cut an SSE or chunked body after N events, chunks or bytes, no terminating chunk."
    )
    streams: ClassVar[tuple[str, ...]] = ("sse", "http-stream")
    mode: ClassVar[str] = "once"
    ends: ClassVar[bool] = True  # it ends the stream (or its connection) itself
    points: ClassVar[tuple[str, ...]] = ("data", "timer")

    mid_event: bool = field(
        default=False, metadata=param("also pass the first half of the next event, then cut", kind="bool")
    )
    how: str = field(
        default="fin", metadata=param("how the browser's connection ends", kind="str", choices=HOW)
    )

    h2_error: str = field(
        default="INTERNAL_ERROR", metadata=param(H2_RST_HELP, kind="str", choices=H2_ERRORS)
    )

    def __post_init__(self) -> None:
        check_choice("h2_error", self.h2_error, H2_ERRORS)
        check_choice("how", self.how, HOW)

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        return (Truncate(keep=at.keep, how=self.how, h2_error=self.h2_error),)  # type: ignore[arg-type]
