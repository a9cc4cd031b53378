"""tearline.faults.truncate."""

import pytest

from tearline.faults.effects import Truncate
from tearline.faults.fault import FirePoint
from tearline.faults.params import ParamError
from tearline.faults.truncate import TruncateFault


def test_truncate_keeps_what_the_injector_says() -> None:
    f = TruncateFault(how="rst", mid_event=True)
    assert f.effects(FirePoint(kind="sse", point="data", keep=42)) == (Truncate(keep=42, how="rst"),)
    assert f.streams == ("sse", "http-stream")


def test_truncate_how() -> None:
    with pytest.raises(ParamError):
        TruncateFault(how="close")
