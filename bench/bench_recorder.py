"""Recorder overhead, memory and latency: ``python bench/bench_recorder.py [--quick] [--json out.json]``.

1. **Overhead**: sequential WebSocket echo round trips (32-byte text) through a bare
   ``mitmdump`` and through ``mitmdump -s addons/ws_trace.py``, interleaved in the same
   run (``--reps`` times each, fresh process each time); reports round trips per second
   per config (median) and the ratio recorder/bare (1.0 = no cost).
2. **Memory**: ``--messages`` 1 KiB messages echoed over one long WebSocket, in three
   phases; the proxy's RSS (``/proc/PID/status`` VmRSS, MiB) after each, with
   ``trace_keep_messages=8`` (trimming, the default) and ``-1`` (mitmproxy keeps all).
   Growth after the first (warm-up) phase is what the proxy retains.
3. **Latency** (``bench/bench_latency.py``): per-message delay, p50 and p99, of WebSocket echoes
   and SSE events, 1 and 200 concurrent streams, 32 B and 16 KiB, direct vs bare ``mitmdump`` vs
   tearline, ``--latency-reps`` interleaved repetitions; ratios with their min-max, and what the
   recorder measured of its own delay (the capture footer's ``proxy_cost``) beside them.

``--parts overhead,memory,latency`` picks what to run (default: all).

Everything runs on 127.0.0.1 with real processes. Numbers depend on the machine's
load (shared CI boxes vary by +-20 %); compare the ratio, not absolute rates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_latency import latency, table

REPO = Path(__file__).resolve().parent.parent
WS_TRACE = REPO / "addons" / "ws_trace.py"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def echo_rate(url: str, n: int, warmup: int = 100) -> float:
    """Sequential echo round trips per second."""
    async with connect(url, compression=None, max_size=None) as ws:
        msg = "x" * 32
        for _ in range(warmup):
            await ws.send(msg)
            await ws.recv()
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send(msg)
            await ws.recv()
        return n / (time.perf_counter() - t0)


async def echo_phases(proxy: Mitmdump, messages: int, phases: int = 3, window: int = 50) -> list[float]:
    """Echo ``messages`` 1 KiB messages per phase (at most ``window`` in flight) over one
    socket; the proxy's RSS (MiB) after each phase, while the socket stays open."""
    assert proxy.pid is not None
    payload = "y" * 1024
    rss = [rss_mib(proxy.pid)]
    async with connect(f"{proxy.ws_base}/ws", compression=None, max_size=None) as ws:
        for _ in range(phases):
            sent = got = 0
            while got < messages:
                while sent < messages and sent - got < window:
                    await ws.send(payload)
                    sent += 1
                await ws.recv()
                got += 1
            rss.append(rss_mib(proxy.pid))
    return rss


def start(server: LabServer, tmp: Path, scripts: list[Path], options: dict[str, Any]) -> Mitmdump:
    return Mitmdump(
        scripts=[str(s) for s in scripts],
        mode=f"reverse:{server.base}",
        options=options,
        confdir=tmp / "mitmconf",
        cwd=tmp,
    ).start()


def overhead(server: LabServer, tmp: Path, reps: int, n: int) -> dict[str, Any]:
    rates: dict[str, list[float]] = {"bare": [], "ws_trace": []}
    for rep in range(reps):
        for name in ("bare", "ws_trace"):
            scripts = [WS_TRACE] if name == "ws_trace" else []
            opts = {"trace_file": str(tmp / f"o{rep}.jsonl")} if scripts else {}
            proxy = start(server, tmp, scripts, opts)
            try:
                rates[name].append(asyncio.run(echo_rate(f"{proxy.ws_base}/ws", n)))
            finally:
                proxy.stop()
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {
        "round_trips": n,
        "reps": reps,
        "rt_per_s": {k: [round(x, 1) for x in v] for k, v in rates.items()},
        "median_rt_per_s": {k: round(v, 1) for k, v in med.items()},
        "ratio_ws_trace_to_bare": round(med["ws_trace"] / med["bare"], 3),
    }


def memory(server: LabServer, tmp: Path, messages: int) -> dict[str, Any]:
    """RSS after each phase of ``messages`` echoed 1 KiB messages (2 proxied messages each).

    The first phase warms allocator pools and buffers; what later phases add is what the
    proxy retains: about 2 KiB per round trip when mitmproxy keeps every message.
    """
    out: dict[str, Any] = {"messages_per_phase": messages, "message_bytes": 1024}
    for name, keep in (("trimmed", 8), ("untrimmed", -1)):
        opts = {"trace_file": str(tmp / f"m_{name}.jsonl"), "trace_keep_messages": keep}
        proxy = start(server, tmp, [WS_TRACE], opts)
        try:
            rss = asyncio.run(echo_phases(proxy, messages))
        finally:
            proxy.stop()
        out[name] = {
            "rss_mib": [round(x, 1) for x in rss],
            "retained_mib_after_warmup": round(rss[-1] - rss[1], 1),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--round-trips", type=int, default=2000)
    ap.add_argument("--messages", type=int, default=5000, help="echoed messages per phase")
    ap.add_argument("--latency-reps", type=int, default=3, help="repetitions of the latency scenarios")
    ap.add_argument("--parts", default="overhead,memory,latency", help="comma-separated parts to run")
    ap.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    if args.quick:
        args.reps, args.round_trips, args.messages, args.latency_reps = 1, 200, 500, 1
    parts = set(args.parts.split(","))
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d, LabServer() as server:
        tmp = Path(d)
        if "overhead" in parts:
            result["overhead"] = overhead(server, tmp, args.reps, args.round_trips)
        if "memory" in parts:
            result["memory"] = memory(server, tmp, args.messages)
        if "latency" in parts:
            result["latency"] = latency(tmp, args.latency_reps, args.quick)
    text = json.dumps(result, indent=2)
    print(text)
    if "latency" in result:
        print(table(result["latency"]))
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
