"""The streaming NetLog reader: tiny read chunks, torn tails, garbage in the middle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tearline.analysis.evidence.netlog.reader as reader
from tearline.analysis.evidence.netlog.reader import NetLogStream

from tearline.errors import InputError

CONSTANTS = {"logEventTypes": {"A": 1}, "timeTickOffset": 5}


def write(tmp_path: Path, events: list[object], tail: str = "\n]}\n") -> Path:
    p = tmp_path / "n.json"
    p.write_text(
        '{"constants":'
        + json.dumps(CONSTANTS)
        + ',\n"events": [\n'
        + ",\n".join(map(json.dumps, events))
        + tail
    )
    return p


def ev(i: int) -> dict[str, object]:
    return {
        "phase": 0,
        "source": {"id": i, "type": 1},
        "time": str(100 + i),
        "type": 1,
        "params": {"n": 12345678901},
    }


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_any_chunk_size_reads_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(reader, "CHUNK", chunk)
    p = write(tmp_path, [ev(i) for i in range(50)])
    log = NetLogStream(p)
    got = list(log.events())
    assert [i for i, _ in got] == list(range(50)) and got[7][1]["params"] == {"n": 12345678901}
    assert not log.truncated and log.constants == CONSTANTS


def test_malformed_items_are_counted_not_fatal(tmp_path: Path) -> None:
    p = write(tmp_path, [ev(1), [1, 2], {"no": "type"}, ev(2)])
    log = NetLogStream(p)
    assert len(list(log.events())) == 2 and log.skipped == 2 and "2 malformed" in log.warnings[0]


def test_torn_tail_vs_garbage_in_the_middle(tmp_path: Path) -> None:
    p = write(tmp_path, [ev(1), ev(2)], tail=',\n{"phase":0,"sou')
    log = NetLogStream(p)
    assert len(list(log.events())) == 2 and log.truncated
    bad = write(tmp_path, [ev(1)], tail=",\nnot json at all,\n" + json.dumps(ev(3)) + "\n]}")
    with pytest.raises(InputError, match="malformed event 1"):
        list(NetLogStream(bad).events())
