from tearline.analysis.diagnose.model import CAUSE_KINDS
from tearline.analysis.report.plot_style import CAUSE_STYLE, PALETTE, cause_label, cause_style, plain


def test_every_cause_kind_has_a_style_from_the_palette():
    assert set(CAUSE_STYLE) == set(CAUSE_KINDS)
    assert {st.color for st in CAUSE_STYLE.values()} <= set(PALETTE.values())
    assert cause_style("no_such_kind") == CAUSE_STYLE["unknown"]
    assert cause_label("no_such_kind") == "no such kind"


def test_plain_defuses_mathtext_control_characters_secrets_and_length():
    s = plain("a $x$ b\x00\n c ?token=abc " + "z" * 200, limit=60)
    assert "$x$" not in s and r"\$x\$" in s
    assert "\x00" not in s and "\n" not in s
    assert "abc" not in s and "token=[redacted]" in s
    assert len(s) <= 62 and s.endswith("…")
