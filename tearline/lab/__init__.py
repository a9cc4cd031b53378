"""The lab: real servers, a real mitmdump, Caddy and Chromium, for tests and the demo.

``tearline.lab.servers``  scriptable WebSocket / SSE / chunked servers on 127.0.0.1
                          (routes and checked parameters: ``server_routes``; WebSocket: ``server_ws``)
``tearline.lab.wire``     raw-socket clients (h11, websockets sans-I/O) that end with FIN or RST on request
``tearline.lab.mitmdump`` start and stop a real ``mitmdump`` subprocess
"""
