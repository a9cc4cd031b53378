"""Synthetic captures of any size built from the real events of ``bench/seed_capture.jsonl``.

``python bench/gen_capture.py OUT --events 1000000 [--streams 20] [--version 2]``

The seed (recorded by ``bench/record_seed.py`` through a real mitmdump) holds one WebSocket
and one SSE stream. The generator keeps the SSE stream once and repeats the WebSocket
``--streams`` times with fresh connection and stream ids, each carrying its share of the
messages: the seed's messages in turn (direction, size), ``index`` counted per direction,
times advancing by the seed's own gaps; then the seed's close, relay and connection ends.
``--version 1`` writes the old line encoding (to measure migration), ``2`` the current one;
a name ending in ``.gz``/``.zst`` compresses.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson

from tearline.capture_compact import CompactEncoder
from tearline.compression import open_write

SEED = Path(__file__).resolve().parent / "seed_capture.jsonl"


def _seed() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = [json.loads(x) for x in SEED.read_text().splitlines() if x.strip()]
    return lines[0], lines[1:]


def generate(out: Path, events: int, *, streams: int = 20, version: int = 2) -> int:
    """Write a capture of about ``events`` events; returns the exact number written."""
    header, seed = _seed()
    ws_stream = next(e["stream"] for e in seed if e["type"] == "ws_message")
    ws_conns = {e["conn"] for e in seed if e.get("stream") == ws_stream}
    ws_conns |= {e["conn"] for e in seed if e.get("client_conn") in ws_conns}
    ws = [e for e in seed if e.get("stream") == ws_stream or e.get("conn") in ws_conns]
    other = [e for e in seed if e not in ws and e["type"] != "capture_end"]
    footer = next(e for e in seed if e["type"] == "capture_end")
    msgs = [e for e in ws if e["type"] == "ws_message"]
    first_msg = ws.index(msgs[0])
    prologue, epilogue = ws[:first_msg], [e for e in ws[first_msg:] if e["type"] != "ws_message"]
    gaps = [max(b["mono"] - a["mono"], 1e-6) for a, b in itertools.pairwise(msgs)] or [1e-3]
    fixed = len(other) + streams * (len(prologue) + len(epilogue)) + 1
    per_stream = max(1, (events - fixed) // streams)

    header = {**header, "version": version}
    encoder = CompactEncoder(header["started"], header["mono_started"]) if version >= 2 else None
    written = 0
    rng = random.Random(12)  # the same ids every run, so outputs of two runs compare
    with open_write(out) as fh:
        buf: list[bytes] = [orjson.dumps(header)]

        def emit(obj: dict[str, Any]) -> None:
            nonlocal written
            written += 1
            buf.append(orjson.dumps(encoder.encode_dict(obj) if encoder else obj))
            if len(buf) >= 10000:
                fh.write(b"\n".join(buf) + b"\n")
                buf.clear()

        for e in other:
            emit(dict(e))
        t_shift = 0.0
        for _ in range(streams):
            ids = {
                old: str(uuid.UUID(int=rng.getrandbits(128), version=4))
                for old in sorted({ws_stream, *ws_conns})
            }

            def renamed(e: dict[str, Any], shift: float, ids: dict[str, str] = ids) -> dict[str, Any]:
                o = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in e.items()}
                o["ts"] += shift
                o["mono"] += shift
                return o

            for e in prologue:
                emit(renamed(e, t_shift))
            t = 0.0
            index = {"client": 0, "server": 0}
            for i in range(per_stream):
                m = msgs[i % len(msgs)]
                o = renamed(m, t_shift + t - (m["mono"] - msgs[0]["mono"]))
                o["index"] = index[m["direction"]]
                index[m["direction"]] += 1
                emit(o)
                t += gaps[i % len(gaps)]
            end_shift = t_shift + t - (epilogue[0]["mono"] - msgs[0]["mono"]) if epilogue else 0.0
            for e in epilogue:
                emit(renamed(e, max(end_shift, t_shift)))
            t_shift += t + 1.0
        emit({**footer, "ts": footer["ts"] + t_shift, "mono": footer["mono"] + t_shift, "events": written})
        fh.write(b"\n".join(buf) + b"\n")
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--version", type=int, default=2, choices=(1, 2))
    args = ap.parse_args(argv)
    n = generate(args.out, args.events, streams=args.streams, version=args.version)
    print(f"wrote {args.out}: {n} events, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
