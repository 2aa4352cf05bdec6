"""The learning-system store: the database every workbook, report and dashboard reads.

* :mod:`qiwidgets.store.models` — the data model (SQLAlchemy 2);
* :mod:`qiwidgets.store.db` — which database, engines, sessions and transactions;
* :mod:`qiwidgets.store.repo` — the functions the widgets, reports and dashboards call;
* :mod:`qiwidgets.store.export` — a whole programme to a folder of CSV/Parquet files and back.

Importing this package is cheap; the submodules import SQLAlchemy and pandas when used.
"""
