"""The Chrome NetLog importer: streaming reader, interpreter (a handler table over event types),
socket/stream state, HTTP/2 and QUIC transport, WebSocket frames."""
