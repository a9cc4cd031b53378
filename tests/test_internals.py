"""addons.internals: every mitmproxy/wsproto internal tearline touches is listed, still there, and patched once."""

from __future__ import annotations

import asyncio

import pytest
from tearline.addons import internals


def test_the_installed_releases_are_the_verified_ones() -> None:
    """Upgrading? Run test_every_listed_internal_still_exists, re-read what it names, then bump these."""
    import mitmproxy.version
    import wsproto

    assert mitmproxy.version.VERSION == internals.MITMPROXY
    assert wsproto.__version__ == internals.WSPROTO


def test_every_listed_internal_still_exists_with_its_parameters() -> None:
    problems = internals.check()
    assert problems == [], "mitmproxy internals changed:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("changed", "says"),
    [
        (
            internals.Internal("mitmproxy.proxy.server:ConnectionHandler.gone", None, "read", "x"),
            "no attribute",
        ),
        (
            internals.Internal(
                "mitmproxy.proxy.server:ConnectionHandler.server_event", ("self",), "patched", "x"
            ),
            "parameters ('self', 'event'), verified with ('self',)",
        ),
        (internals.Internal("mitmproxy.proxy.nowhere:X.y", None, "read", "x"), "not found"),
    ],
)
def test_a_changed_internal_is_named(
    monkeypatch: pytest.MonkeyPatch, changed: internals.Internal, says: str
) -> None:
    monkeypatch.setattr(internals, "INTERNALS", (*internals.INTERNALS, changed))
    problems = internals.check()
    assert len(problems) == 1
    assert problems[0].startswith(changed.where) and says in problems[0], problems[0]


def test_every_patch_target_is_listed_as_patched() -> None:
    patched = {i.where for i in internals.INTERNALS if i.use == "patched"}
    assert {p.where for p in internals.PATCHES} == patched


def test_patches_apply_once_in_the_listed_order() -> None:
    from mitmproxy.proxy.layers.websocket import WebsocketLayer

    internals.apply()
    first = WebsocketLayer.relay_messages
    internals.apply()
    assert WebsocketLayer.relay_messages is first  # not wrapped twice
    # the outermost relay_messages is the last one listed; the original is reachable for check()
    assert first.__module__ == "tearline.addons.relay"
    assert first._tearline_original.__module__ == "mitmproxy.proxy.layers.websocket"


def test_read_wrappers_keep_their_order_whoever_comes_first() -> None:
    asyncio.run(_read_wrappers_in_order())


async def _read_wrappers_in_order() -> None:
    reader = asyncio.StreamReader()
    calls: list[str] = []

    def layer(name: str):  # type: ignore[no-untyped-def]
        def wrap(orig):  # type: ignore[no-untyped-def]
            async def read(n: int = -1) -> bytes:
                calls.append(name)
                return await orig(n)

            return read

        return wrap

    assert internals.wrap_read(reader, "count", layer("count"))
    assert not internals.wrap_read(reader, "count", layer("count"))  # once
    assert internals.wrap_read(reader, "delay", layer("delay"))
    reader.feed_data(b"x")
    assert await reader.read(1) == b"x"
    assert calls == ["delay", "count"]  # outer first
    late = asyncio.StreamReader()
    internals.wrap_read(late, "delay", layer("delay"))
    with pytest.raises(RuntimeError, match="'count' must be applied before 'delay'"):
        internals.wrap_read(late, "count", layer("count"))
