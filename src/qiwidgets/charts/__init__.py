"""Charts for SPC results, drawn with Altair and rendered offline with vl-convert.

This package draws what :mod:`qiwidgets.spc` computed and computes no statistic itself.

* :func:`spc_chart` — any ``control_chart`` or ``mdc_chart`` result (one facet);
* :func:`small_multiples` — one panel per facet (team);
* :func:`funnel_chart` — a ``funnel`` result;
* :func:`variation_icon_svg`, :func:`assurance_icon_svg` — Making Data Count icons;
* :func:`to_svg`, :func:`to_png`, :func:`to_html`, :func:`enable_offline` — rendering with no
  network (see ``../shared/docs/jupyter-traps.md``).

Importing it imports altair and vl-convert, never ipywidgets.
"""

from qiwidgets.charts._common import ChartError
from qiwidgets.charts.control import annotation_frame, small_multiples, spc_chart
from qiwidgets.charts.funnel import funnel_chart
from qiwidgets.charts.icons import (
    ASSURANCE_ICON_NAMES,
    VARIATION_ICON_NAMES,
    assurance_icon_svg,
    icon_data_uri,
    icons_html,
    variation_icon_svg,
)
from qiwidgets.charts.render import enable_offline, to_html, to_png, to_svg

__all__ = [
    "ASSURANCE_ICON_NAMES",
    "VARIATION_ICON_NAMES",
    "ChartError",
    "annotation_frame",
    "assurance_icon_svg",
    "enable_offline",
    "funnel_chart",
    "icon_data_uri",
    "icons_html",
    "small_multiples",
    "spc_chart",
    "to_html",
    "to_png",
    "to_svg",
    "variation_icon_svg",
]
