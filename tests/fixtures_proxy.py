"""Pytest fixtures for recording, relay and fault tests: real servers and a real mitmdump.

``lab_server``      a ``tearline.lab.servers.LabServer`` on 127.0.0.1 (background thread)
``mitm_confdir``    a per-test mitmproxy confdir (keeps the CA out of ~/.mitmproxy)
``start_mitmdump``  factory: ``start_mitmdump(scripts=[...], mode=..., options={...})`` -> running
                    ``Mitmdump``; every one started is stopped (SIGTERM, then SIGKILL) at teardown
``recorder``        factory: mitmdump with ``addons/ws_trace.py`` in reverse mode in front of
                    ``lab_server``, recording to ``tmp_path/"capture.jsonl"``; returns the
                    ``Mitmdump`` with ``.capture`` (the path) set. Extra scripts/options allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer

REPO = Path(__file__).resolve().parent.parent
WS_TRACE = REPO / "addons" / "ws_trace.py"


@pytest.fixture
def lab_server() -> Iterator[LabServer]:
    server = LabServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mitm_confdir(tmp_path: Path) -> Path:
    d = tmp_path / "mitmconf"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture
def start_mitmdump(mitm_confdir: Path, tmp_path: Path) -> Iterator[Callable[..., Mitmdump]]:
    started: list[Mitmdump] = []

    def start(
        scripts: list[str | Path] | tuple[str | Path, ...] = (),
        mode: str | list[str] = "regular",
        options: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Mitmdump:
        kw.setdefault("confdir", mitm_confdir)
        kw.setdefault("cwd", tmp_path)
        proxy = Mitmdump(scripts=[str(s) for s in scripts], mode=mode, options=options, **kw)
        started.append(proxy)
        return proxy.start()

    try:
        yield start
    finally:
        for proxy in started:
            try:
                proxy.stop(timeout=20)
            finally:
                proxy.kill()


@pytest.fixture
def recorder(
    start_mitmdump: Callable[..., Mitmdump], lab_server: LabServer, tmp_path: Path
) -> Callable[..., Mitmdump]:
    def start(
        scripts: list[str | Path] | tuple[str | Path, ...] = (),
        options: dict[str, Any] | None = None,
        capture: Path | None = None,
        **kw: Any,
    ) -> Mitmdump:
        path = capture or tmp_path / "capture.jsonl"
        opts = {"trace_file": str(path), **(options or {})}
        proxy = start_mitmdump(
            scripts=[WS_TRACE, *scripts], mode=f"reverse:{lab_server.base}", options=opts, **kw
        )
        proxy.capture = path  # type: ignore[attr-defined]
        return proxy

    return start
