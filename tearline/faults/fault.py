"""What every fault is: a small frozen class with one job that returns effects.

The contract, for anyone adding a fault (toxiproxy's three rules, adapted):

1. A fault is a frozen dataclass whose parameters are fields declared with
   ``param()`` (type, unit, allowed values); it validates them in
   ``__post_init__`` and raises ``ParamError`` naming the key.
2. ``effects(at)`` is pure: no I/O, no sleeping, no randomness (probability is
   applied outside, by the trigger, with a seeded RNG). Delays are returned,
   not slept.
3. Never lose bytes unless losing bytes is the fault.

``mode`` says how it applies once its trigger holds: ``"once"`` fires a single
time per stream (close, abort, truncate ...); ``"each"`` applies to every
matching message or chunk from then on (delay, drop, throttle).
``ends`` says whether it ends the stream (or its connection) itself (close, abort,
reset, truncate, respond, idle_timeout, goaway) or only shapes it (delay, stall, drop,
throttle): the diagnosis names a shaping fault as the cause of an end only when the
stream did not then finish normally.
``points`` lists where it can fire: ``"request"`` (before the request goes
upstream), ``"headers"`` (response headers arrived), ``"data"`` (a message,
SSE event or chunk passed), ``"timer"`` (a time trigger expired or
``faults.fire`` was called).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from tearline.faults.effects import Effect

__all__ = ["Fault", "FirePoint", "Point"]

Point = Literal["request", "headers", "data", "timer"]


@dataclass(frozen=True, kw_only=True, slots=True)
class FirePoint:
    """Where a fault fired.

    ``kind``: stream kind (``ws``, ``sse``, ``http-stream``); ``point`` as above;
    ``direction``: who sent the data that fired it (None for request/timer);
    ``keep``: for a body chunk, how many bytes of it to pass before cutting;
    ``rand``: a draw from the fault's seeded RNG (faults stay pure and reproducible).
    """

    kind: str
    point: Point
    direction: str | None = None
    keep: int = 0
    rand: float = 0.0  # a draw in [0, 1) from the fault's seeded RNG, for jitter


class Fault(Protocol):
    name: ClassVar[str]
    summary: ClassVar[str]
    streams: ClassVar[tuple[str, ...]]
    mode: ClassVar[str]
    ends: ClassVar[bool]  # True: it ends the stream itself; False: it only shapes it (delay, stall, ...)

    @property
    def points(self) -> tuple[str, ...]: ...

    def effects(self, at: FirePoint) -> tuple[Effect, ...]: ...
