"""tearline.faults.fault: the contract every fault in the table keeps."""

import dataclasses

import pytest

from tearline.faults.effects import Effect
from tearline.faults.fault import FirePoint
from tearline.faults.params import param_infos
from tearline.faults.table import FAULTS

REQUIRED = {"delay": {"ms": 10}, "throttle": {"bytes_per_s": 100}, "idle_timeout": {"ms": 100}}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_contract(name: str) -> None:
    cls = FAULTS[name]
    assert cls.name == name and cls.summary and cls.__doc__
    assert set(cls.streams) <= {"ws", "sse", "http-stream"} and cls.mode in ("once", "each")
    fault = cls(**REQUIRED.get(name, {}))
    assert set(fault.points) <= {"request", "headers", "data", "timer"} and fault.points
    assert dataclasses.is_dataclass(fault)
    for f in dataclasses.fields(fault)[:1]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(fault, f.name, getattr(fault, f.name))
    for p in param_infos(cls):
        assert p.help and p.kind
    for kind in cls.streams:
        effects = fault.effects(
            FirePoint(kind=kind, point=fault.points[0], direction="server", keep=3, rand=0.5)
        )
        assert isinstance(effects, tuple) and effects
        assert all(isinstance(e, Effect) for e in effects)  # type: ignore[arg-type]
