"""tearline.errors: one-line messages that name the file, the place and the fix."""

import pytest

from tearline.errors import InputError, TearlineError, UnsupportedVersion, UsageError, where


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((None, None, None), ""),
        (("cap.jsonl", 12, None), "cap.jsonl:12: "),
        (("scenario.toml", None, "fault 2, key 'to'"), "scenario.toml, fault 2, key 'to': "),
        ((None, 3, None), "line 3: "),
    ],
)
def test_where(args, expected):
    assert where(*args) == expected


def test_message_names_file_line_and_fix():
    err = InputError("not valid JSON", path="a.jsonl", line=7, hint="re-record it")
    assert str(err) == "a.jsonl:7: not valid JSON (re-record it)"
    assert err.path == "a.jsonl" and err.line == 7


def test_message_is_one_line_even_from_multiline_text():
    err = UsageError("bad\nvalue\n  here", place="--set trace_payload")
    assert "\n" not in str(err)
    assert str(err) == "--set trace_payload: bad value here"


def test_blame_split():
    assert issubclass(UsageError, TearlineError)
    assert issubclass(InputError, TearlineError)
    assert issubclass(UnsupportedVersion, InputError)
    assert not issubclass(UsageError, InputError)
