"""The capture importer's fast path (version-2 WebSocket message lines straight to observations,
``read_capture(sink=...)``) gives exactly what the event path gave: the same observations, the
same diagnosis and timeline; a damaged message line is still an error naming its line."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from tearline.analysis.diagnose.diagnosis import diagnose
from tearline.analysis.evidence.capture import HANDLERS, _State, load_capture
from tearline.analysis.evidence.observation import Observation, SourceRecord

from tearline import events as ev
from tearline.capture import CaptureWriter, make_header, read_capture
from tearline.errors import InputError

REPO = Path(__file__).resolve().parent.parent


def by_events(path: Path) -> list[Observation]:
    """The importer as it was before the fast path: every event object through ``HANDLERS``."""
    cap = read_capture(path)
    rec = SourceRecord(name="capture", path=str(path))
    state = _State(rec)
    for i, event in enumerate(cap.events, start=2):
        handler = HANDLERS.get(type(event))
        if handler is not None:
            handler(state, event, f"line {i}")
    rec.observations.sort(key=lambda o: o.t)
    return rec.observations


def generated(path: Path, events: int, version: int = 2) -> Path:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from gen_capture import generate
    finally:
        sys.path.remove(str(REPO / "bench"))
    generate(path, events, streams=4, version=version)
    return path


def varied(path: Path) -> Path:
    """Messages of every shape the fast path takes or declines, two streams on one connection,
    a leg and a URL that become known between messages."""
    w = CaptureWriter(path, make_header(mode=["reverse:http://127.0.0.1:1"]))
    t, m = 1_700_000_000.0, 50.0
    msg = ev.WsMessage
    events: list[ev.Event] = [
        ev.ConnOpen(ts=t, mono=m, conn="c1", leg="client"),
        ev.HttpRequest(ts=t + 0.1, mono=m + 0.1, conn="c1", stream="f1", method="GET", url="http://a.test/ws?x=1"),
        ev.HttpResponse(ts=t + 0.2, mono=m + 0.2, conn="c1", stream="f1", status=101, kind="ws"),
        msg(ts=t + 0.3, mono=m + 0.3, conn="c1", stream="f1", direction="client", size=5),
        msg(ts=t + 0.31, mono=m + 0.31, conn="c1", stream="f1", direction="server", size=7, index=3),
        msg(ts=t + 0.32, mono=m + 0.32, conn="c1", stream="f1", direction="server", size=3, opcode="binary"),
        msg(ts=t + 0.33, mono=m + 0.33, conn="c1", stream="f1", direction="client", size=2, payload="hi",
            payload_encoding="utf-8"),
        msg(ts=t + 0.34, mono=m + 0.34, conn="c1", stream="f1", direction="server", size=4, payload="AAECAw==",
            payload_encoding="base64", payload_truncated=True),
        msg(ts=t + 0.35, mono=m + 0.35, conn="c1", stream="f1", direction="server", size=9, injected=True),
        msg(ts=t + 0.36, mono=m + 0.36, conn="c1", stream="f1", direction="client", size=9, dropped=True),
        msg(ts=t + 0.37, mono=m + 0.37, conn="c9", stream="f1", direction="client", size=1),  # another conn
        msg(ts=t + 0.38, mono=m + 0.38, conn=None, stream="f1", direction="client", size=1),  # none at all
        ev.ConnOpen(ts=t + 0.4, mono=m + 0.4, conn="c2", leg="server"),
        ev.HttpRequest(ts=t + 0.5, mono=m + 0.5, conn="c2", stream="f2", method="GET", url="http://a.test/b"),
        msg(ts=t + 0.6, mono=m + 0.6, conn="c2", stream="f2", direction="server", size=11),
        msg(ts=t + 0.6, mono=m + 0.6, conn="c1", stream="f1", direction="server", size=12),  # same time
        ev.HttpRequest(ts=t + 0.7, mono=m + 0.7, conn="c2", stream="f3", method="GET", url="http://a.test/c"),
        msg(ts=t + 0.8, mono=m + 0.8, conn="c2", stream="f2", direction="client", size=13),  # f2 after f3 began
        ev.ConnClose(ts=t + 0.9, mono=m + 0.9, conn="c2", leg="server", by="peer", how="rst", error="reset"),
        msg(ts=t + 1.0, mono=m + 1.0, conn="c1", stream="f1", direction="client", size=14),
        ev.WsClose(ts=t + 1.1, mono=m + 1.1, conn="c1", stream="f1", code=1000, closed_by="client", answered=True),
        ev.ConnClose(ts=t + 1.2, mono=m + 1.2, conn="c1", leg="client", by="peer", how="fin"),
    ]  # fmt: skip
    for e in events:
        w.write(e)
    w.close(ts=t + 2, mono=m + 2)
    return path


def test_observations_are_those_of_the_event_path(tmp_path: Path) -> None:
    for path in (varied(tmp_path / "v.jsonl"), generated(tmp_path / "g.jsonl", 3000)):
        fast = load_capture(path)
        slow = by_events(path)
        assert fast.observations == slow, path.name
        assert [o.where for o in fast.observations] == [o.where for o in slow]  # same order as well
        assert fast.meta["events"] == len(read_capture(path).events)
    obs = load_capture(tmp_path / "v.jsonl").observations
    frames = [o for o in obs if o.kind.startswith("ws_frame")]
    assert len(frames) == 13
    assert {o.payload for o in frames} == {None, "hi"}  # base64 payloads are not text
    assert [o.tampered for o in frames if o.tampered] == ["injected", "dropped"]
    assert sum(o.text == "binary" for o in frames) == 1
    reset = next(o for o in obs if o.kind == "socket_closed" and o.how == "rst")
    assert reset.stream_key == "f2"  # the last stream the connection carried


def test_diagnosis_and_timeline_unchanged(tmp_path: Path) -> None:
    path = generated(tmp_path / "g.jsonl", 3000)
    fast = diagnose([load_capture(path)])
    slow_rec = SourceRecord(name="capture", path=str(path), clock="proxy wall clock")
    slow_rec.observations = by_events(path)
    slow_rec.meta = load_capture(path).meta
    slow = diagnose([slow_rec])
    assert fast.to_dict() == slow.to_dict()
    assert len(fast.streams) >= 4
    pd.testing.assert_frame_equal(fast.timeline, slow.timeline)
    # a version-1 file of the same events goes through the event path only: same diagnosis
    old = diagnose([load_capture(generated(tmp_path / "g1.jsonl", 3000, version=1))]).to_dict()
    new = fast.to_dict()
    for d in (old, new):
        for s in d["sources"]:
            s["path"] = s["observations"] = None
            s["warnings"] = [w.replace("g1.jsonl", "g.jsonl") for w in s["warnings"]]
    assert old == new


def test_a_damaged_message_line_is_still_an_error(tmp_path: Path) -> None:
    path = varied(tmp_path / "v.jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    bad = b'{"type":"ws_message","ts":0.5,"mono":0.5,"stream":0,"direction":"up","size":3}\n'
    path.write_bytes(b"".join([*lines[:-1], bad, lines[-1]]))
    with pytest.raises(InputError) as info:
        load_capture(path)
    assert f":{len(lines)}" in str(info.value) and "direction" in str(info.value)
