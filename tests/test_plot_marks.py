import pandas as pd
from tearline.analysis.evidence.observation import OBSERVATION_KINDS
from tearline.analysis.report.lanes import normalize_timeline
from tearline.analysis.report.plot_marks import KIND_CATEGORY, MARKS, mark_category


def test_every_category_has_a_style_and_every_kind_is_known():
    assert set(KIND_CATEGORY.values()) <= set(MARKS)
    assert set(KIND_CATEGORY) <= set(OBSERVATION_KINDS)


def test_closes_and_console_lines_that_report_errors_are_errors():
    tl = normalize_timeline(
        pd.DataFrame(
            {
                "t": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                "kind": ["ws_closed", "socket_closed", "ws_closed", "console", "console", "ws_frame_sent"],
                "text": ["clean", "ERR_CONNECTION_RESET", "unclean", "hello", "Uncaught TypeError", None],
            }
        )
    )
    assert list(mark_category(tl)) == ["close", "error", "error", "console", "console_error", ""]
