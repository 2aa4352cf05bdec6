"""qiwidgets: an open, offline Python workbook for healthcare improvement teams.

The package is layered so that dependencies point one way:

* :mod:`qiwidgets.spc` — pure numpy/pandas statistics (limits, rules, icons, readings);
* :mod:`qiwidgets.store` — the learning-system database;
* ``charts``, ``widgets``, ``reports``, ``dashboards`` and :mod:`qiwidgets.cli` build on them.

Importing :mod:`qiwidgets` itself is cheap: it does not import pandas, altair or ipywidgets.
"""

from qiwidgets.errors import QIError, QIWarning

__all__ = ["QIError", "QIWarning", "__version__"]
__version__ = "0.1.0"
