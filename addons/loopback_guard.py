"""mitmproxy addon "tearline_loopback": serve loopback clients only unless --listen-host is given.

mitmproxy binds every interface by default, and scripts load too late to change
where it listens, so the guard refuses (closes at once) any client connection from
another machine while ``listen_host`` is unset. Loaded by ``addons/ws_trace.py``.
"""

from __future__ import annotations

import logging
from typing import Any

from mitmproxy import ctx

from tearline.loopback import REFUSAL, should_refuse

__all__ = ["LoopbackGuard"]

logger = logging.getLogger(__name__)


class LoopbackGuard:
    name = "tearline_loopback"

    def running(self) -> None:
        if not ctx.options.listen_host:
            logger.info(
                "tearline: serving clients on this machine only (--listen-host ADDRESS to open it up)"
            )

    def client_connected(self, client: Any) -> None:
        peer = client.peername[0] if client.peername else None
        if should_refuse(peer, ctx.options.listen_host):
            client.error = REFUSAL
            logger.warning(f"tearline: refused {peer}: {REFUSAL}")
