"""How an SPC or funnel result shows itself in a notebook: its chart, its reading, its table.

:meth:`qiwidgets.spc.SPCResult._repr_mimebundle_` (and ``to_html``) call these, importing this
module only when a result is displayed, so that importing :mod:`qiwidgets.spc` imports neither
Altair nor vl-convert. The chart is static SVG rendered here by vl-convert (nothing fetched,
no script; see ``../shared/docs/jupyter-traps.md``), the same in JupyterLab, papermill, nbconvert
and Voilà. Nothing is computed: every number and word comes from the result.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from qiwidgets.spc.reading import format_number

__all__ = ["MAX_TABLE_ROWS", "mimebundle", "result_html", "summary_frame"]

#: Rows of the summary table shown under a chart; the rest stay in ``result.summary``.
MAX_TABLE_ROWS = 24

#: The summary columns shown for a control or Making Data Count chart, in this order (those a
#: result has); the facet columns come first.
SPC_COLUMNS = (
    "part",
    "rebase_group",
    "x_start",
    "x_end",
    "n_obs",
    "n",
    "cl",
    "lcl",
    "ucl",
    "longest_run",
    "longest_run_max",
    "n_crossings",
    "n_crossings_min",
    "runs_signal",
    "sigma_signal",
    "variation_type",
    "assurance_type",
    "target",
)
#: The columns shown for a funnel plot: one row per unit.
FUNNEL_COLUMNS = ("group", "numerator", "denominator", "value", "lcl", "ucl", "position")

_TABLE = 'style="border-collapse:collapse;font-size:0.85em;font-family:sans-serif"'
_TH = 'style="text-align:left;padding:2px 8px;border-bottom:1px solid #999"'
_TD = 'style="padding:2px 8px;border-bottom:1px solid #e3e3e3"'


def _is_funnel(result: Any) -> bool:
    return getattr(result, "chart_type", None) == "funnel"


def summary_frame(result: Any) -> pd.DataFrame:
    """The table shown under the chart: a few columns of ``result.summary`` (of
    ``result.points`` for a funnel plot, one row per unit)."""
    if _is_funnel(result):
        frame, wanted = result.points, FUNNEL_COLUMNS
    else:
        frame, wanted = result.summary, (*result.facets, *SPC_COLUMNS)
    return frame[[c for c in wanted if c in frame.columns]]


def _cell(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format_number(value)
    return str(value).replace("_", " ") if isinstance(value, str) else str(value)


def _table_html(frame: pd.DataFrame) -> str:
    shown = frame.head(MAX_TABLE_ROWS)
    head = "".join(f"<th {_TH}>{html.escape(str(c))}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td {_TD}>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in shown.itertuples(index=False)
    )
    more = ""
    if len(frame) > len(shown):
        more = (
            f'<p style="font-size:0.85em">… {len(frame) - len(shown)} more rows in '
            "<code>result.summary</code>.</p>"
        )
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _chart_html(result: Any, options: dict) -> str:
    from qiwidgets.charts.render import to_html
    from qiwidgets.errors import QIError

    try:
        return to_html(result.chart(**options))
    except (QIError, ValueError) as exc:  # a chart that cannot be drawn hides not the rest
        return f"<p><em>The chart cannot be drawn: {html.escape(str(exc))}</em></p>"


def result_html(result: Any, **options: Any) -> str:
    """The chart (inline SVG, its title naming the rule set, the reading as its caption) and
    the summary table as one static HTML fragment (``options`` go to ``result.chart``)."""
    if len(result.points) == 0:
        from qiwidgets.spc.result import NO_POINTS_MESSAGE

        return f"<p><em>{html.escape(NO_POINTS_MESSAGE)}</em></p>"
    parts = ['<div class="qiw-result">', _chart_html(result, options)]
    parts.append(_table_html(summary_frame(result)))
    for warning in getattr(result, "warnings", ()):
        parts.append(
            f'<p style="font-size:0.85em;font-family:sans-serif">Warning: '
            f"{html.escape(str(warning))}</p>"
        )
    parts.append("</div>")
    return "".join(parts)


def mimebundle(result: Any) -> dict[str, str]:
    """Jupyter's display of a result: the HTML of :func:`result_html`, and as plain text the
    short description and the reading."""
    text = repr(result)
    if len(result.points):
        text += "\n" + result.reading
    return {"text/html": result_html(result), "text/plain": text}
