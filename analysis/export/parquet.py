"""``tearline export CAPTURE --parquet OUT [--streams OUT]``: a capture as Parquet, for DuckDB or pandas.

The capture (plain, ``.gz`` or ``.zst``, any format version) is read once through
``tearline.capture.read_capture`` with a sink, so events go to the file in batches of
``BATCH`` rows and the capture is never held in memory whole. One row per event, one column per
event field of any type (``EVENT_COLUMNS``, from ``tearline.events``): ``type`` first, then
``ts``, ``mono``, ``conn``, ``stream`` and the rest; a field an event type does not have is null,
and a field it has holds its value (defaults included, as the event reads back).
Composite fields (``params``, ``headers``, ``extensions``) are JSON text; ``headers`` keeps its
``[[name, value], ...]`` shape.

``--streams OUT`` also writes the per-stream table of ``tearline summary --all --json`` (one row per
stream: kind, URL, counts, bytes, how it ended); it reads the capture a second time, with the data
events summed per stream as they are read.

pyarrow is an optional dependency (``pip install 'tearline[parquet]'``); without it the command
stops with one line saying so. The output is written to a temporary file beside ``OUT`` and
renamed at the end, so a capture that turns out to be damaged leaves no half-written file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import typing
from pathlib import Path
from typing import Any

import click
import orjson
from tearline.analysis.summary.table import summarize

from tearline.capture import read_capture
from tearline.capture_compact import CompactDecoder
from tearline.errors import UsageError
from tearline.events import EVENT_TYPES, Event

__all__ = ["BATCH", "EVENT_COLUMNS", "export_command", "export_parquet"]

BATCH = 65536  # rows per record batch (and per row group)


def _kind(hint: Any) -> str:
    """The column kind of a field's type hint: 'string', 'int', 'float', 'bool' or 'json'."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return _kind(args[0]) if len(args) == 1 else "json"
    if typing.get_origin(hint) is typing.Literal:
        return "string"
    return {str: "string", int: "int", float: "float", bool: "bool"}.get(hint, "json")


def _columns() -> dict[str, str]:
    cols: dict[str, str] = {"type": "string"}
    for cls in EVENT_TYPES.values():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = _kind(hints[f.name])
            if cols.setdefault(f.name, kind) != kind:
                cols[f.name] = "json"  # two event types disagree on the field's type: JSON text holds both
    return cols


EVENT_COLUMNS: dict[str, str] = _columns()
_JSON_SET = frozenset(name for name, kind in EVENT_COLUMNS.items() if kind == "json")
_FIELDS: dict[type[Event], tuple[str, ...]] = {}


def _arrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(
            "tearline export --parquet needs pyarrow, which is not installed",
            hint="pip install 'tearline[parquet]'",
        ) from None
    return pa, pq


class _Batches:
    """A ``read_capture`` sink that writes events to a Parquet file, ``BATCH`` rows at a time."""

    def __init__(self, writer: Any, schema: Any, pa: Any) -> None:
        self.writer, self.schema, self.pa = writer, schema, pa
        self.rows: list[dict[str, Any]] = []
        self.count = 0

    def line(self, obj: dict[str, Any], decoder: CompactDecoder) -> bool:
        return False  # every line decoded into its event

    def event(self, event: Event) -> None:
        cls = type(event)
        names = _FIELDS.get(cls)
        if names is None:
            names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
        row: dict[str, Any] = {"type": event.type}
        for name in names:
            value = getattr(event, name)
            if value is not None and name in _JSON_SET:
                value = orjson.dumps(value).decode()
            row[name] = value
        self.rows.append(row)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.count += len(self.rows)
            self.rows = []


def _schema(pa: Any) -> Any:
    types = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    return pa.schema([(name, types.get(kind, pa.string())) for name, kind in EVENT_COLUMNS.items()])


@contextlib.contextmanager
def _replacing(out: Path) -> typing.Iterator[Path]:
    """A temporary path beside ``out``, renamed to ``out`` when the block succeeds, removed otherwise."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def export_parquet(capture: str | os.PathLike[str], out: Path, *, streams: Path | None = None) -> int:
    """Write ``capture``'s events to ``out`` (and its per-stream table to ``streams``); returns the rows."""
    pa, pq = _arrow()
    schema = _schema(pa)
    for target in (out, streams):
        if target is not None and not target.parent.is_dir():
            raise UsageError(f"{target.parent} is not a directory", hint="create it, or write elsewhere")
    with _replacing(out) as tmp:
        writer = pq.ParquetWriter(str(tmp), schema)
        try:
            sink = _Batches(writer, schema, pa)
            read_capture(capture, sink=sink)
            sink.flush()
        finally:
            writer.close()
    if streams is not None:
        rows = summarize(str(capture), all_kinds=True)["streams"]
        with _replacing(streams) as tmp:
            pq.write_table(pa.Table.from_pylist(rows), str(tmp))
    return sink.count


@click.command("export")
@click.argument("capture", type=click.Path(dir_okay=False))
@click.option(
    "--parquet",
    "out",
    type=click.Path(dir_okay=False, writable=True),
    required=True,
    help="Write the capture's events here as Parquet (one row per event).",
)
@click.option(
    "--streams",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write the per-stream table (as `tearline summary --all --json`) here as Parquet.",
)
def export_command(capture: str, out: str, streams: str | None) -> None:
    """Write a capture as Parquet, for DuckDB or pandas.

    CAPTURE is a tearline capture (.jsonl, .jsonl.gz or .jsonl.zst). The events are streamed to
    the file in batches, so captures larger than memory export too. Needs pyarrow: pip install
    'tearline[parquet]'.
    """
    n = export_parquet(capture, Path(out), streams=Path(streams) if streams else None)
    click.echo(f"{out}: {n} events" + (f"; {streams}: per-stream table" if streams else ""))
