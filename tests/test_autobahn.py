"""The Autobahn|Testsuite fuzzing client, directly and through tearline: no case may end worse.

A short subset of the groups that once failed through tearline (protocol violations the proxy
detects: reserved bits, opcodes, oversized or fragmented control frames, invalid UTF-8, invalid
close codes). ``make autobahn`` runs the whole ``--fast`` comparison. The runner
(``tools/autobahn/run.sh``) installs wstest (Python 2.7) into ``$TMPDIR/ab27`` itself.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tearline.capture import read_capture
from tearline.events import WsProtocolError

REPO = Path(__file__).resolve().parent.parent
RUNNER = REPO / "tools" / "autobahn" / "run.sh"

# deterministic cases (the "message, then violation" ones race even directly: see docs/relay.md)
CASES = "2.5,3.1,3.7,4.1.1,4.2.1,5.1,5.9,5.15,6.3.1,6.6.1,6.12.1,6.21.1,7.3.2,7.5.1,7.9.1"
VIOLATIONS = len(CASES.split(","))  # in each case the proxy's parser finds the violation itself


def _python27() -> str | None:
    if os.environ.get("PY27"):
        return os.environ["PY27"]
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(os.path.join(root, "versions", "2.7*", "bin", "python")))
    return found[-1] if found else shutil.which("python2.7")


def test_autobahn_subset_is_no_worse_through_tearline(tmp_path: Path) -> None:
    py27 = _python27()
    if py27 is None:
        pytest.skip("python2.7 not found (Autobahn's wstest runs on it): `pyenv install 2.7.18`, or set PY27")
    capture = tmp_path / "capture.jsonl"
    env = dict(os.environ, VENV=sys.prefix, PY27=py27)
    cmd = [
        "bash",
        str(RUNNER),
        "--cases",
        CASES,
        "--out",
        str(tmp_path / "ab"),
        "--details",
        "5",
        "-s",
        "addons/ws_trace.py",
        "-s",
        "addons/faults.py",
        "--mitm-arg",
        "--set",
        "--mitm-arg",
        f"trace_file={capture}",
    ]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode != 2, f"the Autobahn runner could not run:\n{out[-3000:]}"
    assert done.returncode == 0, f"cases worse through tearline than directly:\n{out[-6000:]}"
    assert "PASS: nothing got worse through the proxy" in out
    errors = [e for e in read_capture(capture).events if isinstance(e, WsProtocolError)]
    assert len(errors) == VIOLATIONS, errors  # the capture says the proxy, not the server, found them
    assert {e.by for e in errors} == {"client"}
    assert {e.code for e in errors} <= {1002, 1007}
