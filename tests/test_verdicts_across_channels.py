"""One verdict on every screen: what each channel shows for a team's measure at a month is the
core's :class:`~qiwidgets.workbook.status.MeasureStatus`, read back from the rendered HTML.

The store holds the sample programme (12 wards, 36 months) and one more ward, "Scenarios",
whose own measures are the awkward cases: a phase after a change (with a reason), a baseline a
sustained shift has left behind, an excluded point, P charts with and without a multiplier and
with a target, missing months, a phase of one point, a Making Data Count measure, a measure
with no data. Every channel is rendered for real: the team and programme dashboards served by
``qiwidgets serve`` in Chromium, the team and programme reports by the papermill pipeline, the
notebook overview by :func:`qiwidgets.notebook.team_overview`. From each, every element with
``data-qi-*`` attributes is read; for a team x measure they must all agree, and equal the status.
Bright spots (``data-qi-bright-spot``) must be the same set in the programme dashboard, the
programme report and :meth:`~qiwidgets.workbook.status.ProgrammeStatus.bright_spots`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from html.parser import HTMLParser

import numpy as np
import pytest
from browser import PAGE_TIMEOUT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MONTH = "2026-10"
VERDICT = ("data-qi-month", "data-qi-variation", "data-qi-assurance", "data-qi-rule-set")
SCENARIO_TEAM = "SCN"


class _Verdicts(HTMLParser):
    """Every ``data-qi-*`` element of a page: (team, measure) -> the verdicts shown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.seen: dict[tuple[str, str], set[tuple]] = defaultdict(set)
        self.bright: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-qi-team" in a and "data-qi-measure" in a:
            self.seen[(a["data-qi-team"], a["data-qi-measure"])].add(tuple(a[k] for k in VERDICT))
        if "data-qi-bright-spot" in a:
            self.bright.add(a["data-qi-bright-spot"])


def read_verdicts(*pages: str) -> _Verdicts:
    parser = _Verdicts()
    for page in pages:
        parser.feed(page)
    parser.close()
    return parser


def expected(status) -> dict[tuple[str, str], tuple]:
    out = {}
    for t in status.teams:
        for m in t.measures:
            a = m.data_attributes()
            out[(t.code, m.measure_code)] = tuple(a[k] for k in VERDICT)
    return out


def assert_shows(channel: str, seen: _Verdicts, want: dict, keys) -> None:
    problems = []
    for key in keys:
        shown = seen.seen.get(key)
        if not shown:
            problems.append(f"{key}: not shown")
        elif shown != {want[key]}:
            problems.append(f"{key}: shows {sorted(shown)}, the status is {want[key]}")
    extra = set(seen.seen) - set(want)
    problems += [f"{key}: shown but no such status" for key in sorted(extra)]
    assert not problems, f"{channel}:\n" + "\n".join(problems)


# --- the store: the sample programme and the scenarios --------------------------------------


def _months(n: int, end: str = MONTH) -> list[dt.date]:
    y, m = (int(p) for p in end.split("-"))
    out = []
    for _ in range(n):
        out.append(dt.date(y, m, 1))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def add_scenarios(db: str) -> None:
    """A ward whose measures are the awkward cases (see the module docstring)."""
    from qiwidgets.store import repo
    from qiwidgets.store.db import session_scope

    prog = repo.get_programme(db)
    team = repo.save_team(db, {"programme_id": prog.id, "code": SCENARIO_TEAM,
                               "name": "Scenarios ward", "organisation": "Test Trust"})  # fmt: skip
    rng = np.random.default_rng(11)
    months = _months(30)
    rows = []

    def measure(code: str, **kw) -> int:
        data = {"programme_id": prog.id, "team_id": team.id, "code": code, "name": code.title(),
                "measure_type": "process", "frequency": "monthly", **kw}  # fmt: skip
        return repo.save_measure(db, data).id

    def counts(mid: int, rates: list[float], den: int, skip: tuple = ()) -> None:
        for i, (p, r) in enumerate(zip(months, rates, strict=True)):
            if i in skip:
                continue
            n = den + int(rng.integers(-10, 10))
            rows.append({"team_id": team.id, "measure_id": mid, "period": p,
                         "numerator": float(rng.binomial(n, r)), "denominator": float(n),
                         "value": None})  # fmt: skip

    def values(mid: int, ys: list[float]) -> None:
        for p, y in zip(months, ys, strict=True):
            rows.append({"team_id": team.id, "measure_id": mid, "period": p, "numerator": None,
                         "denominator": None, "value": float(y)})  # fmt: skip

    phased = measure("PHASED", chart_type="u", multiplier=1000, unit="per 1,000 bed days",
                     numerator_definition="Falls", denominator_definition="Bed days",
                     improvement_direction="decrease", target=4.0)  # fmt: skip
    for i, p in enumerate(months):
        bed = int(rng.integers(700, 900))
        rate = 7.5 if i < 14 else 3.9
        rows.append({"team_id": team.id, "measure_id": phased, "period": p,
                     "numerator": float(rng.poisson(rate * bed / 1000)),
                     "denominator": float(bed), "value": None})  # fmt: skip
    repo.save_annotation(db, {"team_id": team.id, "measure_id": phased, "date": months[14],
                              "kind": "rebase", "text": "New limits",
                              "reason": "Hourly rounding adopted; held for 6 months"})  # fmt: skip
    frozen = measure("FROZEN", chart_type="i", unit="minutes", value_definition="Minutes",
                     improvement_direction="decrease", target=5.0,
                     baseline_start=months[0], baseline_end=months[11])  # fmt: skip
    values(frozen, [8 + rng.normal(0, 0.4) for _ in range(12)]
           + [4 + rng.normal(0, 0.4) for _ in range(18)])  # fmt: skip
    excluded = measure("EXCLUDED", chart_type="i", unit="minutes", value_definition="Minutes",
                       improvement_direction="decrease")  # fmt: skip
    ys = [6 + rng.normal(0, 0.5) for _ in range(30)]
    ys[20] = 19.0
    values(excluded, ys)
    repo.save_annotation(db, {"team_id": team.id, "measure_id": excluded, "date": months[20],
                              "kind": "exclude", "text": "Left out",
                              "reason": "Recorded twice by mistake"})  # fmt: skip
    bare_p = measure("P_BARE", chart_type="p", numerator_definition="Assessed",
                     denominator_definition="Admissions", improvement_direction="increase",
                     target=90.0)  # no multiplier, no unit: shown as a percentage  # fmt: skip
    counts(bare_p, [0.6] * 15 + [0.93] * 15, 100)
    pct = measure("P_PERCENT", chart_type="p", multiplier=100, unit="%",
                  numerator_definition="Assessed", denominator_definition="Admissions",
                  improvement_direction="increase", target=90.0)  # fmt: skip
    counts(pct, [0.88] * 30, 100, skip=(7, 8, 19))  # missing months
    short = measure("SHORT_PHASE", chart_type="i", unit="minutes", value_definition="Minutes",
                    improvement_direction="decrease")  # fmt: skip
    values(short, [5 + rng.normal(0, 0.5) for _ in range(30)])
    repo.save_annotation(db, {"team_id": team.id, "measure_id": short, "date": months[-1],
                              "kind": "phase", "text": "New phase",
                              "reason": "Started last month"})  # fmt: skip
    mdc = measure("MDC", chart_type="xmr", unit="days", value_definition="Length of stay",
                  improvement_direction="decrease", target=6.0)  # fmt: skip
    values(mdc, [7 + rng.normal(0, 0.6) for _ in range(22)]
           + [5.5 + rng.normal(0, 0.5) for _ in range(8)])  # fmt: skip
    measure("NO_DATA", chart_type="run", value_definition="Nothing yet")
    with session_scope(db) as session:
        repo.upsert_observations(session, rows, source="test scenarios")


@pytest.fixture(scope="module")
def scenario_store(tmp_path_factory):
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    path = tmp_path_factory.mktemp("verdicts") / "store.db"
    db = f"sqlite:///{path}"
    init_db(db)
    load_sample(db)
    add_scenarios(db)
    dispose_engines()
    return str(path)


@pytest.fixture(scope="module")
def status(scenario_store):
    from qiwidgets import workbook as wb

    return wb.programme_status(scenario_store, month=MONTH)


@pytest.fixture(scope="module")
def reports(scenario_store, tmp_path_factory):
    from qiwidgets.reports import runner

    out = tmp_path_factory.mktemp("reports")
    result = runner.run_reports(MONTH, scenario_store, out, workers=2, timeout=300)
    assert result.ok, [r.describe() for r in result.failed]
    return out / MONTH


@pytest.fixture(scope="module")
def served(scenario_store, tmp_path_factory):
    from qiwidgets.dashboards.harness import ServedDashboards

    with ServedDashboards(scenario_store, workdir=tmp_path_factory.mktemp("serve")) as server:
        yield server


# --- the channels ---------------------------------------------------------------------------


def test_the_scenarios_are_what_they_claim(status):
    """The awkward cases are there (so the channels below are tested on them)."""
    t = status.team(SCENARIO_TEAM)
    by = {m.measure_code: m for m in t.measures}
    assert by["PHASED"].changes and by["PHASED"].changes[0].phase
    assert by["FROZEN"].rebase is not None and by["FROZEN"].assurance_caveat
    assert by["EXCLUDED"].result.points["include"].sum() == 29
    assert by["P_BARE"].unit == "%" and by["P_BARE"].latest_value > 1
    assert any("Missing months" in n for n in by["P_PERCENT"].notes)
    assert any("1 point so far" in n for n in by["SHORT_PHASE"].notes)
    assert by["MDC"].rule_set == "mdc"
    assert by["NO_DATA"].variation == "none"
    assert len(status.teams) == 13


def test_the_notebook_overview_shows_the_status(scenario_store, status):
    from qiwidgets import notebook

    want = expected(status)
    pages = [notebook.team_overview(scenario_store, t.code).html for t in status.teams]
    assert_shows("notebook overview", read_verdicts(*pages), want, want)


def test_the_team_reports_show_the_status(reports, status):
    want = expected(status)
    pages = [p.read_text(encoding="utf-8") for p in sorted((reports / "teams").glob("*.html"))]
    assert len(pages) == len(status.teams)
    assert_shows("team reports", read_verdicts(*pages), want, want)


def test_the_programme_report_shows_the_status_and_the_same_bright_spots(reports, status):
    want = expected(status)
    shared = {m.code for m in status.shared}
    seen = read_verdicts((reports / "programme.html").read_text(encoding="utf-8"))
    keys = [k for k in want if k[1] in shared]
    assert_shows("programme report", seen, {k: want[k] for k in keys}, keys)
    assert seen.bright == {b.team_code for b in status.bright_spots()}


def _dom_verdicts(page) -> _Verdicts:
    return read_verdicts(page.content())


def test_the_team_dashboard_shows_the_status(served, visit, status):
    want = expected(status)
    v = visit()
    page = v.open(served.url("team.ipynb", team=status.teams[0].code), charts=1)
    seen = _Verdicts()
    for t in status.teams:
        page.locator(".widget-dropdown select").first.select_option(label=t.name)
        page.wait_for_function(
            "code => document.querySelectorAll(`.qi-card[data-qi-team='${code}']`).length > 0",
            arg=t.code, timeout=PAGE_TIMEOUT)  # fmt: skip
        one = _dom_verdicts(page)
        for key, shown in one.seen.items():
            if key[0] == t.code:
                seen.seen[key] |= shown
    assert_shows("team dashboard", seen, want, want)
    assert not v.errors, v.errors


def test_the_programme_dashboard_shows_the_status_and_the_same_bright_spots(served, visit,
                                                                           status):  # fmt: skip
    want = expected(status)
    shared = {m.code for m in status.shared}
    v = visit()
    page = v.open(served.url("programme.ipynb"), charts=1)
    page.wait_for_selector(".qi-glance [data-qi-team]", timeout=PAGE_TIMEOUT)
    seen = _dom_verdicts(page)
    keys = [k for k in want if k[1] in shared]
    assert_shows("programme dashboard", seen, {k: want[k] for k in keys}, keys)
    assert seen.bright == {b.team_code for b in status.bright_spots()}
    assert not v.errors, v.errors
