"""Property: garbage bytes, garbage JSON and damaged versions of valid files given to any importer only
ever produce a ``SourceRecord`` or tearline's own ``InputError`` with a one-line message."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tearline.analysis.evidence.caddylog import load_caddy_log
from tearline.analysis.evidence.capture import load_capture
from tearline.analysis.evidence.cdp import load_cdp
from tearline.analysis.evidence.console import load_console
from tearline.analysis.evidence.har import load_har
from tearline.analysis.evidence.load import load_evidence
from tearline.analysis.evidence.netlog.interpreter import load_netlog
from tearline.analysis.evidence.observation import SourceRecord
from tearline.analysis.explain.symptoms import explain

from tearline.errors import InputError, UsageError

IMPORTERS: dict[str, Callable[[Any], SourceRecord]] = {
    "netlog": load_netlog,
    "cdp": load_cdp,
    "har": load_har,
    "console": load_console,
    "caddy": load_caddy_log,
    "capture": load_capture,
    "sniffed-netlog": lambda p: load_evidence(netlog=p)[0],
    "sniffed-cdp": lambda p: load_evidence(cdp=p)[0],
}

SEEDS: dict[str, str] = {
    "netlog": '{"constants":{"logEventTypes":{"REQUEST_ALIVE":2,"CANCELLED":0,"FAILED":1,'
    '"WEBSOCKET_RECV_FRAME_HEADER":3,"SOCKET_BYTES_RECEIVED":4,"SOCKET_IN_USE":5,"HTTP_STREAM_REQUEST_BOUND_TO_JOB":6},'
    '"logSourceType":{"URL_REQUEST":1,"SOCKET":2},"logEventPhase":{"PHASE_BEGIN":1,"PHASE_END":2,"PHASE_NONE":0},'
    '"netError":{"ERR_ABORTED":-3},"timeTickOffset":1700000000000},\n"events": [\n'
    '{"params":{"url":"ws://a/x"},"phase":1,"source":{"id":1,"start_time":"1","type":1},"time":"1","type":2},\n'
    '{"params":{"source_dependency":{"id":9,"type":3}},"phase":0,"source":{"id":1,"start_time":"1","type":1},"time":"2","type":6},\n'
    '{"params":{"source_dependency":{"id":9,"type":3}},"phase":1,"source":{"id":7,"start_time":"1","type":2},"time":"2","type":5},\n'
    '{"params":{"byte_count":4,"bytes":"iAIPoQ=="},"phase":0,"source":{"id":7,"start_time":"1","type":2},"time":"3","type":4},\n'
    '{"params":{"opcode":8,"payload_length":2},"phase":0,"source":{"id":1,"start_time":"1","type":1},"time":"3","type":3},\n'
    '{"phase":0,"source":{"id":1,"start_time":"1","type":1},"time":"4","type":0},\n'
    "]}\n",
    "cdp": '{"method":"Network.requestWillBeSent","params":{"requestId":"1","timestamp":1.5,"wallTime":1700000000.5,'
    '"request":{"url":"https://a/s","method":"POST"},"type":"Fetch"}}\n'
    '{"method":"Network.webSocketFrameReceived","params":{"requestId":"1","timestamp":2,"response":{"opcode":2,"payloadData":"AAE="}}}\n'
    '{"method":"Network.loadingFailed","params":{"requestId":"1","timestamp":3,"errorText":"net::ERR_FAILED"}}\n'
    '{"method":"Log.entryAdded","params":{"entry":{"text":"WebSocket connection to \'ws://a\' failed: x","timestamp":1700000000000}}}\n',
    "har": '{"log":{"version":"1.2","entries":[{"startedDateTime":"2026-01-01T00:00:00Z","time":5,'
    '"_resourceType":"websocket","request":{"method":"GET","url":"wss://a/ws"},"response":{"status":101,"_error":"net::ERR_ABORTED"},'
    '"timings":{"wait":1},"_webSocketMessages":[{"type":"send","time":1767225600.5,"opcode":1,"data":"hi"}]}]}}',
    "console": "2026-01-01T00:00:00Z [error] WebSocket connection to 'ws://a/' failed: net::ERR_CONNECTION_RESET\n"
    '[1:2:0101/000001.5:INFO:CONSOLE(1)] "hi", source: http://a/ (1)\n1767225600.5 epoch\n',
    "caddy": '{"level":"warn","ts":1767225600.5,"logger":"http.handlers.reverse_proxy","msg":"aborting with incomplete response",'
    '"error":"reading: unexpected EOF","request":{"host":"a","uri":"/s"}}\n'
    '{"level":"info","ts":1767225601,"logger":"http.log.access.log0","msg":"handled request","status":200,"duration":0,'
    '"size":5,"request":{"host":"a","uri":"/s","method":"GET","proto":"HTTP/1.1"}}\n',
    "capture": '{"format":"tearline-capture","version":1,"tearline":"0.1.0","started":1,"mono_started":1,"mode":[],"options":{}}\n'
    '{"type":"conn_open","ts":1767225600.0,"mono":1.0,"conn":"c","leg":"client"}\n'
    '{"type":"ws_close","ts":1767225600.5,"mono":1.5,"conn":"c","stream":"f","code":1006,"frame":false}\n',
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)

# keys that matter to the importers, so random JSON reaches deep code paths
KEYS = ["constants", "events", "logEventTypes", "logSourceType", "timeTickOffset", "log", "entries", "method",
        "params", "message", "requestId", "timestamp", "wallTime", "ts", "msg", "logger", "format", "version",
        "type", "time", "source", "phase", "id", "url", "request", "response", "status", "_webSocketMessages"]  # fmt: skip
keyed_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**40), max_value=2**40) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS), children, max_size=6)
    ),
    max_leaves=40,
)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A valid seed with a few bytes replaced, deleted or inserted, or cut short."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))].encode())
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        op = draw(st.sampled_from(["replace", "delete", "insert", "cut"]))
        i = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
        if op == "replace" and data:
            data[i] = draw(st.integers(min_value=0, max_value=255))
        elif op == "delete" and data:
            del data[i : i + draw(st.integers(min_value=1, max_value=8))]
        elif op == "insert":
            data[i:i] = draw(
                st.sampled_from([b"{", b"}", b"]", b",", b'"', b"\n", b"null", b"-1e999", b"\xff\xfe"])
            )
        else:
            del data[i:]
    return bytes(data)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("fuzz"))


def check_all(workdir: Path, data: bytes) -> None:
    path = workdir / f"input-{os.getpid()}.bin"
    path.write_bytes(data)
    for name, importer in IMPORTERS.items():
        try:
            rec = importer(path)
        except InputError as e:
            msg = str(e)
            assert msg and "\n" not in msg and "\r" not in msg, (name, msg)
            assert str(path) in msg, (name, msg)
        else:
            assert isinstance(rec, SourceRecord), name
            assert all(o.t == o.t for o in rec.observations), name  # no NaN times


# TEARLINE_FUZZ_EXAMPLES raises the number of examples for a deeper run (default 150 per property).
EXAMPLES = int(os.environ.get("TEARLINE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=3000))
def test_garbage_bytes(workdir: Path, data: bytes) -> None:
    check_all(workdir, data)


@FUZZ
@given(value=json_values, lines=st.booleans())
def test_garbage_json(workdir: Path, value: Any, lines: bool) -> None:
    text = json.dumps(value)
    if lines and isinstance(value, list):
        text = "\n".join(json.dumps(v) for v in value)
    check_all(workdir, text.encode())


@FUZZ
@given(
    value=keyed_json, wrap=st.sampled_from(["plain", "netlog", "har", "cdp-lines", "caddy-lines", "capture"])
)
def test_json_with_the_right_keys_in_the_wrong_shape(workdir: Path, value: Any, wrap: str) -> None:
    if wrap == "netlog":
        text = (
            '{"constants":{"logEventTypes":{"REQUEST_ALIVE":2},"timeTickOffset":5},\n"events": [\n'
            + json.dumps(value)
            + ",\n]}"
        )
    elif wrap == "har":
        text = json.dumps({"log": {"entries": [value]}})
    elif wrap == "cdp-lines":
        text = (
            json.dumps({"method": "Network.loadingFailed", "params": value})
            + "\n"
            + json.dumps({"method": "Page.frameNavigated", "params": value})
        )
    elif wrap == "caddy-lines":
        text = json.dumps(
            {
                "ts": 1767225600,
                "msg": "handled request",
                "logger": "http.log.access",
                "request": value,
                "status": value,
            }
        )
    elif wrap == "capture":
        text = '{"format":"tearline-capture","version":1}\n' + json.dumps(value)
    else:
        text = json.dumps(value)
    check_all(workdir, text.encode())


@FUZZ
@given(data=damaged())
def test_damaged_valid_files(workdir: Path, data: bytes) -> None:
    check_all(workdir, data)


def test_seeds_are_valid(workdir: Path) -> None:
    """The seeds really are valid files, so damaging them explores the importers' inner code."""
    for name, text in SEEDS.items():
        path = workdir / f"seed-{name}"
        path.write_text(text)
        loader = {"caddy": load_caddy_log}.get(name) or IMPORTERS[name]
        assert loader(path).observations, name


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_explain_never_crashes(text: str) -> None:
    try:
        e = explain(text)
    except UsageError as err:
        assert "\n" not in str(err)
    else:
        assert e.meaning
