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
