"""A ``StreamFaults`` from one-line faults, for the pure fault tests (the test supplies the clock)."""

from tearline.faults.injector import Injector, StreamFaults
from tearline.faults.scenario import parse_one_line

__all__ = ["SSE", "stream"]

SSE = b"".join(b"id: %d\ndata: event %d\n\n" % (i, i) for i in range(6))


def stream(*lines: str, kind: str = "ws", start: bool = True) -> StreamFaults:
    """Faults ``cli#1``, ``cli#2``, ... seeded 1, on stream ``s1`` of ``kind`` opened at 0 s."""
    inj = Injector([parse_one_line(line, i) for i, line in enumerate(lines, 1)], seed_source=lambda: 1)
    sf = inj.open_stream("s1", kind, 0.0)
    if start:
        sf.start(0.0)
    return sf
