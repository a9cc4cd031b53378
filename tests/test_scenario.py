"""tearline.faults.scenario: TOML scenarios and the one-line form, with real bad files."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tearline.errors import UsageError
from tearline.faults.scenario import (
    load_scenario,
    one_line,
    parse_fault,
    parse_one_line,
    parse_scenario_text,
    table_keys,
)

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


@pytest.mark.parametrize("reason", [" ", " lead", "trail ", "x"])
def test_one_line_keeps_blanks_at_the_ends_of_a_string(reason: str) -> None:
    spec = parse_fault({"action": "close", "reason": reason}, source="t.toml", number=1, fault_id="t#1")
    assert parse_one_line(one_line(spec)).fault.reason == reason


@pytest.mark.parametrize(
    "path", sorted((REPO / "examples" / "scenarios").glob("*.toml")), ids=lambda p: p.name
)
def test_example_scenarios_are_valid(path: Path) -> None:
    assert load_scenario(path)


def test_ids_number_the_tables() -> None:
    specs = parse_scenario_text(GOOD + GOOD, "x/two.toml")
    assert [s.fault_id for s in specs] == ["two.toml#1", "two.toml#2"]


# --- property: the one-line form reads back as the same table ------------------------------------

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\"'"), max_size=12)
_TABLES = st.one_of(
    st.fixed_dictionaries(
        {"action": st.just("close"), "code": st.sampled_from([1000, 1011, 4001, 4999]), "reason": _TEXT},
        optional={"to": st.sampled_from(["client", "server", "both"]), "after_messages": st.integers(0, 50)},
    ),
    st.fixed_dictionaries(
        {"action": st.just("delay"), "ms": st.integers(0, 10_000)},
        optional={
            "jitter_ms": st.integers(0, 100),
            "direction": st.sampled_from(["client", "server", "any"]),
        },
    ),
    st.fixed_dictionaries(
        {"action": st.just("truncate")},
        optional={"mid_event": st.booleans(), "after_bytes": st.integers(0, 10**6), "stream": st.just("sse")},
    ),
    st.fixed_dictionaries(
        {"action": st.just("respond"), "status": st.sampled_from([502, 503, 504, "refuse"])},
        optional={"probability": st.floats(0, 1), "seed": st.integers(0, 2**31), "times": st.integers(1, 9)},
    ),
)


@settings(max_examples=200, deadline=None)
@given(_TABLES)
def test_one_line_round_trip(table: dict[str, object]) -> None:
    spec = parse_fault(dict(table), source="t.toml", number=1, fault_id="t#1")
    again = parse_one_line(one_line(spec))
    assert table_keys(again) == table_keys(spec)
