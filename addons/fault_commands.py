"""The fault addon's mitmproxy commands: ``faults.list``, ``faults.arm``, ``faults.disarm``, ``faults.fire``.

Usable from mitmdump scripts, the mitmproxy console and mitmweb. ``FaultCommands``
is a mixin of ``addons.faults.Faults``; arming and disarming are recorded as
``fault_armed``, firing as ``fault_fired``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from mitmproxy import command, exceptions
from tearline.addons.fault_live import Live

from tearline.events import FaultArmed
from tearline.faults.injector import Firing, Injector
from tearline.faults.scenario import one_line

__all__ = ["FaultCommands"]

log = logging.getLogger(__name__)


class FaultCommands:
    """Live control of the armed faults. Needs ``_emit`` and ``_execute`` from the addon."""

    injector: Injector
    live: dict[str, Live]

    _emit: Callable[..., None]  # provided by Faults
    _execute: Callable[[Live, Firing], None]  # provided by FaultActions

    @command.command("faults.list")  # type: ignore[untyped-decorator]
    def list_faults(self) -> Sequence[str]:
        """The armed and disarmed faults, one line each."""
        lines = []
        for af in self.injector.faults.values():
            state = "armed" if af.armed else "disarmed"
            lines.append(
                f"{af.spec.fault_id} {state} {af.spec.action} seed={af.seed} fired={af.fired} "
                f"streams={len(af.streams)}: {one_line(af.spec)}"
            )
        for line in lines:
            log.info(line)
        return lines

    def _get(self, fault_id: str) -> Any:
        af = self.injector.faults.get(fault_id)
        if af is None:
            raise exceptions.CommandError(
                f"no fault {fault_id!r}; known: {', '.join(self.injector.faults) or 'none'}"
            )
        return af

    @command.command("faults.arm")  # type: ignore[untyped-decorator]
    def arm(self, fault_id: str) -> None:
        """Arm a fault (it fires on new and live streams when its trigger holds)."""
        af = self._get(fault_id)
        af.armed = True
        self._emit(FaultArmed, fault_id=fault_id, action=af.spec.action, params=af.params(), armed=True)

    @command.command("faults.disarm")  # type: ignore[untyped-decorator]
    def disarm(self, fault_id: str) -> None:
        """Disarm a fault; stalls it started end now."""
        af = self._get(fault_id)
        af.armed = False
        self._emit(FaultArmed, fault_id=fault_id, action=af.spec.action, params=af.params(), armed=False)
        for live in list(self.live.values()):
            for key, end in list(live.stall_end.items()):
                if key[0] == fault_id:
                    end()

    @command.command("faults.fire")  # type: ignore[untyped-decorator]
    def fire(self, fault_id: str) -> int:
        """Fire a fault now on every live stream it matches; returns how many streams."""
        self._get(fault_id)
        n = 0
        for live in list(self.live.values()):
            if not live.faults.started or live.done:
                continue
            f = live.faults.fire(fault_id)
            if f is not None:
                n += 1
                with contextlib.suppress(Exception):
                    self._execute(live, f)
        log.info(f"tearline_faults: fired {fault_id} on {n} stream(s)")
        return n
