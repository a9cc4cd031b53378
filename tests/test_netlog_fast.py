"""The NetLog importer's fast path (Chrome's layout read by lines, only the event types it reads
decoded: ``analysis/evidence/netlog/lines.py``) gives exactly what the importer gave before: the
same observations, meta and warnings, on the real seed, on real lab NetLogs (the committed
recordings, and a live one), on long generated logs, unterminated or cut anywhere; a damaged line
is still the same one-line error."""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import tearline.analysis.evidence.netlog.interpreter as interpreter
import tearline.analysis.evidence.netlog.reader as reader
from tearline.analysis.evidence.netlog.interpreter import load_netlog
from tearline.analysis.evidence.observation import SourceRecord

from tearline.errors import InputError

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "bench" / "seed_netlog.json"


def generated(path: Path, mb: float, *, unterminated: bool = False) -> Path:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from gen_netlog import generate
    finally:
        sys.path.remove(str(REPO / "bench"))
    generate(path, mb, unterminated=unterminated)
    return path


def as_before(path: Path, monkeypatch: pytest.MonkeyPatch) -> SourceRecord:
    """The importer as it was before the fast path: every event parsed by the general parser,
    every one interpreted, every value decoded one by one."""
    with monkeypatch.context() as m:
        m.setattr(reader, "chrome_head", lambda fh: None)
        m.setattr(interpreter, "wanted_types", lambda constants: None)
        m.setattr(interpreter.Interpreter, "feed", interpreter.Interpreter._feed_any)
        return load_netlog(path)


def same(path: Path, monkeypatch: pytest.MonkeyPatch) -> SourceRecord:
    fast, before = load_netlog(path), as_before(path, monkeypatch)
    assert fast.observations == before.observations
    assert (fast.meta, fast.warnings, fast.offset) == (before.meta, before.warnings, before.offset)
    return fast


def test_the_seed_and_a_long_log_from_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed = same(SEED, monkeypatch)
    assert {"ws_frame_received", "request_cancelled", "navigation"} <= {o.kind for o in seed.observations}
    long = same(generated(tmp_path / "n.json", 1.0), monkeypatch)
    assert long.meta["events"] > 5000 and len(long.observations) > 9 * len(seed.observations)
    assert long.meta["truncated"] is False and long.meta["first_t"] == seed.meta["first_t"]


@pytest.mark.parametrize("name", ["proxy_timeout", "connection_reset"])
def test_real_lab_netlogs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with tarfile.open(REPO / "tests" / "recordings" / f"{name}.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    r = same(tmp_path / name / "netlog.json", monkeypatch)
    assert r.observations and r.meta["browser"].startswith("Chromium")


@pytest.mark.browser
@pytest.mark.slow
def test_a_live_chromium_netlog(rec: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert same(rec.netlog, monkeypatch).observations


def test_unterminated_and_cut_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Chromium killed mid-write leaves no closing ']}': the events are kept, the log is truncated."""
    r = same(generated(tmp_path / "u.json", 0.5, unterminated=True), monkeypatch)
    assert r.meta["truncated"] is True and "did not finish writing" in r.warnings[0]
    data = generated(tmp_path / "full.json", 0.5).read_bytes()
    for i, cut in enumerate(range(60_000, len(data), len(data) // 7)):
        p = tmp_path / f"cut{i}.json"
        p.write_bytes(data[:cut])
        assert same(p, monkeypatch).meta["truncated"] is True


def test_unusual_lines_are_read_by_the_general_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line in another key order, two events on one line, a blank line: the scan hands over there."""
    lines = generated(tmp_path / "g.json", 0.3).read_bytes().split(b"\n")
    lines[500] = (
        b'{"type":'
        + lines[500].rsplit(b'"type":', 1)[1][:-2]
        + b","
        + lines[500][1:].rsplit(b',"type":', 1)[0]
        + b"},"
    )
    lines[900] = lines[900] + b" " + lines[901]
    del lines[901]
    lines.insert(1200, b"")
    p = tmp_path / "odd.json"
    p.write_bytes(b"\n".join(lines))
    r = same(p, monkeypatch)
    assert r.observations and r.meta["truncated"] is False


def test_the_scan_reads_every_event_line_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = generated(tmp_path / "g.json", 1.0)
    calls = []
    original = reader._Buffer.value
    monkeypatch.setattr(reader._Buffer, "value", lambda self, d: calls.append(1) or original(self, d))
    assert load_netlog(p).meta["events"] > 5000
    assert len(calls) <= 3  # only the keys after the events array ("polledData" and its value)


def damaged(tmp_path: Path, wanted_line: bool) -> tuple[Path, Path, int]:
    """A generated log, and a copy with the JSON of one event line broken (one the importer reads, or not)."""
    good = generated(tmp_path / "g.json", 0.3)
    lines = good.read_bytes().split(b"\n")
    wanted = interpreter.wanted_types(json.loads(lines[0][len(b'{"constants":') : -1]))
    at = next(
        i
        for i, line in enumerate(lines[2:1000], start=2)
        if (int(line.rsplit(b'"type":', 1)[1].rstrip(b"},]")) in wanted) == wanted_line
    )
    lines[at] = lines[at].replace(b'"source":{', b'"source":@{', 1)
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\n".join(lines))
    return good, bad, at - 2


def test_a_damaged_line_it_reads_is_the_same_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bad, index = damaged(tmp_path, wanted_line=True)
    with pytest.raises(InputError) as fast:
        load_netlog(bad)
    with pytest.raises(InputError) as before:
        as_before(bad, monkeypatch)
    assert str(fast.value) == str(before.value)
    msg = str(fast.value)
    assert "\n" not in msg and str(bad) in msg and f"malformed event {index}" in msg


def test_a_damaged_line_it_does_not_read_is_counted_not_checked(tmp_path: Path) -> None:
    """The price of never decoding the events it does not use: such a line's JSON is not checked."""
    good, bad, _ = damaged(tmp_path, wanted_line=False)
    g, b = load_netlog(good), load_netlog(bad)
    assert b.observations == g.observations and b.meta == g.meta
