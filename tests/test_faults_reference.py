"""tearline.faults.reference: docs/faults.md is exactly what `tearline faults --markdown` prints."""

from pathlib import Path

from tearline.faults.params import param_infos
from tearline.faults.reference import render_markdown, render_text
from tearline.faults.table import FAULTS

REPO = Path(__file__).resolve().parent.parent


def test_docs_file_is_generated() -> None:
    assert (REPO / "docs" / "faults.md").read_text() == render_markdown(), (
        "docs/faults.md is stale: run `tearline faults --markdown > docs/faults.md`"
    )


def test_every_fault_and_parameter_is_documented() -> None:
    md, text = render_markdown(), render_text()
    for name, cls in FAULTS.items():
        assert f"## {name}" in md and f"\n{name} " in text
        for p in param_infos(cls):
            assert f"`{p.name}`" in md
    assert "[bytes/s]" in text and "[ms]" in text  # units shown
