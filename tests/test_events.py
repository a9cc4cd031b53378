"""The event vocabulary: validation, dict round trip of every type."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings

from tearline import events as ev
from tests.event_strategies import any_event, event_strategy


@pytest.mark.parametrize("cls", list(ev.EVENT_TYPES.values()), ids=list(ev.EVENT_TYPES))
@settings(max_examples=30, deadline=None)
@given(data=__import__("hypothesis").strategies.data())
def test_every_type_round_trips_through_json(cls, data):
    event = data.draw(event_strategy(cls))
    d = ev.event_to_dict(event)
    assert next(iter(d)) == "type" and d["type"] == cls.type
    back = ev.event_from_dict(json.loads(json.dumps(d)))
    assert back == event


@settings(max_examples=200, deadline=None)
@given(any_event)
def test_none_fields_are_left_out(event):
    d = ev.event_to_dict(event)
    assert all(v is not None for v in d.values())
    assert d.get("payload_truncated", True) is not False


def test_type_names_are_unique_and_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "capture-format.md").read_text()
    assert len({c.type for c in ev.EVENT_TYPES.values()}) == len(ev.EVENT_TYPES)
    for name, cls in ev.EVENT_TYPES.items():
        assert f"`{name}`" in doc, name
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in doc, (name, f.name)


@pytest.mark.parametrize(
    ("cls", "kw", "word"),
    [
        (ev.ConnOpen, {"leg": "browser"}, "leg"),
        (ev.ConnClose, {"leg": "client", "how": "exploded"}, "how"),
        (ev.WsMessage, {"direction": "up", "size": 1}, "direction"),
        (ev.WsClose, {"code": 1000, "closed_by": "nobody"}, "closed_by"),
        (ev.WsClose, {"code": 1000, "transport_end": "x"}, "transport_end"),
        (ev.BodyChunk, {"size": 1, "payload": "x"}, "payload"),
        (ev.BodyEnd, {"complete": True, "how": "done"}, "how"),
        (ev.Relay, {"leg": "client", "observed": "fin", "action": "explode"}, "action"),
    ],
)
def test_bad_values_are_refused(cls, kw, word):
    with pytest.raises(ValueError, match=word):
        cls(ts=0.0, mono=0.0, **kw)


def test_from_dict_errors_are_readable():
    with pytest.raises(ValueError, match="unknown event type"):
        ev.event_from_dict({"type": "nope", "ts": 1, "mono": 1})
    with pytest.raises(ValueError, match="lacks field"):
        ev.event_from_dict({"type": "ws_message", "ts": 1, "mono": 1})
    with pytest.raises(ValueError, match="non-numeric ts"):
        ev.event_from_dict({"type": "anomaly", "ts": "x", "mono": 1, "text": "t"})
    e = ev.event_from_dict({"type": "anomaly", "ts": 1, "mono": 2, "text": "t", "future_field": 3})
    assert isinstance(e.ts, float) and e.text == "t"
