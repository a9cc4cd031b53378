"""Run files: what the model accepts, and one-line errors naming the file, key and fix for what it does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tearline.errors import UsageError
from tearline.runs.run_file import parse_run_text

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "runs"
TEARLINE = str(Path(sys.executable).with_name("tearline"))

GOOD = """
name = "t"
[vars]
fix = "none"
delay = 0.0
[target]
app = "incident"
path = "/chat.html?fix={fix}&x={{literal}}"
[target.options]
stream_close_delay = "{delay}"
[[step]]
open = ""
[[step]]
wait = { messages = 5, url = "/agent" }
[[step]]
click = "#away"
timeout = 5000
[[fault]]
action = "abort"
stream = "sse"
after_messages = 3
[[fault]]
leg = "backend"
action = "close"
stream = "ws"
code = 4001
[expect]
error_page = false
[[expect.stream]]
url = "/ws"
cause = "client_navigation"
"""


def test_a_good_file_with_vars_typed_and_escaped() -> None:
    rf = parse_run_text(GOOD, "t.toml", {"fix": "beacon", "delay": "2.5"})
    assert rf.target.path == "/chat.html?fix=beacon&x={literal}"
    assert rf.target.options["stream_close_delay"] == 2.5  # "{delay}" takes the variable's type
    assert [s.action for s in rf.steps] == ["open", "wait_messages", "click"]
    assert rf.steps[1].value == 5 and rf.steps[1].url == "/agent"
    assert rf.steps[2].timeout_ms == 5000
    assert [f.leg for f in rf.faults] == ["browser", "backend"]
    assert rf.faults_on("backend")[0].spec.action == "close"
    assert rf.expect.error_page is False and rf.expect.streams[0].causes == ("client_navigation",)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_run_file_is_valid(path: Path) -> None:
    rf = parse_run_text(path.read_text(), str(path))
    assert rf.steps


def _with(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


BAD = [
    (_with('name = "t"', 'nmae = "t"'), "t.toml, key 'nmae': is not a run-file key (did you mean 'name'?"),
    (_with("fix={fix}", "fix={fxi}"), "uses {fxi} but [vars] has no 'fxi'"),
    (
        _with('app = "incident"', 'app = "incidnet"'),
        "target, key 'app': unknown app 'incidnet' (did you mean 'incident'?",
    ),
    (
        _with("stream_close_delay =", "stream_close_dealy ="),
        "target.options, key 'stream_close_dealy': is not an option",
    ),
    (
        _with('click = "#away"', 'clik = "#away"'),
        "step 3, key 'clik': is not a step action or option (did you mean 'click'?",
    ),
    (_with('click = "#away"', 'click = "#away"\nreload = true'), "step 3: needs exactly one action, has 2"),
    (_with("timeout = 5000", "timeout = -1"), "step 3, key 'timeout': must be a positive number of ms"),
    (
        _with('wait = { messages = 5, url = "/agent" }', "wait = { message = 5 }"),
        "step 2, key 'wait': needs exactly one of console",
    ),
    (_with('leg = "backend"', 'leg = "server"'), "fault 2, key 'leg': unknown leg 'server'"),
    (_with('action = "abort"', 'action = "abrot"'), "fault 1, key 'action': unknown action 'abrot'"),
    (
        _with('cause = "client_navigation"', 'cause = "client_nav"'),
        "expect.stream 1, key 'cause': unknown cause kind",
    ),
    (
        _with('cause = "client_navigation"', 'cause = "client_navigation"\nwhich = "any"'),
        "expect.stream 1, key 'which': unknown value 'any'",
    ),
    (GOOD.split("[[step]]")[0], "step: has no [[step]] tables"),
    (
        _with('app = "incident"', 'app = "incident"\nurl = "https://app.localhost/"'),
        "target: needs exactly one of 'app' and 'url'",
    ),
    ('[target]\nurl = "https://a.localhost/"\n[[step]]\nopen = ""\n', "url = needs upstream ="),
    ("x = [", "is not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m[:40] for _, m in BAD])
def test_bad_run_files_name_the_key_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_run_text(text, "t.toml")
    line = str(info.value)
    assert message in line and "\n" not in line and line.startswith("t.toml")


def test_an_unknown_override_is_named() -> None:
    with pytest.raises(
        UsageError, match=r"vars, key 'fxi': is given on the command line .*did you mean 'fix'"
    ):
        parse_run_text(GOOD, "t.toml", {"fxi": "delay"})
    with pytest.raises(UsageError, match=r"value 'soon' is not float"):
        parse_run_text(GOOD, "t.toml", {"delay": "soon"})


def test_the_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(_with('click = "#away"', 'clik = "#away"'))
    for command in ("run", "matrix"):
        result = subprocess.run(
            [TEARLINE, command, str(bad), "-o", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "step 3, key 'clik'" in result.stderr
        assert not (tmp_path / "out").exists()


def test_expect_which_every_and_some() -> None:
    from tearline.runs.model import Expect, StreamExpect
    from tearline.runs.symptoms import check_expect

    record = {
        "streams": [
            {"kind": "sse", "url": "https://app.localhost/api/copilotkit", "cause_kind": "clean_close"},
            {"kind": "sse", "url": "https://app.localhost/api/copilotkit", "cause_kind": "client_navigation"},
        ]
    }
    every = StreamExpect(url="/api/copilotkit", causes=("client_navigation",))
    some = StreamExpect(url="/api/copilotkit", causes=("client_navigation",), which="some")
    assert check_expect(Expect(streams=(every,)), record) == [
        "sse https://app.localhost/api/copilotkit: cause clean_close, expected client_navigation"
    ]
    assert check_expect(Expect(streams=(some,)), record) == []
    record["streams"][1]["cause_kind"] = "clean_close"
    assert check_expect(Expect(streams=(some,)), record) == [
        "no stream matching '/api/copilotkit' ended with client_navigation (seen: clean_close)"
    ]
    parsed = parse_run_text(
        _with('cause = "client_navigation"', 'cause = "client_navigation"\nwhich = "some"'), "t"
    )
    assert [s.which for s in parsed.expect.streams] == ["some"]
