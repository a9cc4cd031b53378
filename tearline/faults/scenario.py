"""Scenario files (TOML ``[[fault]]`` tables) and the one-line form, validated on load.

A scenario::

    [[fault]]
    action = "close"          # a name from FAULTS
    match = "~u /agent"       # mitmproxy filter expression (optional)
    stream = "ws"
    direction = "server"      # whose messages after_messages counts
    after_messages = 3
    to = "client"
    code = 4001

The one-line form, for ``--set fault=...``, is the same table written as
``close:stream=ws,direction=server,after_messages=3,to=client,code=4001``
(values may be quoted: ``reason="a, b"``).

Every mistake is a ``UsageError`` naming the file (or option), the fault
number and the key, with the allowed values and a close match for typos.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tearline.errors import UsageError
from tearline.faults.armed import FaultSpec
from tearline.faults.params import ParamError, ParamInfo, param_infos
from tearline.faults.table import FAULTS
from tearline.faults.triggers import Trigger

__all__ = [
    "TRIGGER_KEYS",
    "load_scenario",
    "one_line",
    "parse_fault",
    "parse_one_line",
    "parse_scenario_text",
    "table_keys",
]

TRIGGER_KEYS: tuple[str, ...] = tuple(p.name for p in param_infos(Trigger))
_KIND_TEXT = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "int|str": "an integer or a string",
}


def _suggest(word: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def _hint(allowed: Sequence[str], word: object = None) -> str:
    text = f"allowed: {', '.join(allowed)}" if allowed else ""
    if isinstance(word, str) and allowed:
        s = _suggest(word, allowed)
        if s:
            text += f"; {s}"
    return text


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def parse_fault(
    table: dict[str, Any], *, source: str | None, number: int, fault_id: str, place_prefix: str = ""
) -> FaultSpec:
    """Validate one ``[[fault]]`` table into a ``FaultSpec``."""

    def err(message: str, key: str | None = None, hint: str | None = None) -> UsageError:
        place = f"{place_prefix}fault {number}" + (f", key {key!r}" if key else "")
        return UsageError(message, path=source, place=place, hint=hint or None)

    if "action" not in table:
        raise err("has no 'action'", "action", _hint(sorted(FAULTS)))
    action = table["action"]
    if not isinstance(action, str) or action not in FAULTS:
        raise err(f"unknown action {action!r}", "action", _hint(sorted(FAULTS), action))
    cls = FAULTS[action]
    fault_params: dict[str, ParamInfo] = {p.name: p for p in param_infos(cls)}
    trigger_params: dict[str, ParamInfo] = {p.name: p for p in param_infos(Trigger)}
    allowed = ["action", *TRIGGER_KEYS, *fault_params]
    fault_kw: dict[str, Any] = {}
    trigger_kw: dict[str, Any] = {}
    for key, value in table.items():
        if key == "action":
            continue
        info = fault_params.get(key) or trigger_params.get(key)
        if info is None:
            raise err(f"unknown key for action {action!r}", key, _hint(allowed, key))
        if not _type_ok(value, info.kind):
            raise err(
                f"must be {_KIND_TEXT[info.kind]}, not {type(value).__name__} {value!r}",
                key,
                _hint(info.choices),
            )
        (fault_kw if key in fault_params else trigger_kw)[key] = value
    try:
        trigger = Trigger(**trigger_kw)
        fault = cls(**fault_kw)
    except ParamError as e:
        value = {**trigger_kw, **fault_kw}.get(e.key)
        raise err(str(e), e.key, _hint(e.allowed, value)) from None
    except TypeError:
        missing = [p.name for p in fault_params.values() if p.required and p.name not in fault_kw]
        raise err(f"is required for action {action!r}", missing[0] if missing else None) from None
    if trigger.stream != "any" and trigger.stream not in cls.streams:
        raise err(
            f"{trigger.stream!r} streams cannot be given action {action!r}",
            "stream",
            _hint([*cls.streams, "any"]),
        )
    if trigger.event is not None and trigger.stream not in ("sse", "any"):
        raise err("'event' only applies to SSE streams (set stream = \"sse\")", "event")
    return FaultSpec(fault_id=fault_id, fault=fault, trigger=trigger)


def parse_scenario_text(text: str, source: str) -> list[FaultSpec]:
    """Parse a whole scenario file's text; ``source`` names it in errors and fault ids."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(
            f"is not valid TOML: {e}", path=source, hint="see docs/faults.md for the format"
        ) from None
    for key in doc:
        if key != "fault":
            raise UsageError(
                f"unknown top-level key {key!r}",
                path=source,
                hint="a scenario is a list of [[fault]] tables"
                + ("; " + _suggest(key, ["fault"]) if _suggest(key, ["fault"]) else ""),
            )
    faults = doc.get("fault")
    if not isinstance(faults, list) or not faults or not all(isinstance(t, dict) for t in faults):
        raise UsageError(
            "has no [[fault]] tables", path=source, hint='add one: [[fault]] action = "close" ...'
        )
    name = Path(source).name
    return [parse_fault(t, source=source, number=i, fault_id=f"{name}#{i}") for i, t in enumerate(faults, 1)]


def load_scenario(path: str | Path) -> list[FaultSpec]:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            "no such scenario file", path=p, hint="check the path given to --set faults="
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read the scenario: {e}", path=p) from None
    return parse_scenario_text(text, str(p))


# --- the one-line form ------------------------------------------------------------------------


def _split_items(text: str) -> list[str]:
    items, cur, quote = [], "", ""
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            cur += ch
        elif ch == ",":
            items.append(cur)
            cur = ""
        else:
            cur += ch
    if quote:
        raise ValueError("a quoted value is not closed")
    items.append(cur)
    return [i.strip() for i in items if i.strip()]


def _coerce(raw: str, kind: str) -> Any:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    if kind in ("int", "int|str"):
        try:
            return int(raw)
        except ValueError:
            return raw
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            return raw
    if kind == "bool":
        return {"true": True, "false": False}.get(raw.lower(), raw)
    return raw


def parse_one_line(text: str, number: int = 1, *, source: str | None = None) -> FaultSpec:
    """``close:stream=ws,after_messages=3,code=4001`` -> a ``FaultSpec`` with id ``cli#<number>``."""
    prefix = f"--set fault={text!r}, " if source is None else ""
    action, _, rest = text.strip().partition(":")
    table: dict[str, Any] = {"action": action.strip()}
    infos = {p.name: p for p in param_infos(Trigger)}
    if table["action"] in FAULTS:
        infos.update({p.name: p for p in param_infos(FAULTS[table["action"]])})
    try:
        items = _split_items(rest)
    except ValueError as e:
        raise UsageError(str(e), path=source, place=f"{prefix}fault {number}") from None
    for item in items:
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq:
            raise UsageError(
                f"{item!r} is not key=value",
                path=source,
                place=f"{prefix}fault {number}",
                hint="write e.g. close:to=client,code=4001",
            )
        info = infos.get(key)
        table[key] = _coerce(raw.strip(), info.kind) if info else raw.strip()
    return parse_fault(table, source=source, number=number, fault_id=f"cli#{number}", place_prefix=prefix)


def one_line(spec: FaultSpec) -> str:
    """The one-line form of a spec (parameters at their defaults left out); ``parse_one_line`` reads it back."""
    defaults = {f.name: f.default for f in dataclasses.fields(spec.fault)}
    items = []
    for key, value in table_keys(spec).items():
        if key == "action" or (key in defaults and defaults[key] == value):
            continue
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, str):
            text = (
                f'"{value}"'
                if ("," in value or "=" in value or value[:1] in "\"'" or value != value.strip() or not value)
                else value
            )
        else:
            text = str(value)
        items.append(f"{key}={text}")
    return spec.action + (":" + ",".join(items) if items else "")


def table_keys(spec: FaultSpec) -> dict[str, Any]:
    """The ``[[fault]]`` table equivalent to a spec (for printing and round trips)."""
    out: dict[str, Any] = {"action": spec.action}
    for f in dataclasses.fields(spec.fault):
        out[f.name] = getattr(spec.fault, f.name)
    out.update(spec.trigger.as_params())
    return out
