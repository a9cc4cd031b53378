"""Per-message latency: direct vs bare ``mitmdump`` vs tearline's recorder (part of ``bench_recorder.py``).

Scenarios (``SCENARIOS``; ``QUICK`` for a smoke run), each run against three configurations,
interleaved within every repetition, a fresh ``mitmdump`` per scenario:

``direct``    the client talks to the upstream (``bench/latency_server.py``, its own process)
``bare``      through ``mitmdump`` in reverse mode with no script (for SSE with
              ``stream_large_bodies=1``: without it mitmproxy buffers the whole body)
``tearline``  through ``mitmdump -s addons/ws_trace.py`` (the recorder)

- **WebSocket** (``ws``): each of ``streams`` concurrent sockets echoes ``rounds`` messages of
  ``size`` bytes, one at a time after a warm-up; a sample is one round trip measured by the client
  (two relayed messages: the proxy's added delay per message is half the difference to ``direct``).
- **SSE** (``sse``): each of ``streams`` concurrent streams gets ``events`` events ``interval_ms``
  apart; a sample is the one-way delay of one event, server stamp to client receipt (one machine,
  one monotonic clock).

Per scenario and configuration: p50 and p99 of the samples of one repetition; per repetition the
ratios tearline/direct, bare/direct and tearline/bare of p50 and p99; reported as the median over
repetitions with the min-max. Beside them, what the recorder itself wrote in the capture's footer
(``capture_end.proxy_cost``: its measured delay per message, p50/p99/max), so the two can be compared.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from tearline.capture import read_capture
from tearline.lab.mitmdump import Mitmdump

BENCH = Path(__file__).resolve().parent
WS_TRACE = BENCH.parent / "addons" / "ws_trace.py"
CONFIGS = ("direct", "bare", "tearline")


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "ws" or "sse"
    streams: int
    size: int
    rounds: int = 0  # ws: echoed messages per socket (after the warm-up)
    events: int = 0  # sse: events per stream
    interval_ms: int = 0  # sse: between events


SCENARIOS = (
    Scenario("ws 1 x 32 B", "ws", 1, 32, rounds=1000),
    Scenario("ws 1 x 16 KiB", "ws", 1, 16384, rounds=400),
    Scenario("ws 200 x 32 B", "ws", 200, 32, rounds=20),
    Scenario("ws 200 x 16 KiB", "ws", 200, 16384, rounds=5),
    Scenario("sse 1 x 32 B", "sse", 1, 32, events=400, interval_ms=5),
    Scenario("sse 1 x 16 KiB", "sse", 1, 16384, events=200, interval_ms=10),
    Scenario("sse 200 x 32 B", "sse", 200, 32, events=10, interval_ms=250),
)
QUICK = (
    Scenario("ws 1 x 32 B", "ws", 1, 32, rounds=30),
    Scenario("ws 5 x 16 KiB", "ws", 5, 16384, rounds=5),
    Scenario("sse 1 x 32 B", "sse", 1, 32, events=10, interval_ms=5),
    Scenario("sse 5 x 32 B", "sse", 5, 32, events=5, interval_ms=20),
)
WARMUP = 10


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, int(q * len(s) + 0.5) - 1))]


# --- clients ------------------------------------------------------------------------------------


async def ws_stream(url: str, sc: Scenario, start: asyncio.Event, out: list[float]) -> None:
    msg = "x" * sc.size
    async with connect(url, compression=None, max_size=None, open_timeout=120, close_timeout=30) as ws:
        await start.wait()
        warmup = WARMUP if sc.streams == 1 else 2
        for i in range(warmup + sc.rounds):
            t0 = time.perf_counter()
            await ws.send(msg)
            await ws.recv()
            if i >= warmup:
                out.append(time.perf_counter() - t0)


class _Chunked:
    """Incremental decoder of a chunked body that yields complete SSE events' first data stamp."""

    def __init__(self) -> None:
        self.raw = b""
        self.body = b""

    def feed(self, data: bytes) -> list[int]:
        self.raw += data
        while True:
            end = self.raw.find(b"\r\n")
            if end < 0:
                break
            size = int(self.raw[:end].split(b";")[0] or b"0", 16)
            if len(self.raw) < end + 2 + size + 2:
                break
            self.body += self.raw[end + 2 : end + 2 + size]
            self.raw = self.raw[end + 4 + size :]
        stamps = []
        while (sep := self.body.find(b"\n\n")) >= 0:
            event, self.body = self.body[:sep], self.body[sep + 2 :]
            if event.startswith(b"data: "):
                stamps.append(int(event[6:].split(b" ", 1)[0]))
        return stamps


async def sse_stream(port: int, sc: Scenario, start: asyncio.Event, out: list[float]) -> None:
    await start.wait()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    q = f"n={sc.events}&interval_ms={sc.interval_ms}&size={sc.size}"
    writer.write(f"GET /sse?{q} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:80]
    dec, seen = _Chunked(), 0
    while data := await reader.read(65536):
        now = time.monotonic_ns()
        for stamp in dec.feed(data):
            if seen:  # the first event of a stream is its warm-up
                out.append((now - stamp) / 1e9)
            seen += 1
    writer.close()


async def run_scenario(sc: Scenario, ws_url: str, sse_port: int) -> list[float]:
    out: list[float] = []
    start = asyncio.Event()
    if sc.kind == "ws":
        tasks = [asyncio.create_task(ws_stream(ws_url, sc, start, out)) for _ in range(sc.streams)]
        await asyncio.sleep(0.2 + sc.streams * 0.01)  # let every socket open before the clock starts
    else:
        tasks = [asyncio.create_task(sse_stream(sse_port, sc, start, out)) for _ in range(sc.streams)]
    start.set()
    await asyncio.gather(*tasks)
    return out


# --- configurations ------------------------------------------------------------------------------


def start_upstream() -> tuple[subprocess.Popen[str], dict[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "latency_server.py")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


def one(sc: Scenario, config: str, ports: dict[str, int], tmp: Path, rep: int) -> dict[str, Any]:
    upstream = ports[sc.kind]
    proxy = None
    capture = tmp / f"lat{rep}-{sc.kind}{sc.streams}-{sc.size}.jsonl"
    if config != "direct":
        # bare mitmdump buffers an SSE body whole unless told to stream (mitmproxy #4469); the recorder streams it
        options: dict[str, Any] = {"stream_large_bodies": "1"} if sc.kind == "sse" else {}
        if config == "tearline":
            options = {"trace_file": str(capture)}
        proxy = Mitmdump(
            scripts=[str(WS_TRACE)] if config == "tearline" else [],
            mode=f"reverse:http://127.0.0.1:{upstream}",
            options=options,
            confdir=tmp / "mitmconf",
            cwd=tmp,
        ).start()
    port = proxy.port if proxy is not None else upstream
    try:
        samples = asyncio.run(run_scenario(sc, f"ws://127.0.0.1:{port}/ws", port))
    finally:
        if proxy is not None:
            proxy.stop()
    res: dict[str, Any] = {
        "n": len(samples),
        "p50_ms": round(pct(samples, 0.5) * 1000, 3),
        "p99_ms": round(pct(samples, 0.99) * 1000, 3),
    }
    if config == "tearline":
        footer = read_capture(capture).events[-1]
        res["recorded"] = getattr(footer, "proxy_cost", None)
        capture.unlink()
    return res


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def summarize(sc: Scenario, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians and ratios (median, min-max over repetitions) of one scenario's runs."""
    out: dict[str, Any] = {"scenario": sc.name, "kind": sc.kind, "streams": sc.streams, "size": sc.size}
    for config in CONFIGS:
        out[config] = {
            q: round(statistics.median(r[f"{q}_ms"] for r in runs[config]), 3) for q in ("p50", "p99")
        }
    for num, den in (("tearline", "direct"), ("bare", "direct"), ("tearline", "bare")):
        for q in ("p50", "p99"):
            ratios = [
                a[f"{q}_ms"] / b[f"{q}_ms"] for a, b in zip(runs[num], runs[den], strict=True) if b[f"{q}_ms"]
            ]
            if ratios:
                out[f"{num}/{den} {q}"] = _spread(ratios)
    per_msg = 0.5 if sc.kind == "ws" else 1.0  # a round trip is two relayed messages
    for config in ("bare", "tearline"):
        out[f"{config} added p50 ms per message"] = round(
            per_msg * (out[config]["p50"] - out["direct"]["p50"]), 3
        )
    recorded = [r["recorded"] for r in runs["tearline"] if r.get("recorded")]
    if recorded:
        out["recorded"] = {
            k: round(statistics.median(float(r[k]) for r in recorded), 3)
            for k in ("delay_p50_ms", "delay_p99_ms", "delay_max_ms", "hook_p50_ms", "hook_p99_ms")
        }
    return out


def latency(tmp: Path, reps: int, quick: bool) -> list[dict[str, Any]]:
    """Every scenario, ``reps`` interleaved repetitions of the three configurations."""
    scenarios = QUICK if quick else SCENARIOS
    proc, ports = start_upstream()
    try:
        runs = {sc: {c: [] for c in CONFIGS} for sc in scenarios}  # type: ignore[var-annotated]
        for rep in range(reps):
            for sc in scenarios:
                for config in CONFIGS:
                    runs[sc][config].append(one(sc, config, ports, tmp, rep))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return [summarize(sc, runs[sc]) for sc in scenarios]


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of ``latency``'s rows."""

    def sp(d: dict[str, float] | None) -> str:
        return f"{d['median']:.2f} ({d['min']:.2f}-{d['max']:.2f})" if d else "-"

    lines = [
        "| scenario | direct p50 / p99 ms | bare p50 / p99 ms | tearline p50 / p99 ms "
        "| tearline/bare p50 (min-max) | tearline/bare p99 (min-max) | tearline/direct p50 (min-max) "
        "| added per message p50 ms: bare / tearline | recorder measured delay p50 / p99 / max ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rec = r.get("recorded") or {}
        recorded = f"{rec['delay_p50_ms']} / {rec['delay_p99_ms']} / {rec['delay_max_ms']}" if rec else "-"
        lines.append(
            f"| {r['scenario']} | {r['direct']['p50']} / {r['direct']['p99']} "
            f"| {r['bare']['p50']} / {r['bare']['p99']} | {r['tearline']['p50']} / {r['tearline']['p99']} "
            f"| {sp(r.get('tearline/bare p50'))} | {sp(r.get('tearline/bare p99'))} "
            f"| {sp(r.get('tearline/direct p50'))} "
            f"| {r['bare added p50 ms per message']} / {r['tearline added p50 ms per message']} "
            f"| {recorded} |"
        )
    return "\n".join(lines)
