"""The per-stream decision engine: traffic in, effects out (pure; the caller supplies the clock).

The edge creates one ``Injector`` from the parsed scenario, calls ``open_stream``
for each request, then feeds the stream's life through the returned
``StreamFaults`` (``tearline.faults.stream_faults``; bodies in
``tearline.faults.body_faults``). Specs, armed state and firings are in
``tearline.faults.armed``; this module re-exports them. Times are monotonic seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from tearline.faults.armed import TERMINAL, ArmedFault, FaultSpec, Firing
from tearline.faults.body_faults import ChunkDecision
from tearline.faults.stream_faults import MessageDecision, StreamFaults

__all__ = [
    "TERMINAL",
    "ArmedFault",
    "ChunkDecision",
    "FaultSpec",
    "Firing",
    "Injector",
    "MessageDecision",
    "StreamFaults",
]


class Injector:
    """All armed faults of a proxy run."""

    def __init__(self, specs: Sequence[FaultSpec], *, seed_source: Callable[[], int] | None = None) -> None:
        pick = seed_source or (lambda: random.SystemRandom().randrange(2**31))
        self.faults: dict[str, ArmedFault] = {}
        for spec in specs:
            self.add(spec, seed=spec.trigger.seed if spec.trigger.seed is not None else pick())

    def add(self, spec: FaultSpec, *, seed: int) -> ArmedFault:
        af = ArmedFault(spec=spec, seed=seed)
        self.faults[spec.fault_id] = af
        return af

    def open_stream(
        self, stream: str, kind: str, now: float, matches: Callable[[FaultSpec], bool] = lambda s: True
    ) -> StreamFaults:
        """A stream (request) begins; ``matches`` evaluates each spec's ``match`` filter on it."""
        chosen = [af for af in self.faults.values() if matches(af.spec)]
        return StreamFaults(stream=stream, kind=kind, now=now, faults=chosen)
