"""tearline.faults.table: the one table of faults."""

from tearline.faults.table import FAULTS

ISSUE_FAULTS = {
    "close",
    "abort",
    "reset",
    "truncate",
    "delay",
    "stall",
    "drop",
    "throttle",
    "respond",
    "idle_timeout",
    "goaway",  # issue 10: HTTP/2 GOAWAY
}


def test_every_fault_of_the_issue_is_in_the_table() -> None:
    assert set(FAULTS) == ISSUE_FAULTS
    assert all(cls.name == name for name, cls in FAULTS.items())


def test_every_fault_says_whether_it_ends_the_stream() -> None:
    """The diagnosis reads ``ends``: a shaping fault is not named for an end the stream outlived."""
    shaping = {name for name, cls in FAULTS.items() if cls.ends is False}
    assert all(isinstance(cls.ends, bool) for cls in FAULTS.values())
    assert shaping == {"delay", "stall", "drop", "throttle"}
