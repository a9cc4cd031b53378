"""``goaway``: an HTTP/2 GOAWAY to the browser, as a reloading or failing server sends it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tearline.faults.effects import H2_ERRORS, Effect, GoAway
from tearline.faults.fault import FirePoint
from tearline.faults.params import check_choice, param

__all__ = ["GoAwayFault"]


@dataclass(frozen=True, kw_only=True, slots=True)
class GoAwayFault:
    """GOAWAY on the browser's HTTP/2 connection carrying the stream. ``NO_ERROR`` (the default) is
    a reloading server: open streams up to ``last_stream_id`` finish, new requests go to a new
    connection. An error code ends the connection right after the frame. Ignored (recorded as
    such) when the browser speaks HTTP/1.1."""

    name: ClassVar[str] = "goaway"
    summary: ClassVar[str] = (
        "HTTP/2 GOAWAY to the browser (error code, last stream id), as a reloading server."
    )
    streams: ClassVar[tuple[str, ...]] = ("sse", "http-stream")
    mode: ClassVar[str] = "once"
    ends: ClassVar[bool] = True  # it ends the stream (or its connection) itself
    points: ClassVar[tuple[str, ...]] = ("headers", "data", "timer")

    h2_error: str = field(
        default="NO_ERROR", metadata=param("the GOAWAY error code", kind="str", choices=H2_ERRORS)
    )
    last_stream_id: int | None = field(
        default=None,
        metadata=param(
            "the last stream the server processed; default: the highest the browser opened", kind="int"
        ),
    )

    def __post_init__(self) -> None:
        check_choice("h2_error", self.h2_error, H2_ERRORS)

    def effects(self, at: FirePoint) -> tuple[Effect, ...]:
        return (GoAway(h2_error=self.h2_error, last_stream_id=self.last_stream_id),)
