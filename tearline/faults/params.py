"""How a fault (or a trigger) declares its parameters: type, unit, allowed values, help.

A parameter is a dataclass field whose ``metadata`` comes from ``param()``. The
scenario loader, the one-line parser, ``tearline faults`` and docs/faults.md all
read this metadata, so a parameter is described in exactly one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["ParamError", "ParamInfo", "check_choice", "check_range", "param", "param_infos"]

# kind of a parameter value, as written in a scenario
KINDS = ("int", "float", "str", "bool", "int|str")


class ParamError(ValueError):
    """A parameter value is wrong. ``key`` names the parameter, ``allowed`` lists valid values."""

    def __init__(self, key: str, message: str, allowed: tuple[str, ...] = ()) -> None:
        self.key = key
        self.allowed = allowed
        super().__init__(message)


@dataclass(frozen=True, kw_only=True, slots=True)
class ParamInfo:
    """What ``tearline faults`` shows for one parameter."""

    name: str
    kind: str  # one of KINDS
    help: str
    unit: str = ""  # e.g. "ms", "bytes", "bytes/s"; "" for none
    choices: tuple[str, ...] = ()
    default: Any = None
    required: bool = False


def param(help: str, *, kind: str, unit: str = "", choices: tuple[str, ...] = ()) -> dict[str, Any]:
    """Field metadata for a parameter: ``field(default=..., metadata=param(...))``."""
    assert kind in KINDS, kind
    return {"help": help, "kind": kind, "unit": unit, "choices": choices}


def param_infos(cls: type) -> list[ParamInfo]:
    """The declared parameters of a fault or trigger class, in declaration order."""
    out = []
    for f in dataclasses.fields(cls):
        if "kind" not in f.metadata:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.append(
            ParamInfo(
                name=f.name,
                kind=f.metadata["kind"],
                help=f.metadata["help"],
                unit=f.metadata["unit"],
                choices=tuple(f.metadata["choices"]),
                default=None if required else f.default,
                required=required,
            )
        )
    return out


def check_choice(key: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise ``ParamError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ParamError(key, f"{value!r} is not allowed", choices)


def check_range(key: str, value: float | None, lo: float | None = None, hi: float | None = None) -> None:
    """Raise ``ParamError`` unless ``lo <= value <= hi`` (None bounds are open; a None value passes)."""
    if value is None:
        return
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        if hi is None:
            span = f">= {lo}"
        elif lo is None:
            span = f"<= {hi}"
        else:
            span = f"between {lo} and {hi}"
        raise ParamError(key, f"{value!r} is out of range: must be {span}")
