"""Fill the shared chart cache for every team, in the background (``qiwidgets serve`` runs it).

``python -m qiwidgets.dashboards.prewarm`` reads ``QIWIDGETS_DB`` and ``QIWIDGETS_CHART_CACHE``
and builds the spec of every chart a visitor opens first: each team's family of measures (the
cards, which are also the chart explorer's first chart), each measure under the other two rule
sets, and the programme's funnel plot and small multiples. The charts a page shows when it
opens (the cards, the funnel plot and the small multiples) are also drawn here, as SVG, so the
page sends them ready-drawn: the browser drawing three charts took ~0.4 s of a page's first
render. A visitor who arrives before it has finished simply waits for the charts it has not
drawn yet.
"""

from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger("qiwidgets.dashboards")


def prewarm(db: str, programme: str | None = None) -> int:
    """Build and cache the specs (and the SVG of the charts pages open with); returns how many
    charts were looked at."""
    from qiwidgets import workbook as wb
    from qiwidgets.dashboards import fastchart
    from qiwidgets.dashboards.programme import ProgrammeDashboard
    from qiwidgets.dashboards.team import CARD_CHART_WIDTH, team_cards
    from qiwidgets.store import repo

    count = 0
    teams = repo.list_teams(db, programme)
    fastchart.draw_into_cache = True
    try:
        for team in teams:
            count += len(team_cards(db, team))
        ProgrammeDashboard(db, programme)
        count += 2
    finally:
        fastchart.draw_into_cache = False
    for team in teams:
        annotations = repo.list_annotations(db, team.id)
        cycles = repo.list_pdsa_cycles(db, team.id)
        obs = repo.observations(db, team.id)
        for measure in repo.list_measures(db, team.id):
            mine = obs[obs["measure_id"] == measure.id].reset_index(drop=True)
            if not len(mine):
                continue
            notes = [a for a in annotations if a.measure_id in (None, measure.id)]
            rows = wb.chart_annotations(notes, wb.cycles_for_measure(cycles, measure.id),
                                        measure.id)  # fmt: skip
            for rule_set in ("ihi", "mdc"):
                try:
                    view = wb.compute_chart(mine, measure, rule_set, notes)
                    fastchart.spc_spec(view.result, rows, CARD_CHART_WIDTH)
                    count += 1
                except Exception:
                    log.warning("prewarm: %s %s %s", team.code, measure.code, rule_set,
                                exc_info=True)  # fmt: skip
    return count


def main() -> int:
    from qiwidgets.dashboards import runtime

    db = os.environ.get(runtime.DB_ENV)
    if not db:
        print("QIWIDGETS_DB is not set", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    n = prewarm(db, os.environ.get(runtime.PROGRAMME_ENV))
    print(f"prewarm: {n} charts in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
