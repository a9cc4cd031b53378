"""Where tearline's packages live (everything else is in pyproject.toml).

The mitmproxy edge (``addons/``) and the pandas/matplotlib side (``analysis/``) stay at the top of the
repository, as the design card has them and so that ``mitmdump -s addons/ws_trace.py`` works from a
checkout, but they install inside tearline's namespace as ``tearline.addons`` and ``tearline.analysis``:
no generic top-level ``addons`` or ``analysis`` package lands in site-packages.
"""

from setuptools import find_packages, setup

EDGES = ("addons", "analysis")

setup(
    packages=find_packages(include=["tearline", "tearline.*"])
    + [f"tearline.{p}" for p in find_packages(include=[f"{e}{s}" for e in EDGES for s in ("", ".*")])],
    package_dir={"tearline": "tearline", **{f"tearline.{e}": e for e in EDGES}},
)
