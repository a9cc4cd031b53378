"""Payload policy: none / preview:N / full."""

from __future__ import annotations

import base64

import pytest

from tearline.errors import UsageError
from tearline.events import WsMessage
from tearline.payload import PayloadPolicy, parse_payload_policy


def test_parse():
    assert parse_payload_policy("none").limit is None
    assert parse_payload_policy("").limit is None
    assert parse_payload_policy("FULL").limit == -1
    assert parse_payload_policy("preview:64").limit == 64
    assert parse_payload_policy("preview:64").text == "preview:64"


@pytest.mark.parametrize("bad", ["preview", "preview:0", "preview:-1", "preview:x", "all", "full:3"])
def test_bad_values_name_the_option_and_syntax(bad):
    with pytest.raises(UsageError) as err:
        parse_payload_policy(bad)
    assert "trace_payload" in str(err.value) and "preview:N" in str(err.value)


def test_fields():
    assert PayloadPolicy(None).fields(b"abc") == {}
    assert PayloadPolicy(-1).fields(b"abc") == {
        "payload": "abc",
        "payload_encoding": "utf-8",
        "payload_truncated": False,
    }
    assert PayloadPolicy(2).fields("abc") == {
        "payload": "ab",
        "payload_encoding": "utf-8",
        "payload_truncated": True,
    }
    binary = bytes([0xFF, 0x00, 0xFE])
    f = PayloadPolicy(-1).fields(binary)
    assert f["payload_encoding"] == "base64" and base64.b64decode(f["payload"]) == binary


def test_preview_cut_inside_a_utf8_character_stays_text():
    f = PayloadPolicy(2).fields("é!".encode())  # 'é' is 2 bytes: a cut at 2 is clean
    assert f["payload"] == "é"
    g = PayloadPolicy(2).fields("aé".encode())  # a cut at 2 splits 'é': keep the whole characters
    assert g["payload"] == "a" and g["payload_encoding"] == "utf-8" and g["payload_truncated"]


def test_fields_fit_events():
    ev = WsMessage(ts=1.0, mono=1.0, direction="client", size=3, **PayloadPolicy(1).fields(b"abc"))
    assert ev.payload == "a" and ev.payload_truncated
