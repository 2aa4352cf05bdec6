"""The learning-loop core: one status per team's measure, its story, and the programme's rules.

The series here are built by hand so that every expected number can be worked out on paper:
an I chart's centre line is the mean of the points of its phase, and Anhøj's longest-run limit
for n useful points is round(log2 n + 3).
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from qiwidgets import workbook as wb
from qiwidgets.workbook.status import measure_status

HIGH = [7.2, 7.4, 7.1, 7.3, 7.6, 7.2, 7.7, 7.4, 7.3, 7.8, 7.9, 8.1]  # mean 90 / 12 = 7.5
LOW = [3.8, 4.1, 3.7, 4.0, 3.9, 4.2, 3.6, 4.0, 3.8, 4.1, 3.9, 3.7]  # mean 3.9
TEAM = {"code": "W07", "name": "Ward 7"}


def months(n: int, start: str = "2024-01-01") -> list[pd.Timestamp]:
    return list(pd.date_range(start, periods=n, freq="MS"))


def obs(values, *, den=None, start="2024-01-01") -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame({
        "period": months(n, start),
        "numerator": values if den is not None else [None] * n,
        "denominator": den if den is not None else [None] * n,
        "value": [None] * n if den is not None else values,
        "data_quality": ["ok"] * n,
    })  # fmt: skip


def measure(**kw) -> dict:
    base = {"id": 1, "code": "FALLS", "name": "Falls", "measure_type": "outcome",
            "chart_type": "i", "improvement_direction": "decrease", "unit": "per 1,000 bed days",
            "team_id": None}  # fmt: skip
    return {**base, **kw}


def rebase(date: str, reason: str = "Rounding adopted", kind: str = "rebase") -> dict:
    return {"kind": kind, "date": dt.date.fromisoformat(date), "reason": reason,
            "text": "New limits", "measure_id": 1}  # fmt: skip


def test_a_fall_across_phases_is_told_with_both_levels_and_when():
    s = measure_status(obs(HIGH + LOW), measure(), team=TEAM,
                       annotations=[rebase("2025-01-01")])  # fmt: skip
    # phase 1: mean of HIGH = 90 / 12 = 7.5; phase 2: mean of LOW = 46.8 / 12 = 3.9
    assert "fell from 7.5 to 3.9 per 1,000 bed days after the change in Jan 2025 (better): " \
           "Rounding adopted" in s.reading  # fmt: skip
    assert "no signal within the new limits since Jan 2025" in s.reading
    assert s.variation == "common_cause" and s.rule_set == "anhoej"
    assert s.reading.startswith("Falls: common cause variation only (Anhøj rules)")
    assert s.sustained.startswith("sustained improvement: new limits since Jan 2025")
    assert s.improving and not s.concern


def test_a_shift_down_on_a_single_phase_is_one_change_for_the_better():
    # 24 useful points: longest-run limit round(log2 24 + 3) = 8; the 12 low points run on to
    # the latest point: special cause, below the mean (6.7): improvement on a "decrease" measure
    s = measure_status(obs(HIGH + LOW), measure(), team=TEAM)
    assert s.variation == "special_cause_improvement"
    assert s.variation_icon == "improvement_low"
    assert "special cause improvement (Anhøj rules)" in s.reading
    assert "fell from 7.5 to 3.9 per 1,000 bed days from Jan 2025 (better)" in s.reading
    # the same data on an "increase" measure: the same change, judged the other way
    worse = measure_status(obs(HIGH + LOW), measure(improvement_direction="increase"), team=TEAM)
    assert worse.variation == "special_cause_concern" and "(worse)" in worse.reading


def test_a_long_run_before_the_change_does_not_read_as_a_concern():
    # 18 high, then 6 low: the long run (18 > limit 8 for 24 points) is the process before the
    # change; the 6 points since went below the mean. Not a concern; the change is told.
    values = HIGH + HIGH[:6] + LOW[:6]
    s = measure_status(obs(values), measure(), team=TEAM)
    assert s.variation != "special_cause_concern"
    assert "concern" not in s.reading
    before, after = sum(values[:18]) / 18, sum(values[18:]) / 6
    assert f"fell from {before:.2f}".rstrip("0") in s.reading and "(better)" in s.reading
    assert f"to {after:.2f}".rstrip("0").rstrip(".") in s.reading and "from Jul 2025" in s.reading


def test_limits_frozen_on_a_baseline_before_a_sustained_shift_say_so_and_offer_a_rebase():
    # baseline: the first 12 points (to Dec 2024); then 14 low points, still low at the end
    m = measure(baseline_end=dt.date(2024, 12, 1), target=5.0)
    s = measure_status(obs(HIGH + LOW + LOW[:2]), m, team=TEAM)
    assert s.rebase is not None and s.rebase.since == dt.date(2025, 1, 1)
    assert s.rebase.points == 14
    assert "frozen on (to Dec 2024) is from before the change" in s.rebase.text
    assert "consider recalculating the limits from Jan 2025" in s.rebase.text
    assert s.assurance != "none" and s.assurance_caveat == "limits from before the change"
    # the team records the rebase with its reason: the limits follow, the suggestion goes
    done = measure_status(obs(HIGH + LOW + LOW[:2]), m, team=TEAM,
                          annotations=[rebase("2025-01-01")])  # fmt: skip
    assert done.rebase is None and done.assurance_caveat is None
    assert "after the change in Jan 2025" in done.reading


def test_a_new_phase_with_too_few_points_is_not_applied_and_the_chart_says_why():
    s = measure_status(obs(HIGH + LOW[:5]), measure(), team=TEAM,
                       annotations=[rebase("2025-05-01")])  # the last point alone  # fmt: skip
    assert s.result.points["part"].nunique() == 1  # one phase: no mean of one point
    assert any("The new phase from May 2025 has 1 point so far" in n for n in s.notes)
    assert any(f"once it has {wb.MIN_PHASE_POINTS}" in n for n in s.notes)


def test_a_p_chart_without_a_multiplier_is_a_percentage_everywhere():
    m = measure(chart_type="p", unit=None, improvement_direction="increase", name="Assessed")
    num, den = [55 + (i % 3) for i in range(14)], [100] * 14
    s = measure_status(obs(num, den=den), m, team=TEAM)
    assert s.unit == "%" and s.latest_value == pytest.approx(100 * num[-1] / den[-1])
    from qiwidgets.spc.reading import format_number

    assert f"latest {format_number(100 * num[-1] / den[-1])}% (Feb 2025)" in s.reading


def test_an_excluded_point_with_a_reason_moves_the_centre_line():
    values = [5.0, 5.2, 4.8, 5.1, 4.9, 5.0, 20.0, 5.1, 4.9, 5.0, 5.2, 4.8]
    excl = {"kind": "exclude", "date": dt.date(2024, 7, 1), "reason": "Data entry error",
            "text": "Left out", "measure_id": 1}  # fmt: skip
    with_it = measure_status(obs(values), measure(), team=TEAM)
    without = measure_status(obs(values), measure(), team=TEAM, annotations=[excl])
    assert with_it.result.points["cl"].iloc[-1] == pytest.approx(sum(values) / 12)
    assert without.result.points["cl"].iloc[-1] == pytest.approx((sum(values) - 20) / 11)


def test_a_month_with_nothing_to_count_is_left_out_with_a_note_never_a_crash():
    num, den = [4, 5, 0, 6, 5, 4, 5, 6], [100, 110, 0, 95, 100, 105, 98, 102]
    m = measure(chart_type="p", unit="%", multiplier=100, improvement_direction="increase")
    s = measure_status(obs(num, den=den), m, team=TEAM)
    assert len(s.result.points) == 7
    assert any("Mar 2024 has a denominator of 0 (no cases that month)" in n for n in s.notes)
    only_zero = measure_status(obs([0], den=[0]), m, team=TEAM)
    assert only_zero.variation == "none" and "no data points" in only_zero.reading


def test_a_measure_without_data_or_with_one_point_says_what_to_do():
    empty = measure_status(None, measure(), team=TEAM, month="2026-10")
    assert empty.variation == "none" and empty.assurance == "none"
    assert "no data yet" in empty.reading and empty.month == dt.date(2026, 10, 1)
    one = measure_status(obs([4.2]), measure(), team=TEAM)
    assert one.variation == "none" and "one value so far" in one.reading
    assert one.latest_value == 4.2


def test_icon_words_and_reading_come_from_the_same_rule_set():
    m = measure(chart_type="xmr")  # Making Data Count governs an XmR chart
    s = measure_status(obs(HIGH + LOW), m, team=TEAM)
    assert s.rule_set == "mdc" and s.rule_set_name == "Making Data Count"
    assert s.result.rule_set == "Making Data Count"
    assert "(Making Data Count)" in s.reading
    verdict = s.result.latest()
    assert (s.variation, s.variation_icon) == (verdict.variation_type, verdict.variation_icon)
    stored = measure_status(obs(HIGH + LOW), measure(rule_set="mdc"), team=TEAM)
    assert stored.rule_set == "mdc"  # a rule set stored on the measure wins


def test_signals_new_this_month_are_those_the_month_before_did_not_show():
    # limits frozen on the first 12 points (mean 5.0), so the 13th point, 14, is outside them
    values = [5.0, 5.2, 4.8, 5.1, 4.9, 5.0, 5.1, 4.9, 5.0, 5.2, 4.8, 5.0, 14.0]
    m = measure(baseline_end=dt.date(2024, 12, 1))
    s = measure_status(obs(values), m, team=TEAM)  # as of Jan 2025, the outlier's month
    assert s.new_signals == ("a point outside the limits (above) in Jan 2025",)
    earlier = measure_status(obs(values), m, team=TEAM, month="2024-12")
    assert earlier.new_signals == () and earlier.latest_period == dt.date(2024, 12, 1)


def test_data_attributes_name_the_verdict():
    s = measure_status(obs(HIGH + LOW), measure(target=5.0), team=TEAM)
    assert s.data_attributes() == {
        "data-qi-team": "W07", "data-qi-measure": "FALLS", "data-qi-month": "2025-12",
        "data-qi-variation": "special_cause_improvement", "data-qi-assurance": s.assurance,
        "data-qi-rule-set": "anhoej",
    }  # fmt: skip
    assert s.assurance in ("pass", "fail", "hit_and_miss")


# --- the programme's rules ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def programme_db(tmp_path_factory):
    from reports_data import build_programme

    from qiwidgets.store.db import dispose_engines

    db = f"sqlite:///{tmp_path_factory.mktemp('prog') / 'p.db'}"
    info = build_programme(db, teams=4)
    dispose_engines()
    return db, info


def test_bright_spots_and_support_follow_one_rule_each(programme_db):
    db, info = programme_db
    ps = wb.programme_status(db, month=info["month"])
    assert [t.code for t in ps.teams] == info["teams"]
    spots = {b.team_code: b for b in ps.bright_spots()}
    for t in ps.teams:  # a bright spot: the shared outcome improved, the team's phases applied
        outcome = t.measure("falls_harm")
        assert (t.code in spots) == outcome.improving, t.code
        if t.code in spots:
            assert spots[t.code].measures == (outcome,)
    # T01 and T03 are built to improve in the last 12 months (reports_data), T02 and T04 not
    assert "T01" in spots and not {"T02", "T04"} & set(spots)
    for team, reasons in ps.support():
        concern = [m.measure_name for m in team.measures if m.concern]
        assert bool(concern) == any(r.startswith("special cause concern") for r in reasons)
        assert reasons
    # a process measure's improvement is a change taking hold, not a bright spot
    for team, ms in ps.changes_taking_hold():
        assert all(m.measure_type == "process" and m.improving for m in ms)


def test_the_status_command_prints_the_same_verdicts(programme_db, capsys):
    from qiwidgets.cli import main

    db, info = programme_db
    assert main(["status", "--json", "--db", db, "--month", info["month"]]) == 0
    printed = {(t["team"], m["code"]): (m["variation"], m["assurance"], m["rule_set"])
               for t in json.loads(capsys.readouterr().out)
               for m in t["measures"]}  # fmt: skip
    ps = wb.programme_status(db, month=info["month"])
    assert printed == {(t.code, m.measure_code): (m.variation, m.assurance, m.rule_set)
                       for t in ps.teams for m in t.measures}  # fmt: skip
    assert main(["status", "--db", db, "--team", "NOPE"]) == 2
    assert "No team NOPE" in capsys.readouterr().err
