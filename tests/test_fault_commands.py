"""addons/fault_commands.py: faults.list/arm/disarm/fire run as mitmproxy commands in a real mitmdump."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tearline.capture import read_capture
from tearline.events import event_to_dict
from tearline.lab.mitmdump import Mitmdump
from tests.conftest import wait_for
from tests.fault_clients import (
    FAULTS,
    arun,
    fired,
    ws_run,
)

# --- live control through mitmproxy commands --------------------------------------------------------

DRIVER = '''
import asyncio
from mitmproxy import ctx

class Driver:
    """Test helper: runs mitmproxy commands {delay} s after a WebSocket opens."""
    name = "test_driver"

    def websocket_start(self, flow):
        async def go():
            await asyncio.sleep({delay})
            for cmd in {commands!r}:
                ctx.master.commands.execute(cmd)
        asyncio.get_running_loop().create_task(go())

addons = [Driver()]
'''


def driven(
    recorder: Callable[..., Mitmdump], tmp_path: Path, faults: list[str], commands: list[str]
) -> Mitmdump:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(delay=1.0, commands=commands))
    return recorder(scripts=[FAULTS, script], options={"fault": faults})


def test_disarm_ends_a_stall_until_disarmed(recorder: Callable[..., Mitmdump], tmp_path: Path) -> None:
    proxy = driven(
        recorder, tmp_path, ["stall:stream=ws,direction=server,after_messages=1"], ["faults.disarm cli#1"]
    )
    r = arun(ws_run(proxy.ws_base + "/ws?n=4&interval_ms=50&end=close"))
    assert [m[0] for m in r["messages"]] == list("0123")
    assert r["times"][1] - r["times"][0] >= 0.7  # held until the command ran (~1 s after open)

    def armed_events() -> list[dict[str, object]]:
        capture = read_capture(proxy.capture)  # type: ignore[attr-defined]
        return [event_to_dict(e) for e in capture.events if e.type == "fault_armed"]

    wait_for(lambda: len(armed_events()) >= 2, "the armed and the disarmed fault_armed events")
    armed = armed_events()
    assert [a.get("armed", True) for a in armed] == [True, False]


def test_fire_and_list_commands(recorder: Callable[..., Mitmdump], tmp_path: Path) -> None:
    proxy = driven(
        recorder,
        tmp_path,
        ["close:stream=ws,after_messages=1000,code=4005"],
        ["faults.list", "faults.fire cli#1"],
    )
    r = arun(ws_run(proxy.ws_base + "/ws?n=100&interval_ms=20"))
    assert r["code"] == 4005 and 10 <= len(r["messages"]) < 100
    log = proxy.log_text()
    assert "cli#1 armed close" in log and "fired cli#1 on 1 stream(s)" in log
    ev = fired(proxy.capture)  # type: ignore[attr-defined]
    assert ev[0]["trigger"].endswith("fired by command")
