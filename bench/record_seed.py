"""Record the seed capture the synthetic captures are built from: ``python bench/record_seed.py``.

A real ``mitmdump -s addons/ws_trace.py`` in front of the lab server on 127.0.0.1 records:
one WebSocket (the server sends 20 messages, the client sends 20 that the server echoes,
the client closes with 1000) and one SSE stream (10 events, each split over two chunks, then
the upstream cuts the body). The result is committed as ``bench/seed_capture.jsonl`` (format
version 1, as the recorder of that day wrote it), so every bench run starts from the same real
events; run this again to refresh it.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect

from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer

REPO = Path(__file__).resolve().parent.parent
SEED = Path(__file__).resolve().parent / "seed_capture.jsonl"


async def ws_session(base: str) -> None:
    async with connect(f"{base}/ws?n=20&size=32&interval_ms=5", compression=None) as ws:
        for i in range(20):
            await ws.send(f"{i}:" + "c" * 30)
        got = 0
        while got < 40:
            await ws.recv()
            got += 1
        await ws.close(1000, "bye")


def main(out: Path = SEED) -> int:
    with tempfile.TemporaryDirectory() as d, LabServer() as server:
        tmp = Path(d)
        trace = tmp / "seed.jsonl"
        proxy = Mitmdump(
            scripts=[str(REPO / "addons" / "ws_trace.py")],
            mode=f"reverse:{server.base}",
            options={"trace_file": str(trace)},
            confdir=tmp / "mitmconf",
            cwd=tmp,
        ).start()
        try:
            asyncio.run(ws_session(proxy.ws_base))
            try:
                with urllib.request.urlopen(f"{proxy.url}/sse?n=10&split=1&interval_ms=5&end=cut") as r:
                    r.read()
            except Exception:  # the cut body is the point: the client sees an incomplete read
                pass
        finally:
            proxy.stop()
        shutil.copyfile(trace, out)
    print(f"wrote {out} ({sum(1 for _ in out.open())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else SEED))
