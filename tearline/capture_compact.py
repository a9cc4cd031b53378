"""The compact line encoding of capture format version 2, and fast event building.

Version 2 writes the same events as version 1 with three rules that make a WebSocket
message line about a third as long (docs/capture-format.md, "Version 2"):

1. **Short ids.** A ``conn`` or ``stream`` id is written in full (a string) the first
   time it appears; afterwards as an integer, its 0-based rank among the ids of that
   kind in order of first appearance. Ids in other fields (``client_conn``,
   ``server_conn``) stay strings.
2. **A stream's connection is implied.** The first event of a stream that names a
   connection makes it the stream's connection; later events of that stream leave out
   ``conn`` when it is that one (and write ``"conn": null`` when they have none).
3. **Relative times, defaults left out.** ``ts`` is written as seconds since the header's
   ``started``, ``mono`` as seconds since ``mono_started``, each with the fewest decimals
   (at least 7 and 9) that give the original float back exactly (``started + ts``); a time
   no offset can give back exactly is written absolute, as a one-element list. Every field
   equal to its declared default is left out, the way version 1 left out ``null``.

``CompactEncoder`` / ``CompactDecoder`` hold the per-file state of rules 1 and 2. New
event types and new optional fields need nothing here: defaults come from the event
classes, unknown keys pass through to ``event_from_dict``-style building (and are ignored).

``build_event`` is the fast equivalent of ``tearline.events.event_from_dict`` (same
checks, same errors, same result) with the per-class work done once.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from tearline.events import EVENT_TYPES, Event, event_to_dict

__all__ = ["CompactDecoder", "CompactEncoder", "build_event"]

TS_DIGITS = 7
MONO_DIGITS = 9


class _Spec:
    """What building or encoding one event class needs, computed once."""

    __slots__ = ("cls", "defaults", "names", "required", "tuple_fields")

    def __init__(self, cls: type[Event]) -> None:
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        self.cls = cls
        self.names = frozenset(f.name for f in fields)
        self.required = tuple(
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
        self.tuple_fields = tuple(f.name for f in fields if _has_tuple(hints[f.name]))
        defaults: dict[str, Any] = {}
        for f in fields:
            if f.default is not dataclasses.MISSING:
                defaults[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                defaults[f.name] = f.default_factory()
        self.defaults = {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()}


def _has_tuple(hint: Any) -> bool:
    if typing.get_origin(hint) is tuple:
        return True
    return any(typing.get_origin(a) is tuple for a in typing.get_args(hint))


_SPECS: dict[str, _Spec] = {}


def _spec(kind: Any) -> _Spec | None:
    spec = _SPECS.get(kind)
    if spec is None:
        cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            return None
        spec = _SPECS[kind] = _Spec(cls)
    return spec


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def build_event(data: dict[str, Any]) -> Event:
    """An event from its (version-1 shaped) JSON object, which it consumes; ``ValueError``
    with a readable reason. The common case (known keys, float times, no lists) is one call."""
    kind = data.pop("type", None)
    spec = _SPECS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        spec = _spec(kind)
        if spec is None:
            raise ValueError(f"unknown event type {kind!r}")
    if type(data.get("ts")) is float and type(data.get("mono")) is float and not spec.tuple_fields:
        try:
            return spec.cls(**data)
        except TypeError:
            pass  # unknown keys or a missing field: the careful path says which
    return _build_careful(spec, kind, data)


def _build_careful(spec: _Spec, kind: str, data: dict[str, Any]) -> Event:
    names = spec.names
    kwargs = {k: v for k, v in data.items() if k in names}
    for name in spec.tuple_fields:
        value = kwargs.get(name)
        if isinstance(value, list):
            kwargs[name] = _tuplify(value)
    missing = [r for r in spec.required if r not in kwargs]
    if missing:
        raise ValueError(f"{kind} event lacks field(s) {', '.join(missing)}")
    for name in ("ts", "mono"):
        value = kwargs[name]
        if type(value) is not float:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"{kind} event has a non-numeric {name}: {value!r}")
            kwargs[name] = float(value)
    try:
        return spec.cls(**kwargs)
    except TypeError as e:
        raise ValueError(f"{kind} event: {e}") from None


def _relative(value: float, base: float, digits: int) -> float | list[float]:
    """``value - base`` with the fewest decimals (from ``digits``) that give ``value`` back
    exactly as ``base + written``; ``[value]`` (absolute) when no decimal offset does."""
    d = value - base
    for k in range(digits, 18):
        r = round(d, k)
        if base + r == value:
            return r
    return [value]


class CompactEncoder:
    """Turns events into version-2 line objects; one per capture file (it keeps the id tables)."""

    def __init__(self, started: float, mono_started: float) -> None:
        self.started = started
        self.mono_started = mono_started
        self._ids: dict[str, dict[str, int]] = {"conn": {}, "stream": {}}
        self._home: dict[str, str] = {}  # stream id -> its connection id

    def _short(self, space: str, value: str) -> str | int:
        table = self._ids[space]
        n = table.get(value)
        if n is None:
            table[value] = len(table)
            return value
        return n

    def encode(self, event: Event) -> dict[str, Any]:
        return self.encode_dict(event_to_dict(event))

    def encode_dict(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Like ``encode``, from the event's version-1 object (consumed)."""
        spec = _spec(obj.get("type"))
        defaults = spec.defaults if spec is not None else {}
        out: dict[str, Any] = {"type": obj.pop("type")}
        out["ts"] = _relative(obj.pop("ts"), self.started, TS_DIGITS)
        out["mono"] = _relative(obj.pop("mono"), self.mono_started, MONO_DIGITS)
        conn = obj.pop("conn", None)
        stream = obj.pop("stream", None)
        if stream is not None:
            home = self._home.get(stream)
            if home is None and conn is not None:
                self._home[stream] = conn
                out["conn"] = self._short("conn", conn)
            elif conn != home:
                out["conn"] = None if conn is None else self._short("conn", conn)
            out["stream"] = self._short("stream", stream)
        elif conn is not None:
            out["conn"] = self._short("conn", conn)
        for k, v in obj.items():
            if k in defaults and defaults[k] == v and type(defaults[k]) is type(v):
                continue
            out[k] = v
        return out


class CompactDecoder:
    """Turns version-2 line objects back into version-1 shaped ones (absolute times, full ids)."""

    def __init__(self, header: dict[str, Any]) -> None:
        started = header.get("started")
        mono_started = header.get("mono_started")
        self.started = float(started) if isinstance(started, int | float) else 0.0
        self.mono_started = float(mono_started) if isinstance(mono_started, int | float) else 0.0
        self._ids: dict[str, list[str]] = {"conn": [], "stream": []}
        self._known: dict[str, set[str]] = {"conn": set(), "stream": set()}
        self._home: dict[str, str] = {}

    @property
    def stream_ids(self) -> list[str]:
        """Full stream ids in order of first appearance (index = the short id)."""
        return self._ids["stream"]

    def stream_home(self, number: int) -> tuple[str, str | None]:
        """The full id of the short stream id ``number`` and the connection it implies for lines
        that leave out ``conn``; ``ValueError`` for a number no earlier line named."""
        table = self._ids["stream"]
        if not 0 <= number < len(table):
            raise ValueError(f"stream {number} refers to no id seen before")
        stream = table[number]
        return stream, self._home.get(stream)

    def _full(self, space: str, value: Any) -> Any:
        if type(value) is int:
            table = self._ids[space]
            if 0 <= value < len(table):
                return table[value]
            raise ValueError(f"{space} {value} refers to no id seen before")
        if isinstance(value, str):
            if value not in self._known[space]:
                self._known[space].add(value)
                self._ids[space].append(value)
            return value
        if value is None:
            return None
        raise ValueError(f"{space} must be an id string or number, not {value!r}")

    def decode(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The version-1 object for a version-2 line object (changed in place and returned)."""
        ts = obj.get("ts")
        if type(ts) is float or type(ts) is int:
            obj["ts"] = self.started + ts
        elif isinstance(ts, list) and len(ts) == 1:
            obj["ts"] = ts[0]
        mono = obj.get("mono")
        if type(mono) is float or type(mono) is int:
            obj["mono"] = self.mono_started + mono
        elif isinstance(mono, list) and len(mono) == 1:
            obj["mono"] = mono[0]
        stream = obj.get("stream")
        if stream is not None:
            if type(stream) is int:
                table = self._ids["stream"]
                if not 0 <= stream < len(table):
                    raise ValueError(f"stream {stream} refers to no id seen before")
                stream = obj["stream"] = table[stream]
            else:
                stream = obj["stream"] = self._full("stream", stream)
            if "conn" in obj:
                conn = obj["conn"] = self._full("conn", obj["conn"])
                if conn is not None and stream not in self._home:
                    self._home[stream] = conn
            else:
                conn = self._home.get(stream)
                if conn is not None:
                    obj["conn"] = conn
        elif "conn" in obj:
            obj["conn"] = self._full("conn", obj["conn"])
        return obj
