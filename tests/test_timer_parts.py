"""Pure checks of the pieces the timer recordings rely on (``tests/test_timers_real.py`` runs them for real):
the lab's Caddy runner refuses a binary that is not there, and an HTTP/2 stream the browser cancelled is not
read as a TCP reset."""

from __future__ import annotations

from pathlib import Path

import pytest
from tearline.analysis.diagnose.rules_server import browser_cancel
from tearline.analysis.evidence.observation import Observation

from tearline.errors import UsageError
from tearline.lab.caddy import CaddySite, run_caddy


def test_run_caddy_names_a_missing_binary(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-caddy"
    site = CaddySite(host="www.localhost", upstream="127.0.0.1:9")
    with pytest.raises(UsageError) as err, run_caddy([site], tmp_path, binary=missing):
        pass
    assert "no executable caddy" in str(err.value) and str(missing) in str(err.value)
    assert not (tmp_path / "caddy.json").exists()  # refused before anything was written or started


def _failed(text: str, leg: str) -> Observation:
    return Observation(
        source="capture", kind="request_failed", t=1.0, text=text, leg=leg, error_class="reset"
    )


@pytest.mark.parametrize(
    ("text", "leg", "cancel"),
    [
        ("stream reset by client (CANCEL)", "client", True),
        ("body cut after 565 bytes: stream reset by client (CANCEL)", "client", True),
        ("stream reset by server (CANCEL)", "client", False),  # the server's reset, not the browser's
        ("stream reset by client (INTERNAL_ERROR)", "client", False),
        ("stream reset by client (CANCEL)", "server", False),  # a proxy's own upstream leg
        ("[Errno 104] Connection reset by peer", "client", False),
    ],
)
def test_browser_cancel(text: str, leg: str, cancel: bool) -> None:
    assert browser_cancel(_failed(text, leg)) is cancel
