"""tearline.faults.scenario: TOML scenarios and the one-line form, with real bad files."""

from pathlib import Path

import pytest

from tearline.errors import UsageError
from tearline.faults.scenario import load_scenario, parse_one_line, parse_scenario_text, table_keys

REPO = Path(__file__).resolve().parent.parent
GOOD = """
[[fault]]
action = "close"
stream = "ws"
direction = "server"
after_messages = 3
to = "client"
code = 4001
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "scenario.toml"
    p.write_text(text)
    return p


def error_of(path: Path) -> str:
    with pytest.raises(UsageError) as e:
        load_scenario(path)
    text = str(e.value)
    assert "\n" not in text and str(path) in text
    return text


def test_good_file(tmp_path: Path) -> None:
    (spec,) = load_scenario(write(tmp_path, GOOD))
    assert spec.fault_id == "scenario.toml#1" and spec.action == "close"
    assert spec.fault.code == 4001 and spec.trigger.after_messages == 3


def test_one_line_form_is_the_same_table(tmp_path: Path) -> None:
    (table,) = load_scenario(write(tmp_path, GOOD))
    line = parse_one_line("close:stream=ws,direction=server,after_messages=3,to=client,code=4001")
    assert table_keys(line) == table_keys(table)
    assert line.fault_id == "cli#1"


def test_unknown_key_with_close_match(tmp_path: Path) -> None:
    text = error_of(write(tmp_path, GOOD + "afterr_messages = 2\n"))
    assert "fault 1, key 'afterr_messages'" in text and "did you mean 'after_messages'?" in text


def test_unknown_action_with_close_match(tmp_path: Path) -> None:
    text = error_of(write(tmp_path, GOOD + '\n[[fault]]\naction = "trunctae"\n'))
    assert "fault 2, key 'action'" in text and "did you mean 'truncate'?" in text
    assert "allowed: abort, close, delay" in text


def test_bad_value_lists_allowed(tmp_path: Path) -> None:
    text = error_of(write(tmp_path, GOOD.replace('to = "client"', 'to = "browser"')))
    assert "key 'to'" in text and "allowed: client, server, both" in text


def test_wrong_type(tmp_path: Path) -> None:
    text = error_of(write(tmp_path, GOOD.replace("code = 4001", 'code = "4001"')))
    assert "key 'code'" in text and "must be an integer" in text


def test_missing_action_and_required_param(tmp_path: Path) -> None:
    assert "has no 'action'" in error_of(write(tmp_path, "[[fault]]\nstream = 'ws'\n"))
    assert "key 'ms'" in error_of(write(tmp_path, "[[fault]]\naction = 'delay'\n"))


def test_stream_kind_the_action_cannot_use(tmp_path: Path) -> None:
    text = error_of(write(tmp_path, "[[fault]]\naction = 'truncate'\nstream = 'ws'\n"))
    assert "key 'stream'" in text and "allowed: sse, http-stream, any" in text


def test_not_toml_empty_and_top_level_typo(tmp_path: Path) -> None:
    assert "not valid TOML" in error_of(write(tmp_path, "[[fault]\naction = 'close'\n"))
    assert "no [[fault]] tables" in error_of(write(tmp_path, "# nothing\n"))
    assert "did you mean 'fault'?" in error_of(write(tmp_path, "[[faults]]\naction = 'close'\n"))


def test_missing_file(tmp_path: Path) -> None:
    assert "no such scenario file" in error_of(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("close:to=client,code=4001,reason='a, b'", None),
        ("close:to", "is not key=value"),
        ("close:reason='open", "not closed"),
        ("respond:status=refuse", None),
        ("drop:probability=half", "must be a number"),
        ("truncate:mid_event=yes", "must be true or false"),
    ],
)
def test_one_line_values(line: str, needle: str | None) -> None:
    if needle is None:
        spec = parse_one_line(line)
        assert spec.action in ("close", "respond")
        if spec.action == "close":
            assert spec.fault.reason == "a, b"
        return
    with pytest.raises(UsageError, match=needle) as e:
        parse_one_line(line)
    assert str(e.value).startswith("--set fault=")


@pytest.mark.parametrize(
    "path", sorted((REPO / "examples" / "scenarios").glob("*.toml")), ids=lambda p: p.name
)
def test_example_scenarios_are_valid(path: Path) -> None:
    assert load_scenario(path)


def test_ids_number_the_tables() -> None:
    specs = parse_scenario_text(GOOD + GOOD, "x/two.toml")
    assert [s.fault_id for s in specs] == ["two.toml#1", "two.toml#2"]
