"""A run file's ``[vars]``: defaults, command-line overrides (``--var``, ``--vary``) and ``{name}`` substitution.

``read_vars(doc, overrides, source)`` checks the ``[vars]`` table and applies overrides given as text in the
type of each default (``coerce_var``). ``substitute(node, variables, source, where)`` replaces ``{name}`` in
every string of the rest of the file; ``{{`` and ``}}`` are literal braces, and a string that is exactly
``"{name}"`` takes the variable's own type (so ``stream_timeout = "{timeout}"`` stays a number). An unknown
name is an error naming the key it is in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tearline.errors import UsageError
from tearline.runs.run_errors import did_you_mean, run_error

__all__ = ["coerce_var", "read_vars", "substitute"]

_VAR = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def coerce_var(raw: str, default: Any, *, source: str, name: str) -> Any:
    """An override given as text (``--var``/``--vary``), in the type of the variable's default."""
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false"):
                raise ValueError
            return raw.lower() == "true"
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise UsageError(
            f"value {raw!r} is not {type(default).__name__} like the default {default!r}",
            path=source,
            place=f"vars, key {name!r}",
            hint="give a value of the same type",
        ) from None
    return raw


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def substitute(node: Any, variables: Mapping[str, Any], source: str, where: str) -> Any:
    """``node`` (a TOML value, tables and arrays walked) with ``{name}`` replaced; ``where`` is its key."""
    if isinstance(node, dict):
        return {k: substitute(v, variables, source, f"{where}.{k}" if where else k) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, variables, source, f"{where}[{i + 1}]") for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node
    whole = _VAR.fullmatch(node)
    if whole and whole.group(1) and whole.group(1) in variables:
        return variables[whole.group(1)]

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        name = m.group(1)
        if name not in variables:
            raise UsageError(
                f"uses {{{name}}} but [vars] has no {name!r}",
                path=source,
                place=f"key {where!r}",
                hint=did_you_mean(name, list(variables))
                + f"add {name} = ... to [vars], or write {{{{ }}}} for braces",
            )
        return _text(variables[name])

    return _VAR.sub(one, node)


def read_vars(doc: Mapping[str, Any], overrides: Mapping[str, str], source: str) -> dict[str, Any]:
    """The variables: ``[vars]`` defaults, each override (text) converted to its default's type."""
    raw = doc.get("vars", {})
    if not isinstance(raw, dict):
        raise run_error(source, "vars", "must be a table", "write [vars] then name = value lines")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise run_error(
                source, f"vars, key {name!r}", "is not a valid variable name", "use letters, digits and _"
            )
        if not isinstance(value, str | int | float | bool):
            raise run_error(source, f"vars, key {name!r}", "must be a string, number or boolean")
        out[name] = value
    for name, text in overrides.items():
        if name not in out:
            raise run_error(
                source,
                f"vars, key {name!r}",
                "is given on the command line but the run file has no such variable",
                did_you_mean(name, list(out)) + "declare it in [vars] with a default",
            )
        out[name] = coerce_var(text, out[name], source=source, name=name)
    return out
