"""Importers: one per evidence source (capture, NetLog, DevTools events, HAR, console, Caddy log), each
turning a file into a ``SourceRecord`` of ``Observation``s; the browser's code tables they read."""
