"""A fault as armed in a proxy run: its validated spec, run-time state, and the record of a firing (pure).

``FaultSpec`` is one validated ``[[fault]]`` (``tearline.faults.scenario`` builds it);
``ArmedFault`` adds the armed flag, its seeded RNG (probability draws, jitter) and the
streams it fired on; ``Firing`` is what one firing produces: the record for the
capture's ``fault_fired`` and the effects to carry out. ``TERMINAL`` effects end a stream.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

from tearline.faults.effects import Abort, Close, Effect, Respond, Truncate
from tearline.faults.triggers import Trigger

__all__ = ["TERMINAL", "ArmedFault", "FaultSpec", "Firing"]

TERMINAL = (Close, Abort, Truncate, Respond)


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultSpec:
    """One validated ``[[fault]]``: its id (``file#n`` or ``cli#n``), the fault and its trigger."""

    fault_id: str
    fault: Any  # an instance of a class in FAULTS
    trigger: Trigger = field(default_factory=Trigger)

    @property
    def action(self) -> str:
        return str(self.fault.name)

    def fault_params(self) -> dict[str, Any]:
        return {f.name: getattr(self.fault, f.name) for f in dataclasses.fields(self.fault)}

    def params(self) -> dict[str, Any]:
        """Fault parameters and the trigger keys set, as recorded in ``fault_armed``/``fault_fired``."""
        return {**self.fault_params(), **self.trigger.as_params()}


@dataclass(frozen=True, kw_only=True, slots=True)
class Firing:
    """A fault fired (or applied) on a stream: record it, then carry out ``effects``."""

    fault_id: str
    action: str
    stream: str
    params: dict[str, Any]
    trigger: str  # what made it fire, e.g. "after_messages=3 (server): message 3 from server"
    effects: tuple[Effect, ...]


@dataclass(kw_only=True, slots=True)
class ArmedFault:
    """A spec plus its run-time state: armed flag, seeded RNG, streams it fired on."""

    spec: FaultSpec
    seed: int
    armed: bool = True
    streams: set[str] = field(default_factory=set)
    fired: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def may_fire(self, stream: str) -> bool:
        limit = self.spec.trigger.max_streams
        return self.armed and (limit is None or stream in self.streams or len(self.streams) < limit)

    def draw(self) -> bool:
        p = self.spec.trigger.probability
        return p >= 1.0 or self.rng.random() < p

    def params(self) -> dict[str, Any]:
        return {**self.spec.params(), "seed": self.seed}
