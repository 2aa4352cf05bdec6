"""The SPC engine: pure numpy/pandas, returns data, draws nothing.

* :func:`control_chart` — run charts and Shewhart charts with qicharts2 semantics
  (Anhøj runs analysis, or IHI run-chart rules);
* :func:`mdc_chart` — NHS "Making Data Count" XmR charts with NHSRplotthedots semantics;
* :func:`funnel` — funnel plots with FunnelPlotR semantics.

Each returns an :class:`SPCResult` with ``.points``, ``.summary`` and ``.reading``; for
control charts and Making Data Count charts, ``.latest(facet)`` (a :class:`Verdict`) and
``.verdicts()`` give the verdict at the latest point, in one vocabulary for both.
Importing this package does not import ipywidgets or altair.
"""

from qiwidgets.spc.funnel import FunnelResult, funnel
from qiwidgets.spc.mdc import mdc_chart
from qiwidgets.spc.qic import CHARTS, control_chart
from qiwidgets.spc.result import SPCResult, Verdict

__all__ = [
    "CHARTS", "FunnelResult", "SPCResult", "Verdict", "control_chart", "funnel", "mdc_chart",
]  # fmt: skip
