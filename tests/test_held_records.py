"""addons/held_records.py: a record held until the hook task that made it has finished (pure asyncio)."""

from __future__ import annotations

import asyncio
from typing import Any

from tearline.addons.held_records import HeldRecords

from tearline.events import Anomaly, Event, WsMessage


def msg(stream: str, state: dict[str, Any]) -> WsMessage:
    return WsMessage(ts=1.0, mono=1.0, stream=stream, direction="server", size=1, dropped=state["dropped"])


def note(stream: str | None, text: str) -> Anomaly:
    return Anomaly(ts=2.0, mono=2.0, stream=stream, text=text)


def test_outside_a_task_the_record_is_written_at_once() -> None:
    out: list[Event] = []
    held = HeldRecords(out.append)
    held.hold("s", lambda: msg("s", {"dropped": False}))
    assert len(out) == 1 and len(held) == 0
    assert held.offer(note("s", "after")) is False


def test_record_waits_for_the_hook_task_and_sees_the_final_state() -> None:
    out: list[Event] = []
    held = HeldRecords(out.append)
    state = {"dropped": False}

    async def chain() -> None:  # like mitmproxy's hook_task: recorder, then an addon after it
        held.hold("s", lambda: msg("s", state))
        assert held.offer(note("s", "fault fired")) is True  # same stream: waits behind
        assert held.offer(note("other", "elsewhere")) is False  # another stream: written at once
        await asyncio.sleep(0.01)  # an async hook later in the chain
        state["dropped"] = True  # e.g. msg.drop() in addons/faults.py

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(chain())
        await task
        assert out == []  # the done callback has not run yet
        await asyncio.sleep(0)

    asyncio.run(main())
    assert [type(e).__name__ for e in out] == ["WsMessage", "Anomaly"]
    assert out[0].dropped is True  # type: ignore[attr-defined]
    assert out[1].text == "fault fired"  # type: ignore[attr-defined]


def test_next_hook_of_the_stream_releases_the_previous_record_first() -> None:
    out: list[Event] = []
    held = HeldRecords(out.append)

    async def first() -> None:
        held.hold("s", lambda: note("s", "one"))
        held.offer(note("s", "one-behind"))
        # the next message's hook starts (eagerly) before this task is done
        await asyncio.get_running_loop().create_task(second())

    async def second() -> None:
        held.hold("s", lambda: note("s", "two"))

    async def main() -> None:
        await asyncio.get_running_loop().create_task(first())
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert [e.text for e in out] == ["one", "one-behind", "two"]  # type: ignore[attr-defined]


def test_release_all_and_a_failing_record_keeps_the_events_behind() -> None:
    out: list[Event] = []
    held = HeldRecords(out.append)

    def broken() -> Event:
        raise ValueError("boom")

    async def main() -> None:
        held.hold("a", broken)
        held.offer(note("a", "behind a"))
        held.hold("b", lambda: note("b", "b"))
        held.release_all()
        assert len(held) == 0

    asyncio.run(main())
    assert [e.text for e in out] == ["behind a", "b"]  # type: ignore[attr-defined]
