"""The workbook's pure functions (qiwidgets.workbook) and the shared glossary."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from qiwidgets import glossary, spc
from qiwidgets import workbook as wb
from qiwidgets.store import models as m

MONTHS = [dt.date(2024 + i // 12, i % 12 + 1, 1) for i in range(24)]
FALLS = [6, 7, 5, 6, 8, 6, 7, 5, 6, 7, 6, 6, 3, 2, 3, 2, 3, 2, 2, 3, 2, 3, 2, 2]
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def obs_frame(values=FALLS, denominators=None):
    n = len(values)
    return pd.DataFrame({
        "period": pd.to_datetime(MONTHS[:n]),
        "numerator": [float(v) for v in values],
        "denominator": [float(d) for d in (denominators or [1000] * n)],
        "value": [float("nan")] * n,
    })  # fmt: skip


FALLS_MEASURE = {
    "id": 1, "code": "falls", "name": "Falls with harm", "measure_type": "outcome",
    "numerator_definition": "falls", "denominator_definition": "bed days", "multiplier": 1000,
    "chart_type": "u", "improvement_direction": "decrease", "frequency": "monthly",
}  # fmt: skip


# --- glossary -------------------------------------------------------------------------------


def test_glossary_agrees_with_the_store_vocabulary():
    assert glossary.PROGRESS_SCALE == m.PROGRESS_SCORES
    assert glossary.HEALTH_COMPONENTS == m.HEALTH_COMPONENTS
    assert glossary.LEARNING_LEVELS == m.LEARNING_LEVELS
    for key in (*m.MEASURE_TYPES, *m.DRIVER_KINDS, *m.LEARNING_LEVELS, *m.HEALTH_COMPONENTS,
                *m.PDSA_ACTS, *m.ANNOTATION_KINDS, *glossary.RULE_SETS):  # fmt: skip
        assert glossary.explain(key), key
        assert glossary.label(key), key


def test_glossary_one_line_each():
    for key, (label, text) in glossary.TERMS.items():
        assert "\n" not in text and len(text) < 140, key
        assert label[0].isupper(), key
    assert glossary.label("no_such_term") == "No such term"
    assert glossary.progress_description(3.0) == "3.0 modest improvement"
    assert glossary.progress_description(None) == "not scored"


# --- input checks -----------------------------------------------------------------------------


def test_clean_text_and_date_refuse_bad_input():
    assert wb.clean_text("  x ", "f") == "x"
    assert wb.clean_text("   ", "f") is None
    with pytest.raises(wb.WorkbookInputError, match="required"):
        wb.clean_text("", "f", required=True)
    with pytest.raises(wb.WorkbookInputError, match="too long"):
        wb.clean_text("x" * (wb.MAX_TEXT_LENGTH + 1), "f")
    with pytest.raises(wb.WorkbookInputError, match="must be text"):
        wb.clean_text(["x"], "f")
    assert wb.clean_date("2025-03-01", "d") == dt.date(2025, 3, 1)
    assert wb.clean_date(dt.datetime(2025, 3, 1, 10), "d") == dt.date(2025, 3, 1)
    with pytest.raises(wb.WorkbookInputError, match="must be a date"):
        wb.clean_date("yesterday", "d")
    with pytest.raises(wb.WorkbookInputError, match="must be one of"):
        wb.clean_choice("evil", "rule set", glossary.RULE_SETS)
    assert wb.clean_choice(None, "x", [None, 1]) is None
    with pytest.raises(wb.WorkbookInputError):
        wb.clean_choice(True, "x", [1, 2])  # True == 1, but it is not a rating
    with pytest.raises(wb.WorkbookInputError, match="between"):
        wb.clean_number(7, "rating", low=1, high=5)
    with pytest.raises(wb.WorkbookInputError, match="finite"):
        wb.clean_number(float("inf"), "x")


# --- aims -------------------------------------------------------------------------------------


def test_a_good_aim_passes_all_three_checks():
    c = wb.check_aim("Reduce falls with harm", "for patients on Ward 7",
                     "from 6 to 3 per 1,000 bed days", dt.date(2027, 3, 31),
                     today=dt.date(2026, 1, 1))  # fmt: skip
    assert c.ok and c.specific and c.measurable and c.time_bound
    assert c.statement == (
        "Reduce falls with harm for patients on Ward 7 from 6 to 3 per 1,000 bed days by "
        "31 March 2027."
    )


@pytest.mark.parametrize(
    "args, failing",
    [
        (("Improve care", None, None, None), {"specific", "measurable", "time_bound"}),
        (("Reduce falls with harm", None, "by half", dt.date(2027, 1, 1)),
         {"specific", "measurable"}),
        (("Reduce falls with harm", "on Ward 7", "from 6 to 3", dt.date(2025, 1, 1)),
         {"time_bound"}),
    ],
)  # fmt: skip
def test_an_incomplete_aim_says_what_is_missing(args, failing):
    c = wb.check_aim(*args, today=dt.date(2026, 1, 1))
    assert not c.ok
    assert {name for name, ok, _ in c.checks if not ok} == failing
    for _, ok, msg in c.checks:
        assert msg


# --- measures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, chart",
    [("proportion", "p"), ("rate", "u"), ("count", "c"), ("measurement", "i"),
     ("days_between", "t"), ("cases_between", "g")],
)  # fmt: skip
def test_chart_suggested_from_data_kind(kind, chart):
    assert wb.suggest_chart(kind) == chart


def test_suggest_chart_refuses_unknown_kind():
    with pytest.raises(wb.WorkbookInputError, match="data_kind"):
        wb.suggest_chart("<b>")


def test_infer_data_kind_from_definition():
    assert wb.infer_data_kind({"numerator_definition": "a", "denominator_definition": "b",
                               "unit": "%"}) == "proportion"  # fmt: skip
    assert wb.infer_data_kind({"numerator_definition": "a", "denominator_definition": "b",
                               "multiplier": 1000}) == "rate"  # fmt: skip
    assert wb.infer_data_kind({"numerator_definition": "falls"}) == "count"
    assert wb.infer_data_kind({"value_definition": "minutes"}) == "measurement"
    assert wb.infer_data_kind({"value_definition": "days between falls"}) == "days_between"
    assert wb.chart_type_for({"chart_type": "xmr"}) == "i"
    assert wb.chart_type_for({}) == "run"


def test_family_warnings():
    aim_unlinked = {"outcome_measure_ids": []}
    fam = [{"measure_type": "outcome"}, {"measure_type": "process"}]
    warnings = wb.family_warnings(fam, aim_unlinked)
    assert any("No balancing measure" in w for w in warnings)
    assert any("No outcome measure is linked to the aim" in w for w in warnings)
    fam = [{"measure_type": t} for t in ("outcome", "process", "process", "balancing")]
    assert wb.family_warnings(fam, {"outcome_measure_ids": [1]}) == []
    assert any("No outcome measure:" in w for w in wb.family_warnings(fam[1:], None))
    assert wb.family_warnings([], None)[0].startswith("There are no measures")


# --- driver diagram ---------------------------------------------------------------------------


def test_driver_tree_and_html_escape_every_text():
    nodes = [
        {"id": 3, "kind": "change_idea", "parent_id": 2, "text": HOSTILE, "order": 1},
        {"id": 1, "kind": "primary", "parent_id": None, "text": "Reliable checks", "order": 1},
        {"id": 2, "kind": "secondary", "parent_id": 1, "text": "Huddles", "order": 1},
        {"id": 4, "kind": "primary", "parent_id": 99, "text": "Orphan", "order": 2},
    ]
    tree = wb.driver_tree(nodes)
    assert [(n["id"], d) for n, d in tree] == [(1, 0), (2, 1), (3, 2), (4, 0)]
    out = wb.driver_diagram_html("<b>aim</b>", nodes)
    assert "<script>" not in out and "<img" not in out and "<b>aim" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "Orphan" in out


# --- variation --------------------------------------------------------------------------------


def test_chart_options_from_annotations():
    anns = [
        {"kind": "baseline", "date": MONTHS[11], "reason": "before huddles"},
        {"kind": "exclude", "date": MONTHS[4], "reason": "data lost"},
        {"kind": "exclude", "date": dt.date(2030, 1, 1), "reason": "no such point"},
        {"kind": "event", "date": MONTHS[3], "text": "ignored"},
    ]
    o = wb.chart_options(MONTHS, anns)
    assert o.freeze == 12 and o.exclude == (5,) and o.part == ()
    assert any("2030-01-01" in n for n in o.notes)
    o = wb.chart_options(
        MONTHS,
        [
            {"kind": "phase", "date": MONTHS[12], "reason": "r"},
            {"kind": "baseline", "date": MONTHS[5], "reason": "r"},
        ],
    )
    assert o.part == (12,) and o.freeze is None
    assert any("phases" in n for n in o.notes)
    o = wb.chart_options(MONTHS, [{"kind": "phase", "date": dt.date(2024, 12, 15), "reason": "r"}],
                         rule_set="mdc")  # fmt: skip
    assert o.rebase == (MONTHS[12],)
    o = wb.chart_options(MONTHS, [{"kind": "baseline", "date": MONTHS[5], "reason": "r"},
                                  {"kind": "exclude", "date": MONTHS[2], "reason": "r"}],
                         rule_set="mdc")  # fmt: skip
    assert o.fix_after_n_points is None
    assert any("at least 12" in n for n in o.notes)
    assert any("do not leave points out" in n for n in o.notes)
    assert wb.chart_options(MONTHS, [], baseline_end=MONTHS[11]).freeze == 12


def test_compute_chart_applies_baseline_and_exclusion():
    anns = [
        {"kind": "baseline", "date": MONTHS[11], "reason": "r"},
        {"kind": "exclude", "date": MONTHS[4], "reason": "r"},
    ]
    view = wb.compute_chart(obs_frame(), FALLS_MEASURE, "anhoej", anns)
    assert view.chart == "u" and view.result.rule_set == "Anhøj"
    assert view.result.options["freeze"] == 12
    assert view.result.options["exclude"] == [5]
    assert not bool(view.result.points["include"].iloc[4])
    ihi = wb.compute_chart(obs_frame(), FALLS_MEASURE, "ihi", anns)
    assert ihi.chart == "run" and ihi.result.rule_set == "IHI"
    mdc = wb.compute_chart(obs_frame(), FALLS_MEASURE, "mdc", anns)
    assert mdc.chart == "xmr" and mdc.result.rule_set == "Making Data Count"
    assert mdc.result.points["y"].iloc[0] == pytest.approx(6.0)  # 6 / 1000 x 1000
    with pytest.raises(wb.WorkbookInputError, match="no data points"):
        wb.compute_chart(obs_frame().iloc[:0], FALLS_MEASURE)


def test_signal_events_find_where_the_shift_began():
    d = pd.DataFrame({"x": pd.to_datetime(MONTHS), "y": FALLS})
    anhoej = wb.signal_events(spc.control_chart(d, x="x", y="y", chart="run"))
    assert [(e.kind, e.start, e.direction) for e in anhoej] == [
        ("shift", MONTHS[0], "up"),
        ("shift", MONTHS[12], "down"),
    ]
    ihi = wb.signal_events(spc.control_chart(d, x="x", y="y", chart="run", rule_set="ihi"))
    assert MONTHS[12] in {e.start for e in ihi}
    mdc = wb.signal_events(spc.mdc_chart(d, x="x", y="y", improvement="decrease"))
    assert {e.kind for e in mdc} == {"special cause"}
    flat = pd.DataFrame({"x": pd.to_datetime(MONTHS[:12]), "y": [5, 6, 5, 6, 5, 6] * 2})
    assert wb.signal_events(spc.control_chart(flat, x="x", y="y", chart="run")) == []


def test_compare_signals_says_what_changed():
    a = [wb.SignalEvent("shift", MONTHS[12], MONTHS[23], "down")]
    b = [
        wb.SignalEvent("shift", MONTHS[12], MONTHS[23], "down"),
        wb.SignalEvent("outside", MONTHS[3], MONTHS[3], "up"),
    ]
    text = wb.compare_signals(a, b, "Anhøj rules", "Making Data Count")
    assert "With Making Data Count: 2 signals" in text and "New under Making Data Count" in text
    assert "same points" in wb.compare_signals(a, a, "x", "y")
    assert "no signal" in wb.compare_signals([], [], "x", "y")


def test_pdsa_prompt_when_a_signal_follows_a_cycle():
    ev = [wb.SignalEvent("shift", MONTHS[12], MONTHS[23], "down")]
    cycles = [
        {"id": 7, "title": "Falls huddles", "do_start": MONTHS[10]},
        {"id": 8, "title": "Old idea", "do_start": MONTHS[1]},
        {"id": 9, "title": "Later", "do_start": MONTHS[15]},
        {"id": 10, "title": "Never started", "do_start": None},
    ]
    prompts = wb.pdsa_signal_prompts(ev, cycles, MONTHS, frequency="monthly")
    assert [p.pdsa_id for p in prompts] == [7]
    assert prompts[0].periods_after == 2
    assert prompts[0].text == (
        "A shift began 2 months after PDSA 'Falls huddles' started — record what you learned?"
    )
    weekly = wb.pdsa_signal_prompts(ev, cycles[:1], MONTHS, frequency="weekly")
    assert "2 weeks after" in weekly[0].text
    same = wb.pdsa_signal_prompts(ev, [{"id": 1, "title": "T", "do_start": MONTHS[12]}], MONTHS)
    assert "in the same month as" in same[0].text
    assert wb.pdsa_signal_prompts(ev, cycles[1:2], MONTHS) == []  # 11 months: too far
    assert wb.pdsa_signal_prompts(ev, cycles[1:2], MONTHS, within=12)


def test_chart_annotations_show_reasons_and_pdsa_cycles_once():
    anns = [
        {"kind": "baseline", "date": MONTHS[11], "text": "Baseline ends", "reason": "before"},
        {"kind": "pdsa_start", "date": MONTHS[10], "text": "PDSA 1 starts", "pdsa_id": 1},
    ]
    cycles = [
        {"id": 1, "title": "Huddles", "do_start": MONTHS[10], "measure_ids": [1]},
        {"id": 2, "title": "Signs", "do_start": MONTHS[13], "act": "adopt",
         "act_date": MONTHS[15], "measure_ids": []},
        {"id": 3, "title": "Other measure", "do_start": MONTHS[14], "measure_ids": [99]},
    ]  # fmt: skip
    rows = wb.chart_annotations(anns, cycles, measure_id=1)
    texts = [r["text"] for r in rows]
    assert texts == ["PDSA 1 starts", "Baseline ends (before)", "PDSA: Signs", "Adopted: Signs"]
    assert [r["kind"] for r in rows] == ["pdsa_start", "baseline", "pdsa_start", "pdsa_end"]


def test_pdsa_markers_stop_at_a_report_month_and_skip_marked_starts():
    cycles = [
        {"id": 1, "title": "Huddles", "do_start": MONTHS[10], "act": "adapt",
         "act_date": MONTHS[14], "measure_ids": [1]},
        {"id": 2, "title": "Signs", "do_start": MONTHS[13], "measure_ids": []},
        {"id": 3, "title": "Not decided", "do_start": MONTHS[9], "act_date": MONTHS[11],
         "measure_ids": [1]},
    ]  # fmt: skip
    every = wb.pdsa_markers(cycles, 1)
    texts = ["PDSA: Huddles", "Adapted: Huddles", "PDSA: Signs", "PDSA: Not decided"]
    assert [r["text"] for r in every] == texts  # no end marker before the Act decision
    until = wb.pdsa_markers(cycles, 1, marked={1}, until=MONTHS[13])
    assert [(r["date"], r["text"]) for r in until] == [
        (MONTHS[13], "PDSA: Signs"), (MONTHS[9], "PDSA: Not decided")
    ]  # fmt: skip


def test_pdsa_stage():
    assert wb.pdsa_stage({}) == "plan"
    assert wb.pdsa_stage({"do_start": MONTHS[0]}) == "do"
    assert wb.pdsa_stage({"do_start": MONTHS[0], "study_result": "fewer"}) == "act"
    assert wb.pdsa_stage({"study_result": "x", "act": "adopt"}) == "done"


def test_health_history_is_one_row_per_period():
    frame = pd.DataFrame({
        "period": pd.to_datetime([MONTHS[0], MONTHS[0], MONTHS[3]]),
        "component": ["autonomy", "shared_purpose", "autonomy"],
        "rating": [2, 3, 4],
    })  # fmt: skip
    h = wb.health_history(frame)
    assert list(h.columns) == ["period", *glossary.HEALTH_COMPONENTS]
    assert h["autonomy"].tolist() == [2, 4]
    assert wb.health_history(frame.iloc[:0]).empty


def test_only_annotations_with_a_reason_change_the_limits():
    anns = [
        {"kind": "baseline", "date": MONTHS[0], "text": "Baseline period: the first 12 months"},
        {"kind": "exclude", "date": MONTHS[3], "reason": ""},
        {"kind": "phase", "date": MONTHS[12], "reason": None},
    ]
    o = wb.chart_options(MONTHS, anns, baseline_end=MONTHS[11])
    assert o.freeze == 12 and o.exclude == () and o.part == ()
    assert any("exclude" in n.lower() and "no recorded reason" in n for n in o.notes)
    assert any("new phase" in n.lower() and "no recorded reason" in n for n in o.notes)
    assert any("Limits frozen on the first 12 points" in n for n in o.notes)


# --- the shared outcome measure across teams ------------------------------------------------


def teams_frame(denominators=(900, 1000, 1100), events=(5, 9, 14), months=12):
    """Three teams' monthly counts of one measure (``events`` a month, give or take one)."""
    rows = []
    for code, den, num in zip(("A", "B", "C"), denominators, events, strict=True):
        for k, month in enumerate(MONTHS[:months]):
            wobble = (k % 3 - 1) if num else 0  # -1, 0, +1: 12 months add up to 12 x num
            rows.append({"team": code, "period": pd.Timestamp(month),
                         "numerator": float(num + wobble), "denominator": float(den),
                         "value": float("nan")})  # fmt: skip
    return pd.DataFrame(rows)


def test_outcome_funnel_compares_a_rate_as_observed_over_expected():
    names = {"A": "Ward A", "B": "Ward B", "C": "Ward C"}
    result = wb.outcome_funnel(teams_frame(), FALLS_MEASURE, names)
    assert result.summary["data_type"].iloc[0] == "SR"
    points = result.points.set_index("group")
    assert set(points.index) == set(names.values())
    # each team's 12 months pooled; expected at the programme's overall rate
    rate = (5 + 9 + 14) / (900 + 1000 + 1100)
    assert points.loc["Ward A", "denominator"] == pytest.approx(12 * 900 * rate)
    assert points.loc["Ward C", "numerator"] == 12 * 14
    assert "observed / expected" in result.options["label"]


def test_outcome_funnel_compares_a_proportion_as_a_proportion():
    measure = {**FALLS_MEASURE, "chart_type": "p", "multiplier": 100}
    result = wb.outcome_funnel(teams_frame((20, 20, 20), (10, 12, 18)), measure)
    assert result.summary["data_type"].iloc[0] == "PR"
    assert result.points.set_index("group").loc["C", "denominator"] == 12 * 20
    assert result.options["denominator"] == "cases"


def test_outcome_funnel_needs_a_denominator_for_every_team_and_some_events():
    no_den = teams_frame()
    no_den.loc[no_den["team"] == "B", "denominator"] = 0.0
    assert wb.outcome_funnel(no_den, FALLS_MEASURE) is None
    assert wb.outcome_funnel(teams_frame(events=(0, 0, 0)), FALLS_MEASURE) is None
    assert wb.outcome_funnel(teams_frame().iloc[:0], FALLS_MEASURE) is None


def test_outcome_small_multiples_draw_each_team_s_own_chart():
    result = wb.outcome_small_multiples(teams_frame(), FALLS_MEASURE, {"A": "Ward A"})
    assert result.chart_type == "u" and result.facets == ("team",)
    assert list(dict.fromkeys(result.points["team"])) == ["Ward A", "B", "C"]
    # a u chart per team: its rate per 1,000 bed days
    first = result.points[result.points["team"] == "Ward A"]
    assert first["y"].iloc[0] == pytest.approx(4 / 900 * 1000)


def test_a_pdsa_end_marker_says_the_decision():
    assert [wb.pdsa_end_text(act, "Signs") for act in m.PDSA_ACTS] == [
        "Adopted: Signs", "Adapted: Signs", "Abandoned: Signs"]  # fmt: skip
    assert set(wb.PDSA_DECISIONS) == set(m.PDSA_ACTS)
