"""``tearline export --parquet``: a real capture (the committed lab recordings, recorded through real
mitmdump legs) written as Parquet and read back with pyarrow; compressed captures; bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pyarrow as pa  # the [parquet] extra, installed by `make setup` (the tests need it)
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner
from tearline.analysis.export import parquet as export
from tearline.analysis.summary.table import summarize

from tearline.capture import read_capture
from tearline.cli import cli

RECORDINGS = Path(__file__).resolve().parent / "recordings"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rec")
    with tarfile.open(RECORDINGS / "proxy_timeout.tar.gz") as tar:
        tar.extractall(d, filter="data")
    return d / "proxy_timeout"


def run_export(*args: str) -> Any:
    return CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)


def check_same(capture: Path, table: Any) -> None:
    """Every event of the capture is one row, in file order, with its values and types."""
    events = read_capture(capture).events
    assert table.num_rows == len(events) > 0
    schema = table.schema
    assert (schema.field("ts").type, schema.field("size").type) == (pa.float64(), pa.int64())
    assert (schema.field("type").type, schema.field("complete").type) == (pa.string(), pa.bool_())
    rows = table.to_pylist()
    kinds = set()
    for event, row in zip(events, rows, strict=True):
        kinds.add(event.type)
        assert (row["type"], row["ts"], row["mono"], row["conn"], row["stream"]) == (
            event.type,
            event.ts,
            event.mono,
            event.conn,
            event.stream,
        )
        for name in ("size", "direction", "index", "url", "method", "status", "code", "reason", "how"):
            if hasattr(event, name):
                assert row[name] == getattr(event, name), (event.type, name)
        if hasattr(event, "headers"):
            assert json.loads(row["headers"]) == [list(h) for h in event.headers]
        if not hasattr(event, "url"):
            assert row["url"] is None
    assert {"http_request", "ws_message", "ws_close", "conn_close"} <= kinds


def test_real_capture_reads_back_row_for_row(recording: Path, tmp_path: Path) -> None:
    out, streams = tmp_path / "events.parquet", tmp_path / "streams.parquet"
    for capture in ("capture-browser.jsonl", "capture-backend.jsonl"):
        result = run_export(str(recording / capture), "--parquet", str(out), "--streams", str(streams))
        assert result.exit_code == 0, result.output
        check_same(recording / capture, pq.read_table(out))
        assert (
            pq.read_table(streams).to_pylist()
            == summarize(str(recording / capture), all_kinds=True)["streams"]
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.parquet", "streams.parquet"]


def test_compressed_capture_and_small_batches(
    recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = recording / "capture-browser.jsonl"
    zst = tmp_path / "capture.jsonl.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    monkeypatch.setattr(export, "BATCH", 5)  # many batches: the capture is streamed, not held whole
    out = tmp_path / "z.parquet"
    assert export.export_parquet(zst, out) == len(read_capture(plain).events)
    assert pq.ParquetFile(out).num_row_groups > 3
    check_same(plain, pq.read_table(out))


@pytest.mark.parametrize(
    "content, words",
    [
        (b"not json\n", "the first line is not JSON"),
        (b'{"format": "tearline-capture", "version": 2}\n{"type": "ws_message"\n{}\n', "not valid JSON"),
    ],
)
def test_bad_capture_is_one_line_and_leaves_no_file(tmp_path: Path, content: bytes, words: str) -> None:
    bad, out = tmp_path / "bad.jsonl", tmp_path / "out.parquet"
    bad.write_bytes(content)
    res = subprocess.run(
        [sys.executable, "-m", "tearline.cli", "export", str(bad), "--parquet", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("Error: ") and words in res.stderr
    assert str(bad) in res.stderr and "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


def test_without_pyarrow_one_line_names_the_fix(recording: Path, tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['pyarrow'] = None; sys.modules['pyarrow.parquet'] = None\n"
        "from tearline.cli import main; main(sys.argv[1:])\n"
    )
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "export",
            str(recording / "capture-browser.jsonl"),
            "--parquet",
            str(tmp_path / "o.parquet"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "pyarrow" in res.stderr and "pip install 'tearline[parquet]'" in res.stderr
    assert not list(tmp_path.iterdir())


def test_missing_output_directory(recording: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["export", str(recording / "capture-browser.jsonl"), "--parquet", str(tmp_path / "no" / "o.parquet")],
    )
    assert result.exit_code == 2 and "is not a directory" in result.output
