"""tearline.loopback: who the proxy serves when the user did not choose an address."""

import pytest

from tearline.loopback import is_loopback, should_refuse


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("192.0.2.7", False),
        ("2001:db8::1", False),
        ("::ffff:192.0.2.7", False),
        ("fe80::1%eth0", False),
        ("not-an-address", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    ("peer", "listen_host", "refused"),
    [
        ("192.0.2.7", "", True),  # default: other machines refused
        ("127.0.0.1", "", False),
        ("::1", "", False),
        (None, "", False),  # unix socket / unknown peer is local
        ("192.0.2.7", "0.0.0.0", False),  # the user opened it up
        ("192.0.2.7", "192.0.2.1", False),
    ],
)
def test_should_refuse(peer, listen_host, refused):
    assert should_refuse(peer, listen_host) is refused
