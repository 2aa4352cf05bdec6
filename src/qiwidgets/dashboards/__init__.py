"""Voilà dashboards teams and programme leads open in a browser.

* ``qiwidgets serve`` (:mod:`qiwidgets.dashboards.server`) starts Voilà on 127.0.0.1 serving
  only the two dashboard notebooks shipped in ``dashboards/notebooks``: sources stripped,
  tracebacks hidden, a token required, idle kernels culled, an execution timeout, and a
  template that asks nothing of any host but the server;
* :class:`~qiwidgets.dashboards.team.TeamDashboard` — one team's aim, progress, family of
  measures, chart explorer, PDSA log, reflections and progress score;
* :class:`~qiwidgets.dashboards.programme.ProgrammeDashboard` — teams at a glance, the shared
  outcome across teams, bright spots and learning to share;
* :mod:`~qiwidgets.dashboards.fastchart` — charts drawn in the browser from cached specs.

Importing this package imports neither ipywidgets nor Voilà.
"""
