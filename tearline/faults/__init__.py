"""Fault injection, the pure core: what to break, when, and what to do (no I/O, no mitmproxy).

- ``effects``   the decisions a fault returns (``Forward``, ``Drop``, ``Delay``, ``Close`` ...)
- ``params``    how a fault declares its parameters (type, unit, allowed values)
- one module per fault (``close``, ``abort``, ``reset``, ``truncate``, ``delay``, ``stall``,
  ``drop``, ``throttle``, ``respond``, ``idle_timeout``)
- ``table``     ``FAULTS``: the one table of faults by name
- ``triggers``  when a fault fires: stream kind, direction, counts, timers, regex, probability, times
- ``scenario``  TOML ``[[fault]]`` files and the one-line form, validated
- ``injector``  per-stream state: feeds traffic through the armed faults and returns effects
- ``framing``   splitting a body into SSE events / chunks for counting and cutting
- ``cli``       ``tearline faults``

``addons/faults.py`` is the mitmproxy edge that carries the effects out.
"""
