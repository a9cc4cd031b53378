"""Hypothesis strategies that build any valid capture event (shared by test_events/test_capture)."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from hypothesis import strategies as st

from tearline import events as ev

text = st.text(max_size=20)
opt_text = st.none() | text
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
small_int = st.integers(min_value=-(2**31), max_value=2**31)
# a capture's integers are read as 64-bit ones (orjson); fault parameters are range-checked far inside that
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

# fields whose values are restricted, by name
BY_NAME: dict[str, Any] = {
    "leg": st.sampled_from(ev.LEGS),
    "direction": st.sampled_from(ev.DIRECTIONS),
    "kind": st.sampled_from(ev.STREAM_KINDS),
    "opcode": st.sampled_from(("text", "binary")),
    "closed_by": st.none() | st.sampled_from(ev.SIDES),
    "answered_by": st.none() | st.sampled_from(ev.SIDES),
    "transport_end": st.none() | st.sampled_from(ev.CONN_CLOSE_HOW),
    "action": st.sampled_from(ev.RELAY_ACTIONS),
    "payload_encoding": st.none(),
    "payload": st.none(),
    "params": st.dictionaries(st.text(max_size=5), int64 | text, max_size=3),
    "proxy_cost": st.none() | st.dictionaries(st.text(max_size=12), small_int | finite, max_size=8),
}
BY_CLASS_FIELD: dict[tuple[str, str], Any] = {
    ("conn_close", "by"): st.sampled_from(ev.CONN_CLOSE_BY),
    ("conn_close", "how"): st.sampled_from(ev.CONN_CLOSE_HOW),
    ("body_end", "how"): st.sampled_from(ev.BODY_END_HOW),
    ("h2_reset", "by"): st.sampled_from(ev.SIDES),
    ("h2_goaway", "by"): st.sampled_from(ev.SIDES),
    ("ws_ping", "kind"): st.sampled_from(("ping", "pong")),
    ("ws_protocol_error", "by"): st.sampled_from(ev.DIRECTIONS),
    ("fault_fired", "action"): text,
    ("fault_armed", "action"): text,
}


def _for_hint(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return st.one_of(*[_for_hint(a) for a in args])
    if hint is type(None):
        return st.none()
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(_for_hint(args[0]), max_size=3).map(tuple)
        return st.tuples(*[_for_hint(a) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if hint is bool:
        return st.booleans()
    if hint is int:
        return small_int
    if hint is float:
        return finite
    if hint is str:
        return text
    raise NotImplementedError(hint)


def event_strategy(cls: type[ev.Event]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        s = BY_CLASS_FIELD.get((cls.type, f.name))
        if s is None:
            s = BY_NAME.get(f.name)
        kwargs[f.name] = s if s is not None else _for_hint(hints[f.name])
    payload = (
        st.tuples(st.text(max_size=10), st.sampled_from(["utf-8", "base64"]), st.booleans())
        if issubclass(cls, ev._Payload)
        else None
    )
    base = st.fixed_dictionaries(kwargs)
    if payload is not None:
        base = st.tuples(base, st.none() | payload).map(
            lambda t: {
                **t[0],
                **(
                    {}
                    if t[1] is None
                    else dict(zip(("payload", "payload_encoding", "payload_truncated"), t[1], strict=True))
                ),
            }
        )
    return base.map(lambda kw: cls(**kw))


any_event = st.one_of(*[event_strategy(c) for c in ev.EVENT_TYPES.values()])
