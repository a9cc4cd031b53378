"""Importing a long Chrome NetLog: ``python bench/bench_netlog.py [--mb 100] [--repeat 3]``.

Generates a NetLog of ``--mb`` megabytes from the real seed (``bench/gen_netlog.py``), then times,
each ``--repeat`` times, interleaved, in fresh processes:

- ``naive json.load``: the whole file through the standard library's ``json.load`` (the baseline);
- ``import``: tearline's NetLog importer alone (``load_netlog``: read, interpret, sort the
  observations), which is what ``tearline diagnose --netlog`` spends on the file before diagnosing;
- ``import (unterminated)``: the same events without the closing ``]}`` (a Chromium killed
  mid-write); its baseline is the naive parse of the complete file, as ``json.load`` cannot read it;
- ``diagnose --netlog --json`` (with ``--diagnose``): the whole command, for reference.

Each row gives the median wall time and its ratio to the naive parse (with the min-max spread),
the median CPU time (user + system of the child) and its ratio, and the child's peak RSS, as
``bench/bench_capture.py`` does. Nothing is asserted. ``--json out`` also writes the results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_capture import TEARLINE, run
from gen_netlog import generate

NAIVE = "import json,sys\nwith open(sys.argv[1],encoding='utf-8') as fh:\n    json.load(fh)\n"
IMPORT = (
    "import sys\nfrom tearline.analysis.evidence.netlog.interpreter import load_netlog\n"
    "load_netlog(sys.argv[1])\n"
)


def bench(tmp: Path, mb: float, repeat: int, diagnose: bool) -> dict[str, Any]:
    full, cut = tmp / "netlog.json", tmp / "netlog-unterminated.json"
    events = generate(full, mb)
    generate(cut, mb, unterminated=True)
    commands = {
        "naive json.load": [sys.executable, "-c", NAIVE, str(full)],
        "import": [sys.executable, "-c", IMPORT, str(full)],
        "import (unterminated)": [sys.executable, "-c", IMPORT, str(cut)],
    }
    if diagnose:
        commands["diagnose --netlog --json"] = [TEARLINE, "diagnose", "--netlog", str(full), "--json"]
    times: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    rss = dict.fromkeys(commands, 0.0)
    for _ in range(repeat):  # interleaved, so load changes hit every command alike
        for name, args in commands.items():
            wall, cpu, peak = run(args)
            times[name].append(wall)
            cpus[name].append(cpu)
            rss[name] = max(rss[name], peak)
    base, base_cpu = statistics.median(times["naive json.load"]), statistics.median(cpus["naive json.load"])
    rows = {}
    for name, ts in times.items():
        med, cpu = statistics.median(ts), statistics.median(cpus[name])
        rows[name] = {
            "median_s": round(med, 3),
            "ratio": round(med / base, 3),
            "ratio_spread": [round(min(ts) / base, 3), round(max(ts) / base, 3)],
            "cpu_s": round(cpu, 3),
            "cpu_ratio": round(cpu / base_cpu, 3),
            "peak_rss_mib": round(rss[name], 1),
        }
    return {"mb": mb, "bytes": full.stat().st_size, "events": events, "commands": rows}


def table(r: dict[str, Any]) -> str:
    lines = [
        f"NetLog: {r['bytes']:,} bytes, {r['events']:,} events",
        "",
        "| command | median s | ratio to naive parse (min-max) | CPU s | CPU ratio | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in r["commands"].items():
        lo, hi = c["ratio_spread"]
        lines.append(
            f"| {name} | {c['median_s']} | {c['ratio']} ({lo}-{hi}) | {c['cpu_s']} | {c['cpu_ratio']} "
            f"| {c['peak_rss_mib']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=100.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--diagnose", action="store_true", help="also time `tearline diagnose --netlog --json`")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--dir", type=Path, help="where to write the generated NetLogs (default: a temp dir)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        result = bench(Path(d), args.mb, args.repeat, args.diagnose)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
