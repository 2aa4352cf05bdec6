"""The learning-system store: the database every workbook, report and dashboard reads.

* :mod:`qiwidgets.store.models` — the data model (SQLAlchemy 2);
* :mod:`qiwidgets.store.db` — which database, engines, sessions and transactions;
* :mod:`qiwidgets.store.repo` — the functions the widgets, reports and dashboards call (it
  gathers the modules that each do one thing: ``access``, ``lookup``, ``records``,
  ``programmes``, ``measures``, ``purpose``, ``observations``, ``journal``, ``scores``);
* :mod:`qiwidgets.store.schemas` — the rules of every record, whichever way it arrives
  (:mod:`qiwidgets.store.cells` reads a typed cell);
* :mod:`qiwidgets.store.observation_writes` — the one way data points are written;
* :mod:`qiwidgets.store.imports` — CSV and Excel files, all or nothing;
* :mod:`qiwidgets.store.export` — a whole programme to a folder of CSV/Parquet files and back.

Importing this package is cheap; the submodules import SQLAlchemy and pandas when used.
"""
