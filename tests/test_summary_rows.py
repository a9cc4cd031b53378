"""``tearline summary`` builds its rows without pandas, and they are what ``df_streams`` gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tearline.analysis.summary.frames import df_streams
from tearline.analysis.summary.table import _FIELDS, STREAM_KINDS, _clean, summarize

from tearline.capture import read_capture
from tests.test_capture_fast_path import generated, varied


def by_frame(path: Path, kinds: tuple[str, ...] | None) -> list[dict[str, object]]:
    """The summary's streams as they were made before: through ``df_streams``' DataFrame."""
    df = df_streams(read_capture(path, totals=True), kinds=kinds)
    return [{k: _clean(k, rec[col]) for k, col in _FIELDS.items()} for rec in df.to_dict("records")]


def test_rows_are_those_of_the_frame(tmp_path: Path) -> None:
    for path in (varied(tmp_path / "v.jsonl"), generated(tmp_path / "g.jsonl", 2000)):
        for all_kinds in (False, True):
            got = summarize(str(path), all_kinds=all_kinds)["streams"]
            assert all(s.pop("proxy_cost") is None for s in got)  # generated: nothing measured
            assert got == by_frame(path, None if all_kinds else STREAM_KINDS)
            assert got, path.name
    streams = summarize(str(tmp_path / "g.jsonl"))["streams"]
    assert sum(s["client_messages"] + s["server_messages"] for s in streams) > 1500
    assert all(type(s["client_messages"]) is int for s in streams)


def test_summary_does_not_import_pandas() -> None:
    code = "import sys, tearline.analysis.summary.table; sys.exit('pandas' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
