"""When a fault fires: which streams, whose data, after how much, after how long, how often.

``Trigger`` holds the scenario keys (validated on construction); ``TriggerState``
is its per-stream counter. All times are the proxy's monotonic clock in seconds;
timer triggers are absolute from the stream's open (or first data), so a chatty
stream (heartbeats every second) does not postpone them.

Counting: ``after_messages`` counts units sent by ``direction`` (WebSocket
messages, SSE events, or chunks of a non-SSE body); when ``regex`` or ``event``
is given, only units that match count. ``after_bytes`` counts their bytes.
A ``once`` fault fires on the unit that satisfies every condition (after that
unit is passed on); an ``each`` fault applies to every matching unit that comes
after the counts are reached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tearline.faults.params import ParamError, check_choice, check_range, param

__all__ = ["DIRECTIONS", "FROM", "STREAMS", "Trigger", "TriggerState"]

STREAMS: tuple[str, ...] = ("ws", "sse", "http-stream", "any")
DIRECTIONS: tuple[str, ...] = ("client", "server", "any")
FROM: tuple[str, ...] = ("open", "first_data")


@dataclass(frozen=True, kw_only=True, slots=True)
class Trigger:
    """The trigger keys of one ``[[fault]]`` table."""

    match: str | None = field(
        default=None, metadata=param("mitmproxy filter expression on the flow, e.g. '~u /ws'", kind="str")
    )
    stream: str = field(default="any", metadata=param("stream kind", kind="str", choices=STREAMS))
    direction: str = field(
        default="any",
        metadata=param(
            "whose messages the trigger counts (and an each-fault acts on)", kind="str", choices=DIRECTIONS
        ),
    )
    after_messages: int | None = field(
        default=None, metadata=param("fire after this many messages, SSE events or chunks", kind="int")
    )
    after_bytes: int | None = field(
        default=None, metadata=param("fire after this many bytes", kind="int", unit="bytes")
    )
    after_ms: int | None = field(
        default=None,
        metadata=param("fire this long after the stream opened (or first data)", kind="int", unit="ms"),
    )
    after_ms_from: str = field(
        default="open", metadata=param("what after_ms counts from", kind="str", choices=FROM)
    )
    regex: str | None = field(
        default=None, metadata=param("only messages/SSE events whose text matches (re.search)", kind="str")
    )
    event: str | None = field(
        default=None, metadata=param("only SSE events with this event: name", kind="str")
    )
    probability: float = field(
        default=1.0,
        metadata=param("chance of firing (per stream; per message for each-faults)", kind="float"),
    )
    seed: int | None = field(
        default=None,
        metadata=param("seed of the probability/jitter RNG; recorded in the capture", kind="int"),
    )
    times: int | str | None = field(
        default=None,
        metadata=param('fire on at most this many streams: a number, "once" or "always"', kind="int|str"),
    )

    def __post_init__(self) -> None:
        check_choice("stream", self.stream, STREAMS)
        check_choice("direction", self.direction, DIRECTIONS)
        check_choice("after_ms_from", self.after_ms_from, FROM)
        check_range("after_messages", self.after_messages, 0, None)
        check_range("after_bytes", self.after_bytes, 0, None)
        check_range("after_ms", self.after_ms, 0, None)
        check_range("probability", self.probability, 0.0, 1.0)
        if isinstance(self.times, str):
            check_choice("times", self.times, ("once", "always"))
        else:
            check_range("times", self.times, 1, None)
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ParamError("regex", f"{self.regex!r} is not a valid regular expression: {e}") from None

    @property
    def max_streams(self) -> int | None:
        """``times`` as a number (None = unlimited)."""
        if self.times == "once":
            return 1
        if self.times is None or self.times == "always":
            return None
        return int(self.times)

    @property
    def compiled(self) -> re.Pattern[str] | None:
        return re.compile(self.regex) if self.regex is not None else None

    def counts(self, direction: str) -> bool:
        """Whether units sent by ``direction`` are the ones this trigger counts / acts on."""
        return self.direction in ("any", direction)

    def selects(self, kind: str) -> bool:
        return self.stream in ("any", kind)

    def as_params(self) -> dict[str, Any]:
        """The keys set away from their defaults, for the capture."""
        out: dict[str, Any] = {}
        for name in Trigger.__dataclass_fields__:
            value = getattr(self, name)
            if value != Trigger.__dataclass_fields__[name].default:
                out[name] = value
        return out

    def describe(self) -> str:
        """e.g. ``after_messages=3 (server), after_ms=500 from open``."""
        parts = []
        who = "" if self.direction == "any" else f" ({self.direction})"
        if self.after_messages is not None:
            parts.append(f"after_messages={self.after_messages}{who}")
        if self.after_bytes is not None:
            parts.append(f"after_bytes={self.after_bytes}{who}")
        if self.after_ms is not None:
            parts.append(f"after_ms={self.after_ms} from {self.after_ms_from}")
        if self.regex is not None:
            parts.append(f"regex={self.regex!r}")
        if self.event is not None:
            parts.append(f"event={self.event!r}")
        if self.probability < 1.0:
            parts.append(f"probability={self.probability:g}")
        return ", ".join(parts) or "immediately"


@dataclass(kw_only=True, slots=True)
class TriggerState:
    """One trigger's counters on one stream (mutable; owned by the injector)."""

    trigger: Trigger
    opened: float  # monotonic s
    first_data: float | None = None
    messages: int = 0  # counted units so far
    bytes: int = 0  # their bytes
    done: bool = False  # a once-fault fired (or lost its draw) on this stream
    _pattern: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        self._pattern = self.trigger.compiled

    def unit_matches(self, direction: str, text: str | None, event: str | None) -> bool:
        """Whether a unit is one this trigger looks at (direction, regex, SSE event name)."""
        t = self.trigger
        if not t.counts(direction):
            return False
        if t.event is not None and event != t.event:
            return False
        return not (self._pattern is not None and (text is None or not self._pattern.search(text)))

    def count(self, size: int) -> None:
        self.messages += 1
        self.bytes += size

    def counts_reached(self) -> bool:
        t = self.trigger
        if t.after_messages is not None and self.messages < t.after_messages:
            return False
        return not (t.after_bytes is not None and self.bytes < t.after_bytes)

    def deadline(self) -> float | None:
        """Monotonic time at which ``after_ms`` is reached; None if no timer or not started yet."""
        t = self.trigger
        if t.after_ms is None:
            return None
        base = self.opened if t.after_ms_from == "open" else self.first_data
        return None if base is None else base + t.after_ms / 1000

    def time_reached(self, now: float) -> bool:
        if self.trigger.after_ms is None:
            return True
        due = self.deadline()
        return due is not None and now >= due

    def needs_unit(self) -> bool:
        """True when only a data unit can fire it (regex/event/count conditions)."""
        t = self.trigger
        return t.regex is not None or t.event is not None
