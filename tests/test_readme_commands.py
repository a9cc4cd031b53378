"""The README's commands work as written, in order (real mitmdump, real lab server, real curl-free clients).

Ports are the README's: 8080 is the upstream (Caddy in the README, the lab server here), 9090 and
8081 are the proxy's. The test first checks the commands as written (no proxy listens on its own
upstream's port), then runs them with those three ports mapped to free ones, because other
programs on a test machine may hold them. Commands that need files the reader brings
(``netlog.json``, ``page.har``, ...) or a browser are skipped; everything else runs.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tearline.lab.mitmdump import Mitmdump, mitmdump_binary
from tests.fixtures_proxy import REPO

README = REPO / "README.md"
TEARLINE = str(Path(sys.executable).parent / "tearline")


def readme_commands(text: str) -> list[list[str]]:
    """Every command of the README's ``sh`` blocks, continuation lines joined, comments dropped."""
    commands: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            commands.append(shlex.split(line, comments=True))
    return commands


def listen_port(argv: list[str]) -> int:
    return int(argv[argv.index("-p") + 1]) if "-p" in argv else 8080  # mitmproxy's default


def upstream_port(argv: list[str]) -> int | None:
    for i, a in enumerate(argv):
        if a == "--mode" and (m := re.match(r"reverse:https?://[^:/]+:(\d+)", argv[i + 1])):
            return int(m.group(1))
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ReadmeMitmdump(Mitmdump):
    def __init__(self, argv: list[str], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.argv = argv

    @property
    def args(self) -> list[str]:
        return self.argv


def test_no_readme_proxy_listens_on_its_own_upstream():
    mitm = [c for c in readme_commands(README.read_text()) if c[0] == "mitmdump"]
    assert len(mitm) >= 4
    for argv in mitm:
        assert listen_port(argv) != upstream_port(argv), " ".join(argv)


async def _ws(url: str, expect_close: bool = True) -> tuple[list[str], object]:
    got: list[str] = []
    async with connect(url, open_timeout=30) as ws:
        try:
            while True:
                got.append(str(await asyncio.wait_for(ws.recv(), 30)))
        except ConnectionClosed as e:
            return got, e.rcvd.code if e.rcvd else None
    return got, None  # pragma: no cover


def test_readme_commands_in_order(lab_server, tmp_path, mitm_confdir):
    for name in ("addons", "examples"):
        (tmp_path / name).symlink_to(REPO / name)
    ports = {"8080": str(lab_server.port), "9090": str(_free_port()), "8081": str(_free_port())}
    ran: list[str] = []
    for argv in readme_commands(README.read_text()):
        mapped = [re.sub(r"\b(8080|9090|8081)\b", lambda m: ports[m.group(1)], a) for a in argv]
        if argv[0] == "mitmdump":
            mapped = [mitmdump_binary(), *mapped[1:], "--set", f"confdir={mitm_confdir}"]
            proxy = ReadmeMitmdump(mapped, cwd=tmp_path).start()
            try:
                _drive(argv, proxy, lab_server)
            finally:
                proxy.stop()
            log = proxy.log_text()
            assert "Traceback" not in log and "Error logged" not in log and "Addon error" not in log, log
            ran.append(" ".join(argv[:4]))
        elif argv[0] == "tearline":
            if any(a.endswith((".json", ".har", ".log", "cdp.jsonl")) for a in argv) or "report" in argv:
                continue  # needs the reader's own NetLog/HAR/logs
            argv = [TEARLINE, *mapped[1:]]
            if any("*" in a for a in argv):
                argv = [str(p) for a in argv for p in (sorted(tmp_path.glob(a)) if "*" in a else [a])]
            done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, (argv, done.stdout, done.stderr)
            assert "Traceback" not in done.stderr
            ran.append(" ".join(argv[1:3]))
    assert sum(r.startswith("mitmdump") for r in ran) >= 4
    assert any(r.startswith("summary") for r in ran) and any(r.startswith("explain") for r in ran)


def _drive(argv: list[str], proxy: Mitmdump, lab_server: object) -> None:
    """Traffic for one README proxy command, and what the README says happens."""
    text = " ".join(argv)
    if "--mode" not in argv:  # regular proxy: an absolute-form request through it
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.url}))
        with opener.open(f"{lab_server.base}/length?size=5", timeout=30) as r:  # type: ignore[attr-defined]
            assert r.read() == b"x" * 5 or len(r.read()) == 0
        return
    if "close-4001" in text:
        got, code = asyncio.run(_ws(f"{proxy.ws_base}/ws?n=10&interval_ms=50"))
        assert (len(got), code) == (3, 4001)
    elif "after_ms=2000" in text:
        got, code = asyncio.run(_ws(f"{proxy.ws_base}/ws?n=100&interval_ms=100"))
        assert 5 <= len(got) < 100 and code is None
    else:
        got, code = asyncio.run(_ws(f"{proxy.ws_base}/ws?n=3&interval_ms=10&end=close"))
        assert (len(got), code) == (3, 1000)


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
