"""Property: generated bad input to the scenario loaders, the one-line fault form, the capture reader
and the option checks only ever gives a result or tearline's own one-line error, never a traceback.

``TEARLINE_FUZZ_EXAMPLES`` raises the number of examples per property (``make stress`` runs
thousands); ``TEARLINE_FUZZ_COUNTS`` names a file where the count per target is appended
(docs/reliability.md reports them).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tearline.capture import read_capture
from tearline.errors import InputError, TearlineError, UsageError
from tearline.faults.scenario import load_scenario, parse_one_line, parse_scenario_text
from tearline.option_values import check_value, unknown_options
from tearline.trace_options import parse_trace_options

EXAMPLES = int(os.environ.get("TEARLINE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COUNTS: Counter[str] = Counter()

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((REPO / "examples" / "scenarios").glob("*.toml"))
SEED_TOML = [p.read_text() for p in SCENARIOS]
SEED_LINES = [
    "close:stream=ws,direction=server,after_messages=3,to=client,code=4001",
    "reset:stream=ws,after_ms=2000,to=client",
    "truncate:stream=sse,after_messages=2,mid_event=true",
    "delay:stream=ws,ms=200",
    "respond:status=503,times=1",
]
SEED_CAPTURE = (
    '{"format":"tearline-capture","version":1,"tearline":"0.1.0","started":1,"mono_started":1,"mode":[],"options":{}}\n'
    '{"type":"conn_open","ts":1767225600.0,"mono":1.0,"conn":"c","leg":"client"}\n'
    '{"type":"ws_start","ts":1767225600.1,"mono":1.1,"conn":"c","stream":"f"}\n'
    '{"type":"ws_message","ts":1767225600.2,"mono":1.2,"conn":"c","stream":"f","direction":"server",'
    '"opcode":"text","size":3,"index":0}\n'
    '{"type":"ws_close","ts":1767225600.5,"mono":1.5,"conn":"c","stream":"f","code":1006,"frame":false}\n'
    '{"type":"capture_end","ts":1767225601,"mono":2,"events":4}\n'
)


def one_line_error(e: BaseException) -> None:
    assert isinstance(e, TearlineError), repr(e)
    msg = str(e)
    assert msg and "\n" not in msg and "Traceback" not in msg


def damage(text: str, rnd: random.Random, n: int) -> str:
    data = list(text)
    for _ in range(n):
        op = rnd.choice(["replace", "delete", "insert", "cut", "dup"])
        i = rnd.randrange(len(data) + 1) if data else 0
        if op == "replace" and data:
            data[min(i, len(data) - 1)] = rnd.choice('=,:"[]{}\n#\\x0-1.eé\x00 ')
        elif op == "delete" and data:
            del data[i : i + rnd.randint(1, 6)]
        elif op == "insert":
            data[i:i] = list(
                rnd.choice(['"', "]]", "[[fault]]\n", "= 1e999", "=-1", "\x00", "\n[x]\n", "= true", "=[]"])
            )
        elif op == "dup":
            data[i:i] = data[max(0, i - 10) : i]
        else:
            del data[i:]
    return "".join(data)


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    out = os.environ.get("TEARLINE_FUZZ_COUNTS")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(dict(COUNTS)) + "\n")


@FUZZ
@given(seed=st.integers(0, len(SEED_TOML) - 1), rnd=st.randoms(use_true_random=False), n=st.integers(1, 6))
def test_damaged_scenarios(seed: int, rnd: random.Random, n: int) -> None:
    COUNTS["scenario (damaged TOML)"] += 1
    text = damage(SEED_TOML[seed], rnd, n)
    try:
        parse_scenario_text(text, "fuzz.toml")
    except Exception as e:
        one_line_error(e)


toml_values = st.recursive(
    st.none().map(lambda _: "x")
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=15),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=12,
)


def toml(v: Any) -> str:
    """A TOML value (enough for the generated ones)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "inf" if v == float("inf") else "-inf" if v == float("-inf") else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=True)
    if isinstance(v, list):
        return "[" + ", ".join(toml(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(x)}" for k, x in v.items()) + "}"


FAULT_KEYS = ["action", "stream", "direction", "after_messages", "after_ms", "after_bytes", "to", "code", "reason",
              "ms", "jitter_ms", "how", "status", "match", "first", "every", "probability", "seed", "mid_event",
              "bytes_per_s", "keep", "duration_ms", "id"]  # fmt: skip


@FUZZ
@given(tables=st.lists(st.dictionaries(st.sampled_from(FAULT_KEYS), toml_values, max_size=8), max_size=4))
def test_generated_fault_tables(tables: list[dict[str, Any]]) -> None:
    COUNTS["scenario (generated tables)"] += 1
    text = "".join(
        "[[fault]]\n" + "".join(f"{json.dumps(k)} = {toml(v)}\n" for k, v in t.items()) for t in tables
    )
    try:
        parse_scenario_text(text, "gen.toml")
    except Exception as e:
        one_line_error(e)


@FUZZ
@given(seed=st.sampled_from(SEED_LINES), rnd=st.randoms(use_true_random=False), n=st.integers(1, 5))
def test_damaged_one_line_faults(seed: str, rnd: random.Random, n: int) -> None:
    COUNTS["one-line fault (--set fault=)"] += 1
    try:
        parse_one_line(damage(seed, rnd, n), 1)
    except Exception as e:
        one_line_error(e)


@FUZZ
@given(text=st.text(max_size=120))
def test_any_text_as_one_line_fault(text: str) -> None:
    COUNTS["one-line fault (--set fault=)"] += 1
    try:
        parse_one_line(text, 1)
    except Exception as e:
        one_line_error(e)


@FUZZ
@given(
    rnd=st.randoms(use_true_random=False),
    n=st.integers(1, 8),
    raw=st.binary(max_size=400),
    mode=st.integers(0, 2),
)
def test_capture_reader(tmp_path_factory: Any, rnd: random.Random, n: int, raw: bytes, mode: int) -> None:
    COUNTS["capture reader"] += 1
    path = Path(tmp_path_factory.getbasetemp()) / f"fuzz-{os.getpid()}.jsonl"
    if mode == 0:
        path.write_text(damage(SEED_CAPTURE, rnd, n), encoding="utf-8", errors="surrogatepass")
    elif mode == 1:
        path.write_bytes(raw)
    else:
        path.write_bytes(SEED_CAPTURE.encode()[: rnd.randrange(len(SEED_CAPTURE))] + raw)
    try:
        read_capture(path)
    except Exception as e:
        assert isinstance(e, InputError), repr(e)
        one_line_error(e)


@FUZZ
@given(
    opts=st.dictionaries(
        st.sampled_from(
            [
                "trace_file",
                "trace_payload",
                "trace_redact_headers",
                "trace_redact_params",
                "trace_keep_messages",
                "trace_flush_ms",
            ]
        ),
        st.integers(-(2**40), 2**40) | st.text(max_size=20),
        max_size=6,
    ),
    names=st.lists(st.text(max_size=15), max_size=5),
)
def test_trace_options(opts: dict[str, Any], names: list[str]) -> None:
    COUNTS["recorder options"] += 1
    for name, value in opts.items():
        kind = "int" if name in ("trace_keep_messages", "trace_flush_ms") else "str"
        try:
            check_value(name, kind, value)
        except UsageError as e:
            one_line_error(e)
    try:
        parse_trace_options(opts, check_filter=lambda e: None)
    except Exception as e:
        assert isinstance(e, UsageError), repr(e)
        one_line_error(e)
    for line in unknown_options(["trace_" + n for n in names], ["trace_file", "fault", "faults"]):
        assert "\n" not in line


def test_seed_scenarios_are_valid() -> None:
    for p in SCENARIOS:
        assert load_scenario(p)
    for line in SEED_LINES:
        parse_one_line(line, 1)
