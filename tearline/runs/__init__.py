"""Fault-injection runs on any app: run files, ``tearline run``, ``tearline matrix`` and symptom matching.

- ``model``     the run file: frozen dataclasses (pure)
- ``run_file``  reading and validating a run file into them (pure, no I/O)
- ``run_vars``  ``[vars]``, overrides and ``{name}`` substitution (pure)
- ``run_steps``  one ``[[step]]`` into a ``Step`` (pure)
- ``run_errors``  the one-line errors every run-file reader raises
- ``apps``      the bundled apps a run file can name (``app = "incident"``): one row each
- ``user_caddy``  the user's own Caddyfile, adapted to JSON with both legs tapped
- ``driver``    one run: start what the file needs, drive Chromium, collect, diagnose
- ``steps``     what each ``[[step]]`` does to the live browser
- ``symptoms``  what a run showed (error page, net errors, close codes, causes) and matching field reports
- ``matrix``    many runs (faults x variants x repeats) and their table (csv, json, html)
- ``cli``       the ``run`` and ``matrix`` commands
"""
