"""What the recorder measured of the proxy's own cost: per-message delays as p50/p99/max.

The recorder (``addons/ws_trace.py``) takes two times for every WebSocket message and every
streamed body chunk it relays:

``delay``  from the message's arrival at the proxy (the socket read that brought it, or
           mitmproxy's own timestamp when earlier) to its forwarding (the write to the other
           socket, or the moment tearline handed a chunk back to mitmproxy for sending): what
           the proxy as a whole (mitmproxy, tearline and any fault) added to that message.
``hook``   the time tearline's own code ran for it (its hook, building and writing its event).

Keeping every sample would cost memory on long sockets, so each is added to a ``Latency``: an
exact count, sum and maximum, and a histogram of log-spaced buckets 5 % wide, from which the
quantiles are read (the upper edge of the bucket holding the rank, never above the maximum).
Quantiles are therefore at most 5 % high; ``p50 <= p99 <= max`` always holds. ``messages``
counts every message and chunk measured, ``forwarded`` those that were sent on (the delay's
samples: a message a fault dropped has a hook time but no delay).

``CostBook`` keeps one pair per client connection; the figures go into that connection's
``conn_close`` event and, for the whole capture, into the ``capture_end`` footer, as the
``proxy_cost`` object ``cost_fields`` makes (docs/capture-format.md). Pure: no mitmproxy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["COST_KEYS", "CostBook", "Latency", "cost_fields", "delay_note"]

_FLOOR = 1e-6  # seconds: samples at or below one microsecond share bucket 0
_RATIO = 1.05
_INV_LOG = 1.0 / math.log(_RATIO)

COST_KEYS: tuple[str, ...] = (
    "messages",
    "forwarded",
    "delay_p50_ms",
    "delay_p99_ms",
    "delay_max_ms",
    "hook_p50_ms",
    "hook_p99_ms",
    "hook_max_ms",
)
"""The keys of a ``proxy_cost`` object, in the order they are written."""


class Latency:
    """Count, sum, maximum and a log-bucket histogram of durations in seconds."""

    __slots__ = ("buckets", "max", "n", "total")

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self.max = 0.0
        self.buckets: dict[int, int] = {}

    def add(self, seconds: float) -> None:
        if seconds <= _FLOOR:
            i = 0
            if seconds < 0.0:
                seconds = 0.0
        else:
            i = int(math.log(seconds / _FLOOR) * _INV_LOG) + 1
        b = self.buckets
        b[i] = b.get(i, 0) + 1
        self.n += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds

    def merge(self, other: Latency) -> None:
        for i, c in other.buckets.items():
            self.buckets[i] = self.buckets.get(i, 0) + c
        self.n += other.n
        self.total += other.total
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0 < q <= 1) in seconds: 0.0 when empty, at most 5 % high, <= max."""
        if self.n == 0:
            return 0.0
        rank = max(1, math.ceil(q * self.n))
        seen = 0
        for i in sorted(self.buckets):
            seen += self.buckets[i]
            if seen >= rank:
                upper = _FLOOR * _RATIO**i if i > 0 else _FLOOR
                return min(upper, self.max)
        return self.max  # pragma: no cover - the counts add up to n


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def cost_fields(delay: Latency, hook: Latency) -> dict[str, Any] | None:
    """The ``proxy_cost`` object for one pair of accumulators (None when nothing was measured)."""
    if delay.n == 0 and hook.n == 0:
        return None
    return {
        "messages": hook.n,
        "forwarded": delay.n,
        "delay_p50_ms": _ms(delay.quantile(0.5)),
        "delay_p99_ms": _ms(delay.quantile(0.99)),
        "delay_max_ms": _ms(delay.max),
        "hook_p50_ms": _ms(hook.quantile(0.5)),
        "hook_p99_ms": _ms(hook.quantile(0.99)),
        "hook_max_ms": _ms(hook.max),
    }


class CostBook:
    """``(delay, hook)`` accumulators per connection id, and their total for the capture."""

    __slots__ = ("_conns", "_total_delay", "_total_hook")

    def __init__(self) -> None:
        self._conns: dict[str, tuple[Latency, Latency]] = {}
        self._total_delay = Latency()
        self._total_hook = Latency()

    def note(self, conn: str | None, delay: float | None, hook: float) -> None:
        """One relayed message of ``conn``: its delay (None when it was not forwarded) and hook time."""
        pair = self._conns.get(conn or "")
        if pair is None:
            pair = self._conns[conn or ""] = (Latency(), Latency())
        if delay is not None:
            pair[0].add(delay)
        pair[1].add(hook)

    def pop(self, conn: str) -> dict[str, Any] | None:
        """``conn``'s figures (None when it relayed nothing); they join the capture's total."""
        pair = self._conns.pop(conn, None)
        if pair is None:
            return None
        self._total_delay.merge(pair[0])
        self._total_hook.merge(pair[1])
        return cost_fields(*pair)

    def total(self) -> dict[str, Any] | None:
        """The whole capture's figures, connections still open included."""
        delay, hook = Latency(), Latency()
        delay.merge(self._total_delay)
        hook.merge(self._total_hook)
        for d, h in self._conns.values():
            delay.merge(d)
            hook.merge(h)
        return cost_fields(delay, hook)


def _num(cost: Mapping[str, Any], key: str) -> float | None:
    v = cost.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 else None


def delay_note(costs: Mapping[str, Any], gaps: Iterable[tuple[str, float]] = ()) -> str | None:
    """One sentence for a diagnosis from the ``proxy_cost`` of each client connection (None when no
    connection has figures): the worst connection's p99 and the largest delay; ``gaps`` (stream, seconds
    a timer measured) longer than ten times that largest delay are named as not the proxy's."""
    rows = [
        (p99, mx, int(c.get("forwarded") or 0))
        for c in costs.values()
        if isinstance(c, Mapping)
        and (p99 := _num(c, "delay_p99_ms")) is not None
        and (mx := _num(c, "delay_max_ms")) is not None
        and c.get("forwarded")
    ]
    if not rows:
        return None
    p99 = max(r[0] for r in rows)
    mx = max(r[1] for r in rows)
    n = sum(r[2] for r in rows)
    conns = f"{len(rows)} connection{'s' if len(rows) != 1 else ''}"
    note = (
        f"The proxy's own delay per relayed message or chunk, measured by the recorder ({n} over {conns}): "
        f"p99 at most {p99:g} ms per connection, never more than {mx:g} ms."
    )
    long = [(sid, sec) for sid, sec in gaps if sec * 1000.0 > 10 * max(mx, 1.0)]
    if long:
        which = ", ".join(f"{sec:g} s on {sid}" for sid, sec in long[:5])
        note += f" The periods the timers measured ({which}) are not the proxy's delay."
    return note
