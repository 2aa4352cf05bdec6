"""Monthly learning reports: papermill runs one notebook per team, then a programme roll-up.

* :mod:`qiwidgets.reports.team` and :mod:`qiwidgets.reports.programme` — content builders (pure
  functions of the store's data returning HTML sections and a JSON summary), called by the
  notebooks in ``pipelines/``;
* :mod:`qiwidgets.reports.slides` — the same reports as PowerPoint decks (``--pptx``), drawn
  from the built reports;
* :mod:`qiwidgets.reports.runner` — validation, parallel execution (spawned processes or Dask),
  idempotent and atomic outputs, ``index.html``;
* :mod:`qiwidgets.reports.cli` — ``qiwidgets reports --month YYYY-MM``.

Importing this package is cheap; the submodules import pandas, papermill or altair when used.
"""

__all__ = ["plan", "run_plan", "run_reports"]


def __getattr__(name):
    if name in __all__:
        from qiwidgets.reports import runner

        return getattr(runner, name)
    raise AttributeError(name)
