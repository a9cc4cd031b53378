"""Never silently off: tearline's options are checked before mitmproxy can drop the addon.

Three ways mitmproxy would let tearline be off without a word, and what this does:

* A ``--set`` or config-file value that mitmproxy cannot convert to the option's
  type (``trace_flush_ms=soon``) raises inside the script's registration, and
  mitmproxy drops the whole script silently (``addonmanager.register`` ->
  ``options.process_deferred``). ``take_bad_values`` runs first in ``load``: it
  checks the deferred values itself, removes the bad ones and logs one line for
  each (``tearline.option_values``). An error logged at start-up makes mitmdump exit
  ("Error logged during startup, exiting...").
* An option nobody declares (``--set trace_fil=x``) stays in ``options.deferred``
  for ever. ``unknown_prefixed`` (called in ``running``, once every script is
  loaded) names those starting with ``trace_`` or ``fault``, with "did you mean".
* Anything else that keeps the addon from being configured: ``watch_registration``
  checks, once ``load`` has returned and the script's registration is over, that
  ``configure`` ran; if not, it logs why and stops the proxy.

A bad value at run time (``set`` in the console, mitmweb's options editor) is not
this module's business: ``configure`` raises ``OptionsError``, mitmproxy refuses the
change and keeps the previous value.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from mitmproxy import ctx

from tearline.option_values import deferred_errors, unknown_options

__all__ = ["fail", "take_bad_values", "unknown_prefixed", "watch_registration"]

log = logging.getLogger(__name__)

# Seconds to leave mitmproxy's own start-up check to exit non-zero before stopping the proxy.
_STOP_AFTER = 1.0


def take_bad_values(
    loader: Any, kinds: Mapping[str, str], allowed: Mapping[str, str] | None = None
) -> list[str]:
    """Remove deferred values of ``kinds`` that would not convert; log and return one line each."""
    opts = loader.master.options
    deferred = getattr(opts, "deferred", None)
    if not isinstance(deferred, dict):
        return []
    errors = deferred_errors(deferred, kinds, allowed)
    for name, message in errors.items():
        deferred.pop(name, None)
        log.error(f"tearline: {message}")
    return list(errors.values())


def unknown_prefixed() -> list[str]:
    """Log and return one line per unknown ``trace_*``/``fault*`` option still deferred."""
    deferred = getattr(ctx.options, "deferred", None) or {}
    lines = unknown_options(list(deferred), ctx.options.keys())  # type: ignore[no-untyped-call]
    for line in lines:
        log.error(f"tearline: {line}")
    return lines


def fail(message: str) -> None:
    """Log ``message`` and stop the proxy: tearline must not be off while the proxy runs on.

    At start-up mitmproxy's error check exits first (status 1); later, the proxy shuts down."""
    log.error(f"tearline: {message}")
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.call_later(_STOP_AFTER, ctx.master.shutdown)


def watch_registration(name: str, configured: Callable[[], bool], failed: Callable[[], bool]) -> None:
    """Once the current registration is over, check that addon ``name`` was configured."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # loaded outside an event loop (unit tests)
        return

    def check() -> None:
        if not configured() and not failed():
            fail(
                f"{name} was not configured, so tearline is off; mitmproxy dropped it while "
                "registering its options (any message above says why); stopping the proxy"
            )

    loop.call_soon(check)
