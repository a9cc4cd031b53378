"""Checking deferred option values and unknown names (pure)."""

from __future__ import annotations

import pytest

from tearline.errors import UsageError
from tearline.option_values import check_value, deferred_errors, did_you_mean, unknown_options


class Unconverted:
    """Like mitmproxy's ``_UnconvertedStrings``: the raw ``--set`` strings."""

    def __init__(self, *val: str) -> None:
        self.val = list(val)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("int", Unconverted("12"), 12),
        ("int", Unconverted(" -1 "), -1),
        ("int", 7, 7),
        ("str", Unconverted("full"), "full"),
        ("str", "x", "x"),
        ("optional_str", None, None),
        ("str_list", Unconverted("a", "b"), ["a", "b"]),
        ("str_list", ["a"], ["a"]),
    ],
)
def test_good_values(kind, value, expected):
    assert check_value("opt", kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value", "words"),
    [
        ("int", Unconverted("soon"), ["opt='soon'", "integer", "1 to 9"]),
        ("int", Unconverted("1.5"), ["'1.5'", "integer"]),
        ("int", "8", ["'8'", "integer"]),
        ("int", True, ["True", "integer"]),
        ("str", 12, ["12", "string"]),
        ("str", Unconverted("a", "b"), ["2 times", "once"]),
        ("str", Unconverted(), ["needs a value"]),
        ("str_list", [1], ["[1]"]),
    ],
)
def test_bad_values_give_one_line(kind, value, words):
    with pytest.raises(UsageError) as err:
        check_value("opt", kind, value, "1 to 9")
    text = str(err.value)
    assert "\n" not in text and text.startswith("option opt: ")
    for w in words:
        assert w in text


def test_deferred_errors_only_for_own_bad_values():
    deferred = {
        "trace_flush_ms": Unconverted("soon"),
        "trace_file": Unconverted("x"),
        "other": Unconverted("z"),
    }
    errors = deferred_errors(
        deferred, {"trace_flush_ms": "int", "trace_file": "str"}, {"trace_flush_ms": "ms"}
    )
    assert list(errors) == ["trace_flush_ms"] and "ms" in errors["trace_flush_ms"]


def test_unknown_options_name_the_closest():
    known = ["trace_file", "trace_flush_ms", "faults", "fault", "mode"]
    lines = unknown_options(
        ["trace_fil", "faultz", "trace_zzzzzzzz", "mode", "web_port", "trace_file"], known
    )
    assert lines[0] == "option trace_fil: no such option; did you mean trace_file?"
    assert (
        lines[1] == "option faultz: no such option; did you mean faults?" or "did you mean fault" in lines[1]
    )
    assert "tearline's options are" in lines[2] and "trace_flush_ms" in lines[2]
    assert len(lines) == 3


def test_did_you_mean_none_when_far():
    assert did_you_mean("xyz", ["trace_file"]) is None
