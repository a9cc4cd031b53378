"""HTTP/2 to the client, per stream: one stream's end does not end its siblings (real Caddy, real h2).

Caddy with ``tls internal`` (HTTP/2) in front of a LabServer; a client holds two concurrent
streams on one connection, directly to Caddy and through tearline (mitmdump with the
recorder and the fault addon, HTTPS to Caddy). The victim stream fails the same way
both ways and its sibling completes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tearline.capture import read_capture
from tearline.events import FaultFired
from tearline.lab.caddy import Caddy, CaddySite, run_caddy
from tearline.lab.mitmdump import Mitmdump
from tearline.lab.servers import LabServer
from tests.fixtures_browser import Chrome
from tests.h2_client import h2_streams

REPO = Path(__file__).resolve().parent.parent
WS_TRACE = REPO / "addons" / "ws_trace.py"
FAULTS = REPO / "addons" / "faults.py"

SIBLING = "/sse?n=8&interval_ms=100&sibling=1"
LAB_EXTRA_PARAMS = ("sibling", "victim")  # labels that tell the two streams apart
INTERNAL_ERROR, CANCEL = 0x2, 0x8

pytestmark = pytest.mark.caddy


@pytest.fixture(scope="module")
def caddy(tmp_path_factory: pytest.TempPathFactory, server: LabServer) -> Iterator[Caddy]:
    site = CaddySite(host="relay.localhost", upstream=f"127.0.0.1:{server.port}", flush_interval=-1)
    with run_caddy([site], tmp_path_factory.mktemp("caddy-h2"), tls=True) as c:
        yield c


def _proxy(tmp: Path, caddy: Caddy, faults: list[str]) -> Mitmdump:
    options: dict[str, object] = {
        "keep_host_header": True,
        "ssl_insecure": True,  # Caddy's internal CA
        "trace_file": str(tmp / "capture.jsonl"),
    }
    if faults:
        options["fault"] = faults
    p = Mitmdump(
        scripts=[str(WS_TRACE), str(FAULTS)],
        mode=f"reverse:https://127.0.0.1:{caddy.port}",
        options=options,
        confdir=tmp / "mitm",
        cwd=REPO,
    )
    p.capture = tmp / "capture.jsonl"  # type: ignore[attr-defined]
    return p


@pytest.fixture(scope="module")
def tearline(tmp_path_factory: pytest.TempPathFactory, caddy: Caddy) -> Iterator[Mitmdump]:
    """tearline with three faults, each on the stream whose URL names it (``?victim=<fault>``)."""
    faults = [
        "truncate:stream=sse,after_messages=2,match=~u victim=truncate",
        "abort:stream=sse,after_messages=2,match=~u victim=abort",
        "reset:stream=sse,after_messages=2,h2_error=CANCEL,match=~u victim=reset",
        "goaway:stream=sse,after_messages=2,match=~u victim=goaway",
        "goaway:stream=sse,after_messages=2,h2_error=ENHANCE_YOUR_CALM,match=~u victim=calm",
    ]
    with _proxy(tmp_path_factory.mktemp("h2-tearline"), caddy, faults) as p:
        yield p


def _ends(port: int, victim: str) -> list[tuple[str, int | None, int]]:
    """(end, code, events received) of the victim stream and of its sibling, on one connection."""
    got = h2_streams(port, [victim, SIBLING])
    return [(s.end, s.error_code, s.body.count(b"\n\n")) for s in got]


def test_an_upstream_cut_resets_one_stream_directly_and_through_tearline(
    caddy: Caddy, tearline: Mitmdump
) -> None:
    victim = "/sse?n=6&interval_ms=50&end=cut"
    direct = _ends(caddy.port, victim)
    proxied = _ends(tearline.port, victim)
    assert direct[1] == proxied[1] == ("complete", None, 8)  # the sibling is untouched
    assert direct[0][:2] == proxied[0][:2] == ("reset", INTERNAL_ERROR), (direct, proxied)
    assert direct[0][2] == proxied[0][2] == 6  # every event that was sent arrived first


@pytest.mark.parametrize(
    ("fault", "code"), [("truncate", INTERNAL_ERROR), ("abort", INTERNAL_ERROR), ("reset", CANCEL)]
)
def test_a_fault_on_one_of_two_streams_resets_only_that_stream(
    tearline: Mitmdump, fault: str, code: int
) -> None:
    victim, sibling = _ends(tearline.port, f"/sse?n=6&interval_ms=100&victim={fault}")
    assert sibling == ("complete", None, 8)
    assert victim[:2] == ("reset", code)
    assert 2 <= victim[2] < 6  # the events passed before the fault arrived, the rest did not
    fired = [e for e in read_capture(tearline.capture).events if isinstance(e, FaultFired)]  # type: ignore[attr-defined]
    assert any(
        e.action == fault
        and (e.client_action or "").endswith(f"RST_STREAM {'CANCEL' if code == CANCEL else 'INTERNAL_ERROR'}")
        for e in fired
    )


def test_a_goaway_fault_lets_open_streams_finish_like_a_reloading_server(tearline: Mitmdump) -> None:
    victim, sibling = h2_streams(tearline.port, ["/sse?n=6&interval_ms=100&victim=goaway", SIBLING])
    assert victim.goaway == sibling.goaway == (0, 3)  # NO_ERROR, both streams (1 and 3) processed
    assert (victim.end, victim.body.count(b"\n\n")) == ("complete", 6)
    assert (sibling.end, sibling.body.count(b"\n\n")) == ("complete", 8)


def test_a_goaway_fault_with_an_error_ends_the_connection(tearline: Mitmdump) -> None:
    victim, sibling = h2_streams(tearline.port, ["/sse?n=6&interval_ms=100&victim=calm", SIBLING])
    assert victim.goaway == (0xB, 3)  # ENHANCE_YOUR_CALM
    assert victim.end == sibling.end == "goaway"  # both ended by it (then the connection closed)
    assert 2 <= victim.body.count(b"\n\n") < 6


# --- Chromium over HTTP/2 ----------------------------------------------------------------------------

TWO_FETCHES_JS = """async ([a, b]) => {
  const one = async (u) => {
    try { const r = await fetch(u); const t = await r.text(); return {ok: true, events: t.split("\\n\\n").length - 1}; }
    catch (e) { return {ok: false, error: String(e)}; }
  };
  return await Promise.all([one(a), one(b)]);
}"""


def _chromium_two_streams(
    chrome: Chrome, port: int, victim: str
) -> tuple[list[dict[str, Any]], list[str], set[str]]:
    """Both fetches' outcomes, Chromium's net errors (CDP), and the protocols used."""
    origin = f"https://relay.localhost:{port}"
    context = chrome.browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        failed: list[str] = []
        cdp = context.new_cdp_session(page)
        cdp.on("Network.loadingFailed", lambda p: failed.append(p.get("errorText", "")))
        cdp.send("Network.enable")
        page.goto(origin + "/")
        got = page.evaluate(TWO_FETCHES_JS, [origin + victim, origin + SIBLING])
        protocols = set(page.evaluate("performance.getEntriesByType('resource').map(e => e.nextHopProtocol)"))
    finally:
        context.close()
    return got, failed, protocols


@pytest.mark.browser
def test_chromium_over_h2_sees_the_same_net_error_directly_and_through_tearline(
    caddy: Caddy, tearline: Mitmdump, chrome: Chrome
) -> None:
    victim = "/sse?n=6&interval_ms=50&end=cut"
    direct = _chromium_two_streams(chrome, caddy.port, victim)
    proxied = _chromium_two_streams(chrome, tearline.port, victim)
    for got, failed, protocols in (direct, proxied):
        assert protocols == {"h2"}
        assert not got[0]["ok"] and got[1] == {"ok": True, "events": 8}
        assert failed == ["net::ERR_HTTP2_PROTOCOL_ERROR"]


@pytest.mark.browser
def test_chromium_over_h2_a_truncate_fault_fails_one_fetch_only(tearline: Mitmdump, chrome: Chrome) -> None:
    got, failed, protocols = _chromium_two_streams(
        chrome, tearline.port, "/sse?n=6&interval_ms=100&victim=truncate"
    )
    assert protocols == {"h2"}
    assert not got[0]["ok"] and got[1] == {"ok": True, "events": 8}
    assert failed == ["net::ERR_HTTP2_PROTOCOL_ERROR"]
