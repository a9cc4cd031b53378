"""`tearline diagnose` end to end on files: text, JSON, exit codes, shared options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner
from tearline.analysis.diagnose.cli import clean, diagnosis_from_options, evidence_options

from tearline.cli import cli

TICK0 = 5_000_000  # ms of TimeTicks
OFFSET = 1_780_000_000_000  # timeTickOffset, ms
CONSTANTS = {
    "logFormatVersion": 1,
    "timeTickOffset": OFFSET,
    "logCaptureMode": "Everything",
    "logEventPhase": {"PHASE_NONE": 0, "PHASE_BEGIN": 1, "PHASE_END": 2},
    "logSourceType": {"NONE": 0, "URL_REQUEST": 1, "SOCKET": 10},
    "logEventTypes": {
        "FAILED": 1,
        "REQUEST_ALIVE": 2,
        "URL_REQUEST_START_JOB": 3,
        "HTTP_TRANSACTION_READ_RESPONSE_HEADERS": 4,
        "URL_REQUEST_JOB_FILTERED_BYTES_READ": 5,
        "CANCELLED": 6,
    },
    "netError": {"ERR_ABORTED": -3, "ERR_INCOMPLETE_CHUNKED_ENCODING": -355},
}


def netlog(path: Path, *, end: str) -> Path:
    """A NetLog of one SSE request; ``end`` is "cut" (ERR_INCOMPLETE_CHUNKED_ENCODING) or "done"."""
    url = "http://ai.localhost:8080/agent/run?token=s3cret"

    def ev(t: int, type_: int, phase: int, params: dict[str, Any] | None = None) -> dict[str, Any]:
        e: dict[str, Any] = {
            "phase": phase,
            "source": {"id": 10, "start_time": str(TICK0), "type": 1},
            "time": str(TICK0 + t),
            "type": type_,
        }
        if params is not None:
            e["params"] = params
        return e

    events = [
        ev(0, 2, 1, {"url": url, "priority": "MEDIUM"}),
        ev(1, 3, 1, {"url": url, "method": "POST", "request_type": "other"}),
        ev(50, 4, 0, {"headers": ["HTTP/1.1 200", "content-type: text/event-stream"]}),
        *[ev(100 + 100 * i, 5, 0, {"byte_count": 80}) for i in range(10)],
    ]
    if end == "cut":
        events += [ev(1100, 1, 0, {"net_error": -355}), ev(1101, 2, 2, {"net_error": -355})]
    else:
        events += [ev(1100, 3, 2), ev(1101, 2, 2)]
    text = (
        '{"constants":'
        + json.dumps(CONSTANTS)
        + ',\n"events": [\n'
        + ",\n".join(json.dumps(e) for e in events)
        + "\n]}\n"
    )
    path.write_text(text)
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["diagnose", *args], catch_exceptions=False)


def test_text_names_stream_cause_and_evidence_and_redacts(tmp_path: Path) -> None:
    result = run("--netlog", str(netlog(tmp_path / "n.json", end="cut")))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "http://ai.localhost:8080/agent/run?token=[redacted]" in out
    assert "s1  sse  " in out  # from the NetLog's content-type: text/event-stream
    assert "s3cret" not in out
    assert "server_abrupt_close by server" in out
    assert "ERR_INCOMPLETE_CHUNKED_ENCODING" in out and "evidence" in out
    assert "1 stream: 1 fault, 0 ended as expected." in out


def test_json_is_the_documented_schema(tmp_path: Path) -> None:
    result = run("--netlog", str(netlog(tmp_path / "n.json", end="cut")), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    s = doc["streams"][0]
    assert s["kind"] == "sse" and s["opened_at"] == (OFFSET + TICK0) / 1000
    assert s["ended_at"] == (OFFSET + TICK0 + 1100) / 1000
    assert s["cause"]["kind"] == "server_abrupt_close" and s["cause"]["actor"] == "server"
    assert s["cause"]["evidence"][0]["where"].startswith("event ")
    assert doc["first_abnormal"] == "s1" and doc["sources"][0]["name"] == "netlog"


def test_fail_on_abnormal_exit_codes(tmp_path: Path) -> None:
    assert (
        run("--netlog", str(netlog(tmp_path / "cut.json", end="cut")), "--fail-on", "abnormal").exit_code == 1
    )
    done = run("--netlog", str(netlog(tmp_path / "done.json", end="done")), "--fail-on", "abnormal")
    assert done.exit_code == 0 and "clean_close" in done.output


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json at all")
    for args in (
        [],
        ["--netlog", str(tmp_path / "missing.json")],
        ["--netlog", str(garbage)],
        [str(tmp_path / "nope.jsonl")],
    ):
        result = CliRunner().invoke(cli, ["diagnose", *args])
        assert result.exit_code == 2, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
        assert "Traceback" not in result.output


def test_evidence_options_are_reusable_by_another_command(tmp_path: Path) -> None:
    @click.command()
    @evidence_options
    @click.option("-o", "out", default="x")
    def other(out: str, **kwargs: Any) -> None:
        d = diagnosis_from_options(**kwargs)
        click.echo(f"{out} {len(d.streams)} {d.streams[0].cause.kind}")

    result = CliRunner().invoke(
        other, ["--netlog", str(netlog(tmp_path / "n.json", end="cut")), "-o", "r.html"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "r.html 1 server_abrupt_close"
    assert {"--netlog", "--cdp", "--har", "--console", "--caddy-log"} <= {
        opt for p in other.params for opt in p.opts
    }


def test_clean_escapes_control_characters() -> None:
    assert clean("a\x1b[31mb\nc") == "a\\x1b[31mb\\x0ac"
    assert clean("/x?api_key=abc&y=1") == "/x?api_key=[redacted]&y=1"
