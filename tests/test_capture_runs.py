"""Plain WebSocket messages folded into per-stream runs (``load_capture(fold=True)``, what
``tearline diagnose`` and ``tearline report`` read) give exactly what one observation per message gave:
the same observations once materialised, the same diagnosis JSON and the same timeline, on captures
generated from the bench seed, on a capture with messages of every shape, and on the pinned lab
recordings with every evidence source beside the captures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from tearline.analysis.diagnose.align import Alignment, apply_offsets
from tearline.analysis.diagnose.diagnosis import diagnose
from tearline.analysis.evidence.caddyconfig import load_caddy_config
from tearline.analysis.evidence.capture import load_capture
from tearline.analysis.evidence.load import load_evidence
from tearline.analysis.evidence.observation import SourceRecord

from tearline.capture import make_header
from tests import test_capture_fast_path
from tests.test_capture_fast_path import generated
from tests.test_diagnosis_pinned import unpack


def varied(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``test_capture_fast_path.varied`` with the header's clocks at the events' own: its messages'
    times are then plain relative numbers, taken by the fast path (and folded)."""
    monkeypatch.setattr(
        test_capture_fast_path,
        "make_header",
        lambda **kw: make_header(started=1_700_000_000.0, mono_started=50.0, **kw),
    )
    return test_capture_fast_path.varied(path)


# the plain messages of f1 and f2 per direction (a message naming another connection is decoded the usual way)
RUNS = [("f1", "client", 2), ("f1", "server", 3), ("f2", "client", 1), ("f2", "server", 1)]


def same_diagnosis(folded: list[SourceRecord], unfolded: list[SourceRecord], timers: list = ()) -> None:  # type: ignore[assignment,type-arg]
    fast, slow = diagnose(folded, timers=timers), diagnose(unfolded, timers=timers)
    assert fast.to_dict() == slow.to_dict()
    pd.testing.assert_frame_equal(fast.timeline, slow.timeline)


def test_runs_hold_the_messages_as_observations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in (varied(tmp_path / "v.jsonl", monkeypatch), generated(tmp_path / "g.jsonl", 3000)):
        folded, unfolded = load_capture(path, fold=True), load_capture(path)
        assert folded.runs and len(folded.observations) < len(unfolded.observations)
        assert folded.all_observations() == unfolded.observations, path.name
        assert [o.where for o in folded.all_observations()] == [o.where for o in unfolded.observations]
        assert folded.size == len(unfolded.observations)
    v = load_capture(tmp_path / "v.jsonl", fold=True)
    # binary, payload-carrying and tampered messages stay observations; the plain ones are runs
    frames = [o for o in v.observations if o.kind.startswith("ws_frame")]
    assert {o.text for o in frames} == {"text", "binary"} and len(frames) == 6
    assert sorted((r.stream_key, r.direction, len(r)) for r in v.runs) == RUNS


@pytest.mark.parametrize("events", [300, 3000])
def test_same_diagnosis_on_bench_captures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, events: int
) -> None:
    path = generated(tmp_path / "g.jsonl", events)
    same_diagnosis([load_capture(path, fold=True)], [load_capture(path)])
    v = varied(tmp_path / "v.jsonl", monkeypatch)
    same_diagnosis([load_capture(v, fold=True)], [load_capture(v)])


def test_shifted_runs_move_with_their_record(tmp_path: Path) -> None:
    path = generated(tmp_path / "g.jsonl", 600)
    shift = Alignment(reference=None, offsets=(0.25,), measured=(0.25,), residual_skew=(None,), pairs=(0,))
    folded = apply_offsets([load_capture(path, fold=True)], shift)[0]
    unfolded = apply_offsets([load_capture(path)], shift)[0]
    assert folded.all_observations() == unfolded.observations
    assert folded.runs[0].t[0] == load_capture(path, fold=True).runs[0].t[0] + 0.25


@pytest.mark.parametrize("name", ["proxy_timeout", "connection_reset"])
def test_same_diagnosis_on_pinned_recordings(tmp_path: Path, name: str) -> None:
    d = unpack(name, tmp_path)
    captures = [d / "capture-browser.jsonl", d / "capture-backend.jsonl"]
    files = {
        "netlog": d / "netlog.json",
        "cdp": d / "cdp.jsonl",
        "har": d / "page.har",
        "console": d / "console.log",
        "caddy_log": d / "caddy.log",
    }
    timers = load_caddy_config(d / "caddy.json")
    folded = load_evidence(captures=captures, **files)  # what the CLI reads
    assert any(r.runs for r in folded)
    others = load_evidence(**files)
    unfolded = [load_capture(c) for c in captures] + others
    same_diagnosis(folded, unfolded, timers)
    # and each capture on its own
    for c in captures:
        same_diagnosis([load_capture(c, fold=True)], [load_capture(c)])


def test_the_timeline_is_built_when_read(tmp_path: Path) -> None:
    d = diagnose([load_capture(generated(tmp_path / "g.jsonl", 300), fold=True)])
    assert callable(d.__dict__["_timeline"])  # diagnose --json never pays for it
    n = len(d.timeline)
    assert n == d.sources[0].observations and isinstance(d.__dict__["_timeline"], pd.DataFrame)
    assert len(dataclasses.replace(d, notes=[]).timeline) == n
