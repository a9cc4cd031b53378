"""The capture file: writer, reader, versions, torn lines, malformed lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tearline import capture as capmod
from tearline.capture import FORMAT_VERSION, CaptureWriter, make_header, read_capture
from tearline.errors import InputError, UnsupportedVersion
from tearline.events import Anomaly, CaptureEnd, WsMessage
from tests.event_strategies import any_event


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(any_event, max_size=25))
def test_every_event_type_round_trips_through_writer_and_reader(tmp_path, events):
    path = tmp_path / "rt.jsonl"
    w = CaptureWriter(path, make_header(mode=["reverse:http://x"], options={"a": 1}))
    for e in events:
        w.write(e)
    w.close()
    cap = read_capture(path)
    assert cap.complete and not cap.warnings
    assert cap.header["mode"] == ["reverse:http://x"] and cap.header["version"] == FORMAT_VERSION
    assert cap.events[:-1] == events
    assert isinstance(cap.events[-1], CaptureEnd) and cap.events[-1].events == len(events)


def _write(tmp_path: Path, n: int = 3) -> Path:
    path = tmp_path / "c.jsonl"
    w = CaptureWriter(path, make_header())
    for i in range(n):
        w.write(WsMessage(ts=float(i), mono=float(i), direction="client", size=i, index=i))
    w.flush()
    return path


def test_torn_last_line_is_dropped_with_a_warning(tmp_path):
    path = _write(tmp_path)
    with open(path, "a") as fh:
        fh.write('{"type":"ws_message","ts":1.0,"mo')
    cap = read_capture(path)
    assert len(cap.events) == 3 and not cap.complete
    assert any("torn last line" in w and ":5" in w for w in cap.warnings)
    with pytest.raises(InputError):
        read_capture(path, strict_tail=True)


def test_without_footer_events_are_kept(tmp_path):
    cap = read_capture(_write(tmp_path))
    assert len(cap.events) == 3 and not cap.complete
    assert any("no capture_end footer" in w for w in cap.warnings)


def test_newer_version_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "new.jsonl"
    path.write_text(json.dumps({**make_header(), "version": FORMAT_VERSION + 1, "tearline": "9.0"}) + "\n")
    with pytest.raises(UnsupportedVersion) as err:
        read_capture(path)
    msg = str(err.value)
    assert str(path) in msg and f"version {FORMAT_VERSION + 1}" in msg and "upgrade tearline" in msg


def test_malformed_middle_line_is_named(tmp_path):
    path = _write(tmp_path)
    lines = path.read_text().splitlines()
    lines.insert(2, "{not json")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        read_capture(path)
    assert f"{path}:3:" in str(err.value)


def test_bad_event_is_named(tmp_path):
    path = _write(tmp_path, 1)
    with open(path, "a") as fh:
        fh.write(
            json.dumps({"type": "ws_message", "ts": 1, "mono": 1, "direction": "sideways", "size": 1}) + "\n"
        )
    with pytest.raises(InputError, match=r":3: .*direction"):
        read_capture(path)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "empty"),
        ("hello\n", "not JSON"),
        ('{"a": 1}\n', "not a tearline capture"),
        ('{"format":"tearline-capture","version":"x"}\n', "version"),
    ],
)
def test_bad_headers(tmp_path, content, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=words):
        read_capture(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_capture(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="directory"):
        read_capture(tmp_path)


def test_migrations_apply_to_older_versions(tmp_path, monkeypatch):
    monkeypatch.setattr(capmod, "FORMAT_VERSION", 2)
    monkeypatch.setitem(
        capmod.MIGRATIONS,
        1,
        lambda obj, kind: (
            {**obj, "migrated": True} if kind == "header" else {**obj, "text": obj["text"].upper()}
        ),
    )
    path = tmp_path / "old.jsonl"
    path.write_text(
        json.dumps({**make_header(), "version": 1})
        + "\n"
        + json.dumps({"type": "anomaly", "ts": 1, "mono": 1, "text": "x"})
        + "\n"
    )
    cap = read_capture(path)
    assert cap.source_version == 1 and cap.header["migrated"]
    assert cap.events == [Anomaly(ts=1.0, mono=1.0, text="X")]


def test_writer_counts_and_flushes(tmp_path):
    path = tmp_path / "f.jsonl"
    w = CaptureWriter(path, make_header(), flush_interval=0.0)
    w.write(Anomaly(ts=1.0, mono=1.0, text="x"))
    assert len(path.read_text().splitlines()) == 2  # flushed without close
    w.close()
    w.close()  # idempotent
    assert w.closed and read_capture(path).events[-1].events == 1
