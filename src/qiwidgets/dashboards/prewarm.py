"""Fill the shared chart cache for every team, in the background (``qiwidgets serve`` runs it).

``python -m qiwidgets.dashboards.prewarm`` reads ``QI_DATABASE_URL`` and ``QI_CHART_CACHE``
and draws, as SVG, every chart a visitor sees before changing anything: first the charts a page
opens with (each team's family of measures, the programme's funnel plot and small multiples),
then each measure under the other two rule sets, as "Explore a chart" shows it. A page sends
these ready-drawn: the browser drawing three charts took ~0.4 s of a page's first render, and
drawing a chart after a change of rule set ~0.1–0.3 s of the interaction (~20 s for the sample
programme's 116 charts, in a low-priority process). A visitor who arrives before it has
finished gets the charts it has not drawn yet as specs, which the page draws.
"""

from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger("qiwidgets.dashboards")


def prewarm(db: str, programme: str | None = None) -> int:
    """Build and cache the specs and SVGs; returns how many charts were looked at."""
    from qiwidgets.dashboards import fastchart
    from qiwidgets.dashboards.programme import ProgrammeDashboard
    from qiwidgets.dashboards.team import team_cards
    from qiwidgets.store import repo

    count = 0
    teams = repo.list_teams(db, programme)
    fastchart.draw_into_cache = True
    try:
        for team in teams:
            count += len(team_cards(db, team))
        ProgrammeDashboard(db, programme)
        count += 2
        count += _other_rule_sets(db, teams)
    finally:
        fastchart.draw_into_cache = False
    return count


def _other_rule_sets(db: str, teams: list) -> int:
    """Each measure's chart under the rule sets the cards do not use, as "Explore a chart"
    draws it: sent drawn, switching the rule set redraws in ~0.05 s instead of ~0.1–0.3 s
    (the browser drawing a spec)."""
    from qiwidgets import workbook as wb
    from qiwidgets.dashboards import fastchart
    from qiwidgets.dashboards.team import CARD_CHART_WIDTH
    from qiwidgets.store import repo

    count = 0
    for team in teams:
        annotations = repo.list_annotations(db, team.id)
        cycles = repo.list_pdsa_cycles(db, team.id)
        obs = repo.observations(db, team.id)
        for measure in repo.list_measures(db, team.id):
            mine = obs[obs["measure_id"] == measure.id].reset_index(drop=True)
            if not len(mine):
                continue
            notes = [a for a in annotations if a.measure_id in (None, measure.id)]
            rows = wb.chart_annotations(notes, cycles, measure.id)
            for rule_set in ("ihi", "mdc"):
                try:
                    view = wb.compute_chart(mine, measure, rule_set, notes)
                    fastchart.browser_chart_svg(view, rows, CARD_CHART_WIDTH)
                    count += 1
                except Exception:
                    log.warning("prewarm: %s %s %s", team.code, measure.code, rule_set,
                                exc_info=True)  # fmt: skip
    return count


def main() -> int:
    from qiwidgets.dashboards import runtime

    db = os.environ.get(runtime.DB_ENV)
    if not db:
        print(f"{runtime.DB_ENV} is not set", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    n = prewarm(db, os.environ.get(runtime.PROGRAMME_ENV))
    print(f"prewarm: {n} charts in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
