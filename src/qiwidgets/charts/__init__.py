"""Charts for SPC results, drawn with Altair and rendered offline with vl-convert.

This package draws what :mod:`qiwidgets.spc` computed and computes no statistic itself.

* :func:`spc_chart` — any ``control_chart`` or ``mdc_chart`` result (one facet);
* :func:`small_multiples` — one panel per facet (team);
* :func:`funnel_chart` — a ``funnel`` result;
* :func:`spc_chart_spec`, :func:`small_multiples_spec`, :func:`funnel_chart_spec` — the same
  charts as Vega-Lite dicts, built without Altair's classes (~30 ms against ~0.35 s): what
  reports and dashboards render;
* :func:`variation_icon_svg`, :func:`assurance_icon_svg` — Making Data Count icons;
* :func:`to_svg`, :func:`to_png`, :func:`to_html`, :func:`enable_offline` — rendering with no
  network (see ``../shared/docs/jupyter-traps.md``).

Names are imported from their modules when first used: the icons (plain SVG) need neither
Altair nor vl-convert, so a dashboard showing cached charts never imports them. Writing a spec
imports vl-convert (for its Vega-Lite version) but not Altair; the Altair charts and rendering
import Altair too. Nothing here imports ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import Any

from qiwidgets.errors import ChartError

#: Where each public name lives.
_HOMES = {
    "annotation_frame": "control",
    "small_multiples": "control",
    "small_multiples_spec": "control",
    "spc_chart": "control",
    "spc_chart_spec": "control",
    "funnel_chart": "funnel",
    "funnel_chart_spec": "funnel",
    "ASSURANCE_ICON_NAMES": "icons",
    "VARIATION_ICON_NAMES": "icons",
    "assurance_icon_svg": "icons",
    "icon_data_uri": "icons",
    "icon_key_html": "icons",
    "icons_html": "icons",
    "variation_icon_svg": "icons",
    "enable_offline": "render",
    "to_html": "render",
    "to_png": "render",
    "to_svg": "render",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'qiwidgets.charts' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"qiwidgets.charts.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ASSURANCE_ICON_NAMES",
    "VARIATION_ICON_NAMES",
    "ChartError",
    "annotation_frame",
    "assurance_icon_svg",
    "enable_offline",
    "funnel_chart",
    "funnel_chart_spec",
    "icon_data_uri",
    "icon_key_html",
    "icons_html",
    "small_multiples",
    "small_multiples_spec",
    "spc_chart",
    "spc_chart_spec",
    "to_html",
    "to_png",
    "to_svg",
    "variation_icon_svg",
]
