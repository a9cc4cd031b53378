"""The bundled incident: a CopilotKit-style chat page (www) streaming an AG-UI run from a LangGraph-style
agent (ai) through Caddy, and the user clicking away mid-prediction. See ``backend.py``, ``www/`` and
``Caddyfile`` (for running it by hand, docs/lab.md; the lab and ``tearline demo`` build the same two sites as
Caddy JSON with ``tearline.lab.caddy_config``); ``tearline demo`` runs it end to end.
"""
