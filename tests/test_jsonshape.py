"""Typed accessors for untrusted JSON."""

from __future__ import annotations

from tearline.analysis.evidence.jsonshape import arr, num, obj, text


def test_wrong_types_become_empty() -> None:
    assert obj({"a": 1}) == {"a": 1} and obj([1]) == {} and obj(None) == {}
    assert arr([1]) == [1] and arr({"a": 1}) == [] and arr("x") == []
    assert text("x") == "x" and text("") is None and text(5) is None
    assert num(2) == 2.0 and num(True) is None and num(float("nan")) is None and num(float("inf")) is None
    assert num("3") is None
