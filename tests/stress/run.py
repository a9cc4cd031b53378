"""``make stress``: the full stress suite, figures printed as JSON (docs/reliability.md quotes them).

python -m tests.stress.run [--ws 200] [--ws-msgs 500] [--sse 50] [--sse-events 200]
                           [--cycles 5000] [--kill-streams 20] [--fuzz 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer
from tests.stress.workloads import churn, concurrency, kill9

REPO = Path(__file__).resolve().parents[2]
WS_TRACE = REPO / "addons" / "ws_trace.py"
INTROSPECT = REPO / "tests" / "addons" / "introspect.py"


def recorder(server: LabServer, work: Path, name: str, **options: object) -> Mitmdump:
    cap = work / f"{name}.jsonl"
    proxy = Mitmdump(
        scripts=[WS_TRACE, INTROSPECT],
        mode=f"reverse:{server.base}",
        options={"trace_file": str(cap), "trace_payload": "preview:8", **options},
        confdir=work / "conf",
        cwd=work,
        start_timeout=120,
    )
    proxy.capture = cap  # type: ignore[attr-defined]
    return proxy.start()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ws", type=int, default=200)
    ap.add_argument("--ws-msgs", type=int, default=500)
    ap.add_argument("--sse", type=int, default=50)
    ap.add_argument("--sse-events", type=int, default=200)
    ap.add_argument("--cycles", type=int, default=5000)
    ap.add_argument("--kill-streams", type=int, default=20)
    ap.add_argument("--kill-seconds", type=float, default=10.0, help="load before the kill -9")
    ap.add_argument("--fuzz", type=int, default=2000, help="examples per fuzz property")
    ap.add_argument("--only", choices=["concurrency", "churn", "kill9", "fuzz"], action="append")
    a = ap.parse_args(argv)
    only = set(a.only or ["concurrency", "churn", "kill9", "fuzz"])
    figures: dict[str, object] = {"cpus": os.cpu_count(), "load": os.getloadavg()[0]}
    with (
        tempfile.TemporaryDirectory(prefix="tearline-stress-") as tmp,
        LabServer(extra_params={"c"}) as server,
    ):  # c= labels each client
        work = Path(tmp)
        if "concurrency" in only:
            proxy = recorder(server, work, "concurrency")
            try:
                figures["concurrency"] = concurrency(proxy, a.ws, a.ws_msgs, a.sse, a.sse_events)
            finally:
                proxy.kill()
            print(json.dumps({"concurrency": figures["concurrency"]}), flush=True)
        if "churn" in only:
            proxy = recorder(server, work, "churn")
            try:
                figures["churn"] = churn(proxy, a.cycles)
            finally:
                proxy.kill()
            print(json.dumps({"churn": figures["churn"]}), flush=True)
        if "kill9" in only:
            for flush_ms in (100, 20):
                proxy = recorder(server, work, f"kill9-{flush_ms}", trace_flush_ms=flush_ms)
                try:
                    figures[f"kill9_flush_{flush_ms}ms"] = kill9(proxy, a.kill_streams, a.kill_seconds)
                finally:
                    proxy.kill()
                print(
                    json.dumps({f"kill9_flush_{flush_ms}ms": figures[f"kill9_flush_{flush_ms}ms"]}),
                    flush=True,
                )
        if "fuzz" in only:
            counts = work / "fuzz-counts.jsonl"
            env = {**os.environ, "TEARLINE_FUZZ_EXAMPLES": str(a.fuzz), "TEARLINE_FUZZ_COUNTS": str(counts)}
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "tests/test_loader_fuzz.py", "tests/test_evidence_fuzz.py"],
                cwd=REPO, env=env, capture_output=True, text=True,
            )  # fmt: skip
            tail = done.stdout.strip().splitlines()[-1:] if done.stdout else []
            per_target = json.loads(counts.read_text().splitlines()[-1]) if counts.exists() else {}
            figures["fuzz"] = {"examples_per_property": a.fuzz, "pytest": tail, "exit": done.returncode,
                               "loader_counts": per_target}  # fmt: skip
            print(json.dumps({"fuzz": figures["fuzz"]}), flush=True)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
