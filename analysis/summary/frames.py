"""A tearline capture as pandas DataFrames: events, connections, streams.

``load(path)`` reads a capture (``tearline.capture.read_capture``: migrates older
versions, refuses newer ones, tolerates a torn last line) and the three
functions below build the tables. Every time column is wall-clock epoch
seconds (float); ``*_s`` columns are durations in seconds; missing values are
NaN / None.

``df_events(cap)`` one row per event, in file order:
    ``seq`` (0-based line order), ``type``, ``ts``, ``mono``, ``t_rel`` (seconds since
    the capture's header ``started``), ``conn``, ``stream``, then every field of
    every event type present (absent fields are NaN/None), e.g. ``direction``,
    ``size``, ``code``, ``leg``, ``how``, ``by``.

``df_connections(cap)`` one row per connection id:
    ``conn``, ``leg`` (``client``/``server``), ``client_conn`` (for the server leg:
    the browser connection it served), ``peer``, ``local``, ``tls_version``,
    ``alpn``, ``sni``, ``opened``, ``closed`` (ts), ``duration_s``, ``by``
    (``peer``/``proxy``/``unknown``), ``how`` (``fin``/``rst``/``timeout``/
    ``error``/``closed``), ``errno``, ``error``, ``bytes_sent``, ``bytes_received``,
    ``streams`` (number of HTTP flows on it).

``df_streams(cap)`` one row per HTTP flow (WebSocket, SSE, streamed or ordinary body):
    ``stream`` (flow id), ``kind`` (``ws``/``sse``/``http-stream``/``http``),
    ``conn`` (client leg), ``server_conn``, ``method``, ``url``, ``status``,
    ``started`` (request headers), ``response_at`` (response headers),
    ``first_data`` / ``last_data`` (first/last message, chunk or event), ``ended``
    (close, body end or error), ``lifetime_s`` (``ended - started``),
    ``client_messages`` / ``server_messages`` (WebSocket messages each way; for SSE,
    ``server_messages`` = complete events), ``client_bytes`` / ``server_bytes``,
    ``chunks``, ``sse_events``, ``partial_events``, ``body_complete`` (bool or None),
    ``body_how`` (``terminated``/``length``/``eof``/``cut``/``error``), ``close_code``,
    ``close_reason``, ``close_frame`` (bool: a close frame was seen), ``answered``,
    ``answered_by``, ``transport_end``, ``closed_by`` (``client``/``server``/``proxy``/None),
    ``error`` (flow error text), ``faults`` (faults fired on it), ``end`` (one
    line for a person: how it ended).
"""

from __future__ import annotations

import math
import os

import pandas as pd
from tearline.analysis.summary.rows import CONNECTION_COLUMNS, STREAM_COLUMNS, conn_rows, stream_rows

from tearline.capture import Capture, read_capture
from tearline.events import event_to_dict

__all__ = ["STREAM_COLUMNS", "df_connections", "df_events", "df_streams", "load"]

EVENT_BASE_COLUMNS = ["seq", "type", "ts", "mono", "t_rel", "conn", "stream"]


def load(path: str | os.PathLike[str]) -> Capture:
    """Read a capture file (see ``tearline.capture.read_capture``)."""
    return read_capture(path)


def _cap(capture: Capture | str | os.PathLike[str]) -> Capture:
    return capture if isinstance(capture, Capture) else read_capture(capture)


def df_events(capture: Capture | str | os.PathLike[str]) -> pd.DataFrame:
    """One row per event (see the module docstring for columns)."""
    cap = _cap(capture)
    started = cap.header.get("started")
    rows = []
    for seq, ev in enumerate(cap.events):
        row = event_to_dict(ev)
        for k, v in row.items():
            if isinstance(v, list | dict):
                row[k] = (
                    repr(v)
                    if isinstance(v, dict)
                    else tuple(tuple(x) if isinstance(x, list) else x for x in v)
                )
        row["seq"] = seq
        row["t_rel"] = ev.ts - started if isinstance(started, int | float) else math.nan
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in EVENT_BASE_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series(dtype="float64" if col in ("ts", "mono", "t_rel", "seq") else "object")
    rest = [c for c in df.columns if c not in EVENT_BASE_COLUMNS]
    return df[EVENT_BASE_COLUMNS + rest]


def df_connections(capture: Capture | str | os.PathLike[str]) -> pd.DataFrame:
    """One row per connection (see the module docstring for columns)."""
    rows = conn_rows(_cap(capture))
    return pd.DataFrame(list(rows.values()), columns=CONNECTION_COLUMNS)


def df_streams(
    capture: Capture | str | os.PathLike[str], *, kinds: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """One row per HTTP flow (see the module docstring for columns), by start time.

    ``kinds`` keeps only those kinds, e.g. ``("ws", "sse", "http-stream")``.
    """
    return pd.DataFrame(stream_rows(_cap(capture), kinds=kinds), columns=STREAM_COLUMNS)
