"""tearline.faults.params: parameter metadata and checks."""

import pytest

from tearline.faults.delay import DelayFault
from tearline.faults.params import ParamError, check_choice, check_range, param_infos


def test_param_infos_read_the_declaration() -> None:
    infos = {p.name: p for p in param_infos(DelayFault)}
    assert list(infos) == ["ms", "jitter_ms", "on"]
    assert infos["ms"].required and infos["ms"].unit == "ms" and infos["ms"].kind == "int"
    assert infos["on"].choices == ("messages", "handshake", "headers") and infos["on"].default == "messages"


def test_check_choice_names_key_and_allowed() -> None:
    with pytest.raises(ParamError) as e:
        check_choice("to", "clent", ("client", "server"))
    assert e.value.key == "to" and e.value.allowed == ("client", "server")


@pytest.mark.parametrize(
    ("lo", "hi", "text"), [(0, None, ">= 0"), (None, 5, "<= 5"), (1, 5, "between 1 and 5")]
)
def test_check_range(lo: int | None, hi: int | None, text: str) -> None:
    check_range("x", None, lo, hi)
    with pytest.raises(ParamError, match=text):
        check_range("x", -1 if lo is not None else 6, lo, hi)
