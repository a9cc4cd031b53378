"""Run every benchmark: ``python -m bench`` (what ``make bench`` does).

Each benchmark measures tearline against a baseline in the same run and prints ratios;
none of them asserts a time. Pass ``--quick`` for a short run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = ("bench_capture.py", "bench_recorder.py", "bench_report.py", "bench_netlog.py")


def main() -> int:
    here = Path(__file__).parent
    quick = "--quick" in sys.argv[1:]
    status = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        args = [sys.executable, str(here / name)]
        if quick and name == "bench_recorder.py":
            args.append("--quick")
        if quick and name == "bench_capture.py":
            args += ["--sizes", "10000", "--repeat", "1"]
        if quick and name == "bench_netlog.py":
            args += ["--mb", "10", "--repeat", "1"]
        status |= subprocess.call(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
