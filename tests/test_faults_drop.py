"""tearline.faults.drop."""

from tearline.faults.drop import DropFault
from tearline.faults.effects import Drop
from tearline.faults.fault import FirePoint


def test_drop_each_unit() -> None:
    f = DropFault()
    assert f.mode == "each" and f.points == ("data",)
    assert f.effects(FirePoint(kind="sse", point="data")) == (Drop(),)
