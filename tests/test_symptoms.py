"""tearline explain: symptom tables and the command, checked against a real Chromium NetLog's error list."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from tearline.analysis.explain.symptoms import (
    CLOSE_CODES,
    CONSOLE_TEXTS,
    NET_ERROR_NOTES,
    explain,
    net_error_name,
    net_error_number,
    net_errors,
)

from tearline.cli import cli
from tearline.errors import UsageError
from tests.evidence_recording import shared

INCIDENT = (
    "Can’t open this page\nSomething went wrong while displaying this webpage. "
    "To continue, reload or go to another page.\nError code: 11"
)


@pytest.mark.parametrize(
    "symptom, kind, code, network",
    [
        ("Error code: 11", "sad_tab", 11, False),
        (INCIDENT, "sad_tab", 11, False),
        (
            "Aw, Snap! Something went wrong while displaying this webpage. Error code: SIGSEGV",
            "sad_tab",
            None,
            False,
        ),
        ("ERR_INCOMPLETE_CHUNKED_ENCODING", "net_error", -355, True),
        ("net::ERR_ABORTED", "net_error", -3, True),
        ("-355", "net_error", -355, True),
        ("1006", "close_code", 1006, True),
        ("close 1001", "close_code", 1001, True),
        ("code=1000", "close_code", 1000, True),
        ("4001", "close_code", 4001, True),
        ("ERR_WS_UPGRADE", "net_error", -173, False),
        ("0", "net_error", 0, False),
        ("err_http2_protocol_error", "net_error", -337, True),
        ("GET https://a.test/run net::ERR_HTTP2_PROTOCOL_ERROR 200 (OK)", "net_error", -337, True),
    ],
)
def test_explain_reads_what_users_paste(symptom: str, kind: str, code: int | None, network: bool) -> None:
    e = explain(symptom)
    assert (e.kind, e.code, e.network) == (kind, code, network)
    assert e.meaning and e.symptom == symptom


def test_error_code_11_is_a_renderer_crash_not_the_network() -> None:
    e = explain(INCIDENT)
    assert "SIGSEGV" in e.meaning and "not a network error" in e.meaning
    assert any("targetCrashed" in s for s in e.next_steps)
    assert "Not a network error." in e.to_text()


def test_incomplete_chunked_names_the_cut_body() -> None:
    e = explain("ERR_INCOMPLETE_CHUNKED_ENCODING")
    assert "chunked" in e.meaning and "cut" in e.meaning
    assert any("Caddy" in c for c in e.causes)


def test_close_codes_1001_and_1006() -> None:
    assert "navigat" in " ".join(explain("1001").causes)
    e = explain("1006")
    assert "never sent on the wire" in e.meaning and e.name.startswith("WebSocket close 1006")


def test_console_lines() -> None:
    e = explain(
        "WebSocket connection to 'wss://a.test/ws' failed: Error during WebSocket handshake: Unexpected response code: 502"
    )
    assert e.kind == "console" and "502" in e.meaning
    e = explain(
        'EventSource\'s response has a MIME type ("text/html") that is not "text/event-stream". Aborting the connection.'
    )
    assert "text/html" in e.meaning
    # a console line that names a net error is explained by that error
    assert (
        explain(
            "WebSocket connection to 'ws://x/' failed: Error in connection establishment: net::ERR_CONNECTION_REFUSED"
        ).code
        == -102
    )


def test_a_bare_small_number_is_read_as_a_sad_tab_code_and_says_the_other_reading() -> None:
    e = explain("11")
    assert e.kind == "sad_tab" and any("-11" in a for a in e.also)


@pytest.mark.parametrize(
    "symptom, words",
    [("ERR_ABORTD", "ERR_ABORTED"), ("blah", "try"), ("-99999", "not a Chrome net error"), ("", "empty")],
)
def test_unknown_symptoms_are_one_line_usage_errors_with_close_matches(symptom: str, words: str) -> None:
    with pytest.raises(UsageError) as e:
        explain(symptom)
    assert "\n" not in str(e.value) and words in str(e.value)


def test_tables_are_consistent() -> None:
    errors = net_errors()
    assert len(errors) > 200
    assert set(NET_ERROR_NOTES) <= set(errors)
    assert net_error_number("net::ERR_ABORTED") == -3 and net_error_name(-3) == "ERR_ABORTED"
    assert net_error_name(0) == "OK" and net_error_number("ERR_NOPE") is None
    assert set(CLOSE_CODES) >= {1000, 1001, 1005, 1006, 1011, 1012}
    assert {c for c, cc in CLOSE_CODES.items() if not cc.on_wire} == {1005, 1006, 1015}
    assert all(len(row) == 4 for row in CONSOLE_TEXTS)


@pytest.mark.browser
@pytest.mark.slow
def test_net_error_numbers_match_a_real_chromium(tmp_path_factory: pytest.TempPathFactory) -> None:
    rec: Any = shared("browser", tmp_path_factory)
    text = rec.netlog.read_text()
    constants = json.loads(text[len('{"constants":') : text.index(',\n"events"')])
    real = {k: v for k, v in constants["netError"].items() if k.startswith("ERR_")}
    assert real == net_errors()


# --- the command -----------------------------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["explain", *args])


def test_command_text_and_json() -> None:
    r = run("Error code: 11")
    assert r.exit_code == 0 and "Crashed tab" in r.output and "SIGSEGV" in r.output
    r = run("-355", "--json")  # a negative number is a symptom, not an option
    assert r.exit_code == 0
    doc = json.loads(r.output)
    assert (
        doc["name"] == "ERR_INCOMPLETE_CHUNKED_ENCODING"
        and doc["code"] == -355
        and doc["kind"] == "net_error"
    )
    r = run("close", "1001")  # several words are joined
    assert r.exit_code == 0 and "1001" in r.output


def test_command_unknown_symptom_exits_2_with_one_line() -> None:
    r = run("ERR_CONECTION_RESET")
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "ERR_CONNECTION_RESET" in lines[0]
