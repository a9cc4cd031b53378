"""addons/body_delay.py: the delay line alone (a real asyncio StreamReader) and a delayed SSE body
through a real mitmdump. Tolerances stated per test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from tearline.addons.body_delay import DelayLine

from tearline.lab.mitmdump import Mitmdump
from tests.fault_clients import timed_events


def test_delay_line_holds_each_read_and_keeps_order() -> None:
    """Reads fed at once, delayed 200 then 50 ms: both wait >= 200 ms (never overtaking), in order;
    EOF passes through. Tolerance: < 2 s on the shared machine."""

    async def main() -> tuple[list[bytes], list[float]]:
        reader = asyncio.StreamReader()
        delays = iter([0.2, 0.05])
        line = DelayLine(reader, lambda: next(delays, 0.0))
        t0 = time.monotonic()
        reader.feed_data(b"first")
        got, at = [await reader.read(100)], [time.monotonic() - t0]
        reader.feed_data(b"second")
        reader.feed_eof()
        got += [await reader.read(100), await reader.read(100)]
        at.append(time.monotonic() - t0)
        line.cancel()
        return got, at

    got, at = asyncio.run(main())
    assert got == [b"first", b"second", b""]
    assert 0.2 <= at[0] < 2.0 and at[1] >= at[0]


def test_delay_line_passes_the_readers_error_on() -> None:
    async def main() -> BaseException | None:
        reader = asyncio.StreamReader()
        DelayLine(reader, lambda: 0.0)
        reader.set_exception(ConnectionResetError("peer reset"))
        try:
            await reader.read(10)
        except ConnectionResetError as e:
            return e
        return None

    assert isinstance(asyncio.run(main()), ConnectionResetError)


def test_delay_of_sse_events_keeps_order_and_spacing(faulty: Callable[..., Mitmdump]) -> None:
    """5 events 150 ms apart, each delayed 500 ms. Tolerance: the first arrives 0.5-2.5 s after the
    request (direct: ~0), all in order, and the last no earlier than 0.5 + 4 x 0.15 s."""
    proxy = faulty("delay:stream=sse,ms=500")
    times, events, t0 = timed_events(proxy.port, "/sse?n=5&interval_ms=150&ids=1")
    assert [e.split(b"\n")[0] for e in events] == [b"id: %d" % i for i in range(5)]
    assert 0.5 <= times[0] - t0 < 2.5, times[0] - t0
    assert times[-1] - t0 >= 0.5 + 4 * 0.15 - 0.05
