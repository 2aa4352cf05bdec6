"""The SPC engine: pure numpy/pandas, returns data, draws nothing.

* :func:`control_chart` — run charts and Shewhart charts with qicharts2 semantics
  (Anhøj runs analysis, or IHI run-chart rules);
* :func:`mdc_chart` — NHS "Making Data Count" XmR charts with NHSRplotthedots semantics;
* :func:`funnel` — funnel plots with FunnelPlotR semantics.

Each returns an :class:`SPCResult` with ``.points``, ``.summary`` and ``.reading``.
Importing this package does not import ipywidgets or altair.
"""

from qiwidgets.spc.qic import CHARTS, control_chart
from qiwidgets.spc.result import SPCResult

__all__ = ["CHARTS", "SPCResult", "control_chart", "mdc_chart", "funnel"]


def __getattr__(name):  # lazily: these modules are written alongside
    if name == "mdc_chart":
        from qiwidgets.spc.mdc import mdc_chart

        return mdc_chart
    if name == "funnel":
        from qiwidgets.spc.funnel import funnel

        return funnel
    raise AttributeError(name)
