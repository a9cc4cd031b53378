"""tearline: find out why WebSocket and streaming connections die.

The ``tearline`` package is the part of tearline that does no proxy I/O: the
event vocabulary (:mod:`tearline.events`), the capture file format
(:mod:`tearline.capture`), the error types (:mod:`tearline.errors`) and the
command line (:mod:`tearline.cli`). It never imports mitmproxy; the mitmproxy
edge lives in ``addons/`` and the pandas/matplotlib side in ``analysis/``.
"""

__version__ = "0.1.0"
