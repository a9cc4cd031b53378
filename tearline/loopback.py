"""Privacy by default: tearline's proxy serves loopback clients only, unless told otherwise.

mitmproxy listens on every interface by default (``listen_host=""``). tearline's
recorder sees private traffic, so unless the user chose an address with
``--listen-host`` it accepts connections from this machine only. These are the
pure decisions; ``addons/loopback_guard.py`` applies them.
"""

from __future__ import annotations

import ipaddress

__all__ = ["REFUSAL", "is_loopback", "should_refuse"]

REFUSAL = (
    "tearline accepts connections from this machine only; "
    "pass --listen-host 0.0.0.0 (or an address) to let other machines use the proxy"
)


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1, IPv4-mapped loopback and the name "localhost"."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def should_refuse(peer_host: str | None, listen_host: str) -> bool:
    """Refuse a client when the user did not choose a listen address and the client is not local.

    ``listen_host`` is mitmproxy's option as the user left it: "" (the default) means
    "not chosen". A unix-socket or unknown peer (None) is local.
    """
    if listen_host:
        return False
    return peer_host is not None and not is_loopback(peer_host)
