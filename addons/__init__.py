"""tearline's mitmproxy addons (the only code that imports mitmproxy).

Load them as scripts: ``mitmdump -s addons/ws_trace.py [-s addons/faults.py]``.
"""
