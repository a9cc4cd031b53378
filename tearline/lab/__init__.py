"""The lab: real servers, a real mitmdump, Caddy and Chromium, for tests and the demo.

``tearline.lab.servers``  scriptable WebSocket / SSE / chunked servers on 127.0.0.1
``tearline.lab.mitmdump`` start and stop a real ``mitmdump`` subprocess
"""
