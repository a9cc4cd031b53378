"""The bundled incident: a CopilotKit-style chat page (www) streaming an AG-UI run from a LangGraph-style
agent (ai) through Caddy, and the user clicking away mid-prediction. See ``backend.py``, ``www/`` and
``Caddyfile``; ``tearline demo`` runs it end to end.
"""
