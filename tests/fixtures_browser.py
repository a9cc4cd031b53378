"""Pytest fixtures for the lab: the incident back end, a real Caddy, a recording headless Chromium,
and recorded evidence scenarios (cached per test session).

- ``incident_backend``: the AG-UI back end on a free 127.0.0.1 port (``RunningBackend``).
- ``start_caddy(sites)``: a real Caddy in ``tmp_path``; stopped at teardown.
- ``chromium``: a recording Chromium (``LiveBrowser``) writing into ``tmp_path / "browser"``;
  closed at teardown (call ``chromium_session.close()`` first to read the finished files).
- ``scenario_bundle(name, caddy=True, proxy=True, tls=False)``: ``record_scenario`` run once per session
  per argument set, so several tests (and other areas' tests) can share one recording.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest

from tearline.lab.browser import LiveBrowser, record_browser
from tearline.lab.caddy import Caddy, CaddySite, run_caddy
from tearline.lab.incident.backend import RunningBackend, run_backend
from tearline.lab.scenarios import EvidenceBundle, record_scenario


@pytest.fixture
def incident_backend(tmp_path: Path) -> Iterator[RunningBackend]:
    with run_backend(tmp_path / "backend.log") as backend:
        yield backend


@pytest.fixture
def start_caddy(tmp_path: Path) -> Iterator[Callable[[Sequence[CaddySite]], Caddy]]:
    with ExitStack() as stack:
        count = 0

        def start(sites: Sequence[CaddySite]) -> Caddy:
            nonlocal count
            count += 1
            return stack.enter_context(run_caddy(sites, tmp_path / f"caddy{count}"))

        yield start


class ChromiumSession:
    """A recording Chromium that a test can close early to read its finished files."""

    def __init__(self, out_dir: Path, proxy: str | None = None) -> None:
        self._stack = ExitStack()
        self.live: LiveBrowser = self._stack.enter_context(record_browser(out_dir, proxy=proxy))

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def chromium_session(tmp_path: Path) -> Iterator[Callable[..., ChromiumSession]]:
    sessions: list[ChromiumSession] = []

    def start(proxy: str | None = None, out_dir: Path | None = None) -> ChromiumSession:
        s = ChromiumSession(out_dir or tmp_path / f"browser{len(sessions) + 1}", proxy=proxy)
        sessions.append(s)
        return s

    try:
        yield start
    finally:
        for s in sessions:
            s.close()


@pytest.fixture
def chromium(chromium_session: Callable[..., ChromiumSession]) -> LiveBrowser:
    return chromium_session().live


@pytest.fixture(scope="session")
def scenario_bundle(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., EvidenceBundle]:
    cache: dict[tuple[str, bool, bool, bool], EvidenceBundle] = {}

    def get(name: str, *, caddy: bool = True, proxy: bool = True, tls: bool = False) -> EvidenceBundle:
        key = (name, caddy, proxy, tls)
        if key not in cache:
            out = tmp_path_factory.mktemp(
                f"{name}-{'caddy' if caddy else 'direct'}-{'proxy' if proxy else 'noproxy'}{'-tls' if tls else ''}"
            )
            cache[key] = record_scenario(name, out, caddy=caddy, proxy=proxy, tls=tls)
        return cache[key]

    return get
