"""Build a long Chrome NetLog from the real seed: ``python bench/gen_netlog.py OUT --mb 100``.

The seed (``bench/seed_netlog.json``, recorded by ``bench/record_netlog_seed.py`` with a real
headless Chromium through the lab) is one page visit: a chat page streaming an answer over SSE
and a WebSocket, then a navigation. The generator writes the seed's constants, then its events
again and again, each repetition as a new visit: every source id moved past the previous
repetition's (``source.id`` and the ``source_dependency`` ids in ``params``, so a WebSocket channel
still names its URL request with the next id), every time (``time``, ``source.start_time``)
shifted by the seed's span plus a second, until the file reaches ``--mb`` megabytes (10^6 bytes).

The layout is Chrome's: ``{"constants": ...,`` on the first line, ``"events": [``, one event per
line ending in ``,``, the last one in ``],``, then ``"polledData": {}`` and ``}``.
``--unterminated`` stops after an event line, as a Chromium killed mid-write leaves it.
The output is the same for the same arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

SEED = Path(__file__).resolve().parent / "seed_netlog.json"


def read_seed(seed: Path = SEED) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    doc = orjson.loads(seed.read_bytes())
    return doc["constants"], doc["events"]


def _shifted(e: dict[str, Any], id_shift: int, t_shift: int) -> dict[str, Any]:
    out = dict(e)
    src = dict(e["source"])
    src["id"] = src["id"] + id_shift
    if "start_time" in src:
        src["start_time"] = str(int(src["start_time"]) + t_shift)
    out["source"] = src
    out["time"] = str(int(e["time"]) + t_shift)
    params = e.get("params")
    dep = params.get("source_dependency") if isinstance(params, dict) else None
    if isinstance(dep, dict) and isinstance(dep.get("id"), int):
        out["params"] = {**params, "source_dependency": {**dep, "id": dep["id"] + id_shift}}
    return out


def generate(out: Path, mb: float, *, seed: Path = SEED, unterminated: bool = False) -> int:
    """Write a NetLog of at least ``mb`` megabytes (or one repetition); returns the number of events."""
    constants, events = read_seed(seed)
    target = int(mb * 1_000_000)
    ids = [e["source"]["id"] for e in events]
    times = [int(e["time"]) for e in events]
    id_step = max(ids) + 1
    t_step = max(times) - min(times) + 1000
    written = n = 0
    with out.open("wb") as fh:
        head = b'{"constants":' + orjson.dumps(constants) + b",\n" + b'"events": [\n'
        fh.write(head)
        written += len(head)
        rep = 0
        last: bytes | None = None
        while written < target or last is None:
            for e in events:
                line = orjson.dumps(_shifted(e, rep * id_step, rep * t_step))
                if last is not None:
                    fh.write(last + b",\n")
                    written += len(last) + 2
                last = line
                n += 1
            rep += 1
        if unterminated:
            fh.write(last + b",\n")
        else:
            fh.write(last + b"],\n" + b'"polledData": {}\n}\n')
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--mb", type=float, default=100.0, help="size in megabytes (10^6 bytes)")
    ap.add_argument("--seed", type=Path, default=SEED)
    ap.add_argument("--unterminated", action="store_true", help="no closing ']}' (a killed Chromium)")
    args = ap.parse_args(argv)
    n = generate(args.out, args.mb, seed=args.seed, unterminated=args.unterminated)
    print(f"{args.out}: {n:,} events, {args.out.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
