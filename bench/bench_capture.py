"""Reading long captures: ``python bench/bench_capture.py [--sizes 10000,100000,1000000] [--repeat 3]``.

For each size it generates a capture (``bench/gen_capture.py``, from the real seed events) in
the current format, and the same events in format version 1 and as ``.jsonl.zst``, then times,
each ``--repeat`` times, in fresh processes:

- ``naive``: every line through the standard library's ``json.loads`` (the baseline);
- ``tearline summary``, ``tearline diagnose --json`` and ``tearline report -o r.html``;
- ``summary`` of the version-1 file (migration) and of the ``.zst`` file.

Each command's time is given as a ratio to the naive parse of the same file in the same run
(median of the repeats, and the min-max spread), the same for the CPU time the child used (user +
system: on a machine shared with other work, wall time mostly measures the wait), with its peak RSS (``/usr/bin/time``-free:
``wait4``'s rusage of the child). Bytes per WebSocket message line are measured on the files.
Nothing is asserted: the output is the table docs/performance.md shows, with the machine's load
average during each size's run (CPU ratios are what count on a shared machine). ``--json out`` also
writes the results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_capture import generate

TEARLINE = str(Path(sys.executable).parent / "tearline")
NAIVE = (
    "import json,sys\nwith open(sys.argv[1],encoding='utf-8') as fh:\n    for line in fh: json.loads(line)\n"
)


def run(args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one child process."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execv(args[0], args)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({status})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def ws_line_bytes(path: Path) -> float:
    total = n = 0
    with path.open("rb") as fh:
        for line in fh:
            if b'"ws_message"' in line:
                total += len(line)
                n += 1
    return total / n if n else float("nan")


def bench_size(tmp: Path, size: int, repeat: int) -> dict[str, Any]:
    cur, v1, zst = tmp / f"c{size}.jsonl", tmp / f"c{size}_v1.jsonl", tmp / f"c{size}.jsonl.zst"
    events = generate(cur, size)
    generate(v1, size, version=1)
    generate(zst, size)
    out_html = tmp / "r.html"
    commands = {
        "naive json.loads": [sys.executable, "-c", NAIVE, str(cur)],
        "summary": [TEARLINE, "summary", str(cur)],
        "diagnose --json": [TEARLINE, "diagnose", "--json", str(cur)],
        "report": [TEARLINE, "report", str(cur), "-o", str(out_html)],
        "naive json.loads (v1 file)": [sys.executable, "-c", NAIVE, str(v1)],
        "summary (v1 file)": [TEARLINE, "summary", str(v1)],
        "summary (.zst)": [TEARLINE, "summary", str(zst)],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    rss: dict[str, float] = dict.fromkeys(commands, 0.0)
    load = [os.getloadavg()[0]]  # the machine's 1-minute load average, sampled after each command
    for _ in range(repeat):  # interleaved, so load changes hit every command alike
        for name, args in commands.items():
            wall, cpu, peak = run(args)
            times[name].append(wall)
            cpus[name].append(cpu)
            rss[name] = max(rss[name], peak)
            load.append(os.getloadavg()[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpus.items()}
    rows = {}
    for name, ts in times.items():
        base = "naive json.loads (v1 file)" if "v1" in name else "naive json.loads"
        rows[name] = {
            "median_s": round(med[name], 3),
            "ratio": round(med[name] / med[base], 3),
            "ratio_spread": [round(min(ts) / med[base], 3), round(max(ts) / med[base], 3)],
            "cpu_s": round(med_cpu[name], 3),
            "cpu_ratio": round(med_cpu[name] / med_cpu[base], 3),
            "peak_rss_mib": round(rss[name], 1),
        }
    return {
        "events": events,
        "bytes": {"v2": cur.stat().st_size, "v1": v1.stat().st_size, "zst": zst.stat().st_size},
        "ws_message_line_bytes": {"v2": round(ws_line_bytes(cur), 1), "v1": round(ws_line_bytes(v1), 1)},
        "commands": rows,
        "load_average": [round(min(load), 2), round(max(load), 2)],
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| events | command | median s | ratio to naive parse (min-max) | CPU s | CPU ratio | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name, c in r["commands"].items():
            lo, hi = c["ratio_spread"]
            lines.append(
                f"| {r['events']:,} | {name} | {c['median_s']} | {c['ratio']} ({lo}-{hi}) | {c['cpu_s']} "
                f"| {c['cpu_ratio']} | {c['peak_rss_mib']} |"
            )
    lines.append("")
    for r in results:
        lo, hi = r["load_average"]
        lines.append(f"{r['events']:,} events: 1-minute load average {lo}-{hi} during the run")
    lines.append("")
    lines.append("| events | file bytes v1 / v2 / .zst | bytes per ws_message line v1 / v2 |")
    lines.append("|---|---|---|")
    for r in results:
        b, w = r["bytes"], r["ws_message_line_bytes"]
        lines.append(
            f"| {r['events']:,} | {b['v1']:,} / {b['v2']:,} / {b['zst']:,} | {w['v1']} / {w['v2']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--dir", type=Path, help="where to write the generated captures (default: a temp dir)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        results = []
        for n in sizes:
            results.append(bench_size(Path(d), n, args.repeat))
            print(table(results[-1:]), flush=True)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
