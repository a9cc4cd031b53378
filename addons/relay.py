"""The faithful relay (stub; being built): relays each connection end as it happened."""

from __future__ import annotations


class Relay:
    """mitmproxy addon "tearline_relay": passes RST, FIN and close frames through unchanged."""

    name = "tearline_relay"
