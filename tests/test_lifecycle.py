"""The WebSocket close state machine."""

from __future__ import annotations

import itertools

import pytest

from tearline.events import WsClose, event_from_dict, event_to_dict
from tearline.lifecycle import TRANSITIONS, WsInput, WsLifecycle, ws_close_fields


def test_table_is_total():
    states = {s for s, _ in TRANSITIONS} | {n for n, _ in TRANSITIONS.values()}
    for state, kind in itertools.product(states, ("frame", "proxy", "drop")):
        assert (state, kind) in TRANSITIONS


def test_client_close_answered_by_server():
    f = ws_close_fields([WsInput("frame", "client", 4001, "bye"), WsInput("frame", "server", 4001, "bye")])
    assert f["code"] == 4001 and f["closed_by"] == "client" and f["frame"] and f["answered"]
    assert f["answered_by"] == "server"


def test_unanswered_close_then_drop():
    f = ws_close_fields(
        [WsInput("frame", "server", 1001, "going away"), WsInput("drop", "client", how="rst")]
    )
    assert f["closed_by"] == "server" and f["answered"] is False and f["transport_end"] == "rst"


def test_repeated_close_from_the_closer_is_not_an_answer():
    lc = WsLifecycle()
    lc.feed(WsInput("frame", "client", 1000))
    assert lc.feed(WsInput("frame", "client", 1000)) == "ignore"
    assert lc.answered is False and lc.state == "closing"


def test_proxy_answers_on_behalf():
    f = ws_close_fields([WsInput("frame", "server", 4000, "x"), WsInput("proxy", "server", 4000)])
    assert f["answered"] and f["answered_by"] == "proxy" and f["closed_by"] == "server"


def test_proxy_first_close():
    f = ws_close_fields([WsInput("proxy", "client", 4002, "fault")])
    assert f["closed_by"] == "proxy" and f["code"] == 4002


def test_no_frame_at_all():
    f = ws_close_fields([WsInput("drop", "server", how="fin"), WsInput("frame", "client", 1000)])
    assert f == {
        "code": 1006,
        "reason": "",
        "closed_by": "server",
        "frame": False,
        "answered": None,
        "answered_by": None,
        "transport_end": "fin",
    }


FRAME, DROP, PROXY = (
    WsInput("frame", "client", 1000),
    WsInput("drop", "server", how="rst"),
    WsInput("proxy", "client", 1000),
)


@pytest.mark.parametrize(
    ("seq", "closed_by", "code", "answered_by"),
    [
        # whoever acts first closed it; a drop first leaves no close frame (1006) and nothing to answer
        ((FRAME, DROP, PROXY), "client", 1000, "proxy"),
        ((FRAME, PROXY, DROP), "client", 1000, "proxy"),
        ((DROP, FRAME, PROXY), "server", 1006, None),
        ((DROP, PROXY, FRAME), "server", 1006, None),
        ((PROXY, FRAME, DROP), "proxy", 1000, "client"),
        ((PROXY, DROP, FRAME), "proxy", 1000, "client"),
    ],
)
def test_fields_build_a_valid_event(seq, closed_by, code, answered_by):
    fields = ws_close_fields(seq)
    assert (fields["closed_by"], fields["code"], fields["answered_by"]) == (closed_by, code, answered_by)
    assert fields["frame"] is (code != 1006) and fields["answered"] is (True if answered_by else None)
    assert fields["transport_end"] == "rst"
    event = WsClose(ts=0.0, mono=0.0, **fields)  # the fields make a valid capture event ...
    assert event_from_dict(event_to_dict(event)) == event  # ... that survives the capture format
