"""The workbook's widgets (ipywidgets): one small class per part of the learning loop.

Each widget builds its controls, calls pure functions from :mod:`qiwidgets.workbook`,
:mod:`qiwidgets.spc`, :mod:`qiwidgets.store` and :mod:`qiwidgets.charts`, keeps its outcome on
an attribute (``result``, ``saved`` ...), shows charts as inline SVG in a ``widgets.HTML`` (never
through an ``Output``, see ``../shared/docs/jupyter-traps.md``), saves through the store and
shows a plain message — never a traceback — on a stale edit or bad input.

>>> from qiwidgets.widgets import TeamWorkbook       # doctest: +SKIP
>>> TeamWorkbook("sample.db", "W7")                   # doctest: +SKIP
"""

from qiwidgets.widgets._base import Panel
from qiwidgets.widgets.data_entry import DataEntryGrid
from qiwidgets.widgets.measures import MeasureFamily
from qiwidgets.widgets.pdsa import PDSALog
from qiwidgets.widgets.progress import HealthCheckWidget, ProgressScoreWidget
from qiwidgets.widgets.purpose import AimBuilder, DriverDiagramEditor
from qiwidgets.widgets.reflection import ReflectionJournal
from qiwidgets.widgets.team import TeamWorkbook
from qiwidgets.widgets.variation import VariationExplorer

__all__ = [
    "AimBuilder",
    "DataEntryGrid",
    "DriverDiagramEditor",
    "HealthCheckWidget",
    "MeasureFamily",
    "PDSALog",
    "Panel",
    "ProgressScoreWidget",
    "ReflectionJournal",
    "TeamWorkbook",
    "VariationExplorer",
]
