"""The same diagnoses on the same recordings: two real lab recordings, checked in, diagnosed and pinned.

``tests/recordings/*.tar.gz`` hold every file one run of a lab scenario wrote (``tearline.lab.scenarios``:
headless Chromium with NetLog, DevTools events, HAR and console -> mitmdump -> Caddy -> mitmdump -> the
incident back end) and Caddy's JSON config. The live recordings in ``test_diagnosis_real.py`` check the
cause kinds of fresh runs; these pin everything the diagnosis derives from fixed files (stream matching,
kinds, counts, clock offsets, noise, the rule that fired), so a refactor of the pipeline that changes any
of it fails here. Recorded with Chromium's NetLog in Everything mode on one machine (one clock).
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tearline.analysis.diagnose.parts import url_path

from tearline.cli import cli

RECORDINGS = Path(__file__).resolve().parent / "recordings"
SOURCES = [("capture", 0.0), ("capture", 0.0), ("netlog", 0.0), ("cdp", 0.0), ("har", 0.0)]
SOURCES += [("console", 0.0), ("caddy", 0.0)]


def unpack(name: str, tmp_path: Path) -> Path:
    with tarfile.open(RECORDINGS / f"{name}.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / name


def every_source(d: Path) -> list[str]:
    args = [str(d / "capture-browser.jsonl"), str(d / "capture-backend.jsonl")]
    for flag, file in (("--netlog", "netlog.json"), ("--cdp", "cdp.jsonl"), ("--har", "page.har")):
        args += [flag, str(d / file)]
    args += ["--console", str(d / "console.log"), "--caddy-log", str(d / "caddy.log")]
    return [*args, "--caddy-config", str(d / "caddy.json")]


def diagnose(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["diagnose", "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def verdicts(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            s["id"],
            s["kind"],
            url_path(s["url"]),
            s["cause"]["kind"],
            s["cause"]["actor"],
            s["cause"]["rule"],
            s["outcome"],
        )
        for s in doc["streams"]
    ]


def counts(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    keys = ("messages_client", "messages_server", "bytes_client", "bytes_server", "counted_by")
    return [(*(s["stats"][k] for k in keys), sorted(s["stats"]["ends"])) for s in doc["streams"]]


SEEN_BY_ALL = ["caddy#6", "capture#0", "capture#1", "cdp#3", "har#4", "netlog#2"]


def test_connection_reset_every_source(tmp_path: Path) -> None:
    doc = diagnose(every_source(unpack("connection_reset", tmp_path)))
    assert verdicts(doc) == [
        ("s1", "ws", "/ws?end=reset&deltas=100&after=5", "connection_reset", "server", "reset", "fault"),
        (
            "s2",
            "sse",
            "/agent/run?end=reset&deltas=100&after=5",
            "connection_reset",
            "server",
            "reset",
            "fault",
        ),
    ]
    assert counts(doc) == [(0, 7, 0, 509, "netlog#2", SEEN_BY_ALL), (1, 7, 176, 565, "netlog#2", SEEN_BY_ALL)]
    assert [(x["name"], x["offset"]) for x in doc["sources"]] == SOURCES
    assert doc["notes"] == [
        "Set aside as background noise, not failures: 4 failed DNS lookup, 1 not a streaming request, "
        "1 page navigation (a document, not a stream).",
        "Clocks of capture, cdp, har, caddy agree with the netlog within 71 ms; not shifted.",
    ]


def test_connection_reset_netlog_alone(tmp_path: Path) -> None:
    d = unpack("connection_reset", tmp_path)
    doc = diagnose(["--netlog", str(d / "netlog.json")])
    assert [(v[0], v[1], v[3], v[4], v[5]) for v in verdicts(doc)] == [
        ("s1", "ws", "server_abrupt_close", "server", "abrupt"),
        ("s2", "sse", "server_abrupt_close", "server", "abrupt"),
    ]


def test_proxy_timeout_every_source(tmp_path: Path) -> None:
    doc = diagnose(every_source(unpack("proxy_timeout", tmp_path)))
    assert verdicts(doc) == [
        ("s1", "ws", "/ws?end=finish&deltas=100", "proxy_timeout", "proxy", "proxy_timer", "fault"),
    ]
    assert counts(doc) == [(0, 20, 0, 1469, "netlog#2", SEEN_BY_ALL)]
    assert "stream_timeout" in doc["streams"][0]["cause"]["summary"]
    assert "configured 2 s" in doc["streams"][0]["cause"]["summary"]
    assert doc["notes"] == [
        "Set aside as background noise, not failures: 4 failed DNS lookup, 1 page navigation (a document, "
        "not a stream).",
        "Clocks of capture, cdp, har, caddy agree with the netlog within 26 ms; not shifted.",
    ]


@pytest.mark.parametrize("name", ["connection_reset", "proxy_timeout"])
def test_without_the_netlog_the_same_causes(name: str, tmp_path: Path) -> None:
    args = every_source(unpack(name, tmp_path))
    at = args.index("--netlog")
    doc = diagnose(args[:at] + args[at + 2 :])
    full = verdicts(diagnose(args))
    assert [(v[0], v[1], v[3], v[4]) for v in verdicts(doc)] == [(v[0], v[1], v[3], v[4]) for v in full]
