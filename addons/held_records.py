"""Records that wait until a WebSocket message's hook chain has run (part of ``WsTrace``).

mitmproxy runs one hook (``websocket_message``) through every loaded addon in load
order, in one task per hook (``ConnectionHandler.hook_task``, mitmproxy 12.3.1), and
acts on the message (forwards it or not) only after that chain. The recorder runs
early in the chain, so an addon after it (``addons/faults.py``'s ``drop``, a delay that
drops and re-injects) can still change the message: ``msg.drop()``. To record what was
forwarded, the recorder ``hold``s the message's record: it is built when the hook task
finishes (its done callback), with the message's final ``dropped`` state, or earlier
when the same stream's next hook arrives (hooks of one flow run one after another, so
the previous chain is complete by then). Events for the same stream emitted meanwhile
(``fault_fired`` from the fault addon, ...) wait behind it, so the stream's events keep
their order in the capture. Events of other streams are written at once.

``hold`` outside a running task (a synchronous caller, tests) writes at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from tearline.events import Event

__all__ = ["HeldRecords"]

log = logging.getLogger(__name__)


class _Held:
    """One held record: how to build it, and the same stream's events emitted after it."""

    __slots__ = ("after", "behind", "make")

    def __init__(self, make: Callable[[], Event], after: Callable[[float], None] | None) -> None:
        self.make = make
        self.after = after
        self.behind: list[Event] = []


class HeldRecords:
    """Per-stream held records; ``write`` puts one event in the capture."""

    def __init__(self, write: Callable[[Event], None]) -> None:
        self._write = write
        self._held: dict[str, _Held] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(
        self, stream: str, make: Callable[[], Event], after: Callable[[float], None] | None = None
    ) -> None:
        """Write ``make()`` once the running hook task has finished (``make`` reads final state);
        then ``after(seconds)`` with the time building and writing the record took."""
        self.release(stream)
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running event loop
            task = None
        if task is None or task.done():
            self._release_entry(stream, _Held(make, after), held=False)
            return
        entry = self._held[stream] = _Held(make, after)
        task.add_done_callback(lambda _t: self._release_entry(stream, entry))

    def offer(self, event: Event) -> bool:
        """Keep ``event`` behind its stream's held record; False when none is held (write it)."""
        stream = getattr(event, "stream", None)
        entry = self._held.get(stream) if stream is not None else None
        if entry is None:
            return False
        entry.behind.append(event)
        return True

    def release(self, stream: str) -> None:
        """Write the stream's held record and the events behind it now (its chain has run)."""
        entry = self._held.get(stream)
        if entry is not None:
            self._release_entry(stream, entry)

    def release_all(self) -> None:
        for stream in list(self._held):
            self.release(stream)

    def _release_entry(self, stream: str, entry: _Held, *, held: bool = True) -> None:
        if held:
            if self._held.get(stream) is not entry:
                return  # released already (the stream's next hook came first)
            del self._held[stream]
        t0 = time.perf_counter()
        try:
            record = entry.make()
        except Exception:  # never lose the events behind it
            log.exception("tearline ws_trace: a held record could not be built")
        else:
            self._write(record)
        if entry.after is not None:
            try:
                entry.after(time.perf_counter() - t0)
            except Exception:
                log.exception("tearline ws_trace: measuring a held record failed")
        for event in entry.behind:
            self._write(event)
