"""The sample programme: a synthetic collaborative, "Reducing harm from inpatient falls".

Twelve wards in three (invented) trusts, 36 months of data (November 2023 to October 2026):

* a shared outcome measure, falls with harm per 1,000 occupied bed days (U chart, lower is
  better);
* a shared process measure, % of patients with a multifactorial falls risk assessment within
  24 hours of admission (P chart, higher is better);
* a shared balancing measure, % of patients discharged less mobile than on admission (P chart,
  lower is better): keeping patients in bed is the obvious way to "prevent" falls, and the
  harm it does must stay visible;
* two team-specific measures: Ward 3's median call-bell response time (I chart) and Ward 7's
  % of high-risk patients with lying and standing blood pressure recorded (P chart).

Five wards adopt changes that hold, so their falls with harm drop and stay down (special cause
improvement in SPC); one improves a little, late; six show only common-cause variation. Aims,
driver diagrams, PDSA cycles, annotations, reflections, monthly progress scores (team and lead)
and six-monthly learning-system health checks go with them.

Everything comes from one seeded random generator, so

    python -m qiwidgets.store.sample --out data/samples

writes byte-identical files every time. ``observations.csv``, ``measures.csv``, ``teams.csv`` and
``pdsa.csv`` are valid import files (:mod:`qiwidgets.store.imports`); the other files are read by
:func:`load_sample` (``qiwidgets load-sample``), which loads everything in one transaction and
can be run again without changing anything.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from qiwidgets import resources
from qiwidgets.glossary import HEALTH_COMPONENTS
from qiwidgets.store import practice_sample
from qiwidgets.store.imports import PDSA_FIELDS

#: The seed of the generator: change it and every sample file changes.
SEED = 20231110
#: First and last month of the sample data.
FIRST_MONTH = dt.date(2023, 11, 1)
N_MONTHS = 36
PROGRAMME_CODE = "FALLS"
PROGRAMME_NAME = "Reducing harm from inpatient falls"
SHARED_AIM = (
    "Reduce falls with harm across our 12 wards by 30%, from 5.8 to 4.0 per 1,000 occupied bed "
    "days, by March 2027, without patients leaving hospital less mobile."
)

#: Where the sample files are: shipped in the wheel, or the checkout's data/samples
#: (:mod:`qiwidgets.resources`).
DEFAULT_DIR = resources.locate("samples")

#: The files of the sample programme, in the order load_sample reads them.
FILES = (
    "programme.csv",
    "teams.csv",
    "measures.csv",
    "drivers.csv",
    "aims.csv",
    "pdsa.csv",
    "observations.csv",
    "annotations.csv",
    "reflections.csv",
    "progress_scores.csv",
    "health_checks.csv",
    *practice_sample.FILES,  # people, help, comments, pulses, systems views (issue M)
)

# code, name, organisation, beds, baseline harm rate per 1,000 bed days,
# month index of a change that holds (None: no lasting change), size of the reduction
_WARDS = (
    ("W01", "Ward 1 (Acute Medicine)", "Northfield Hospitals NHS Trust", 30, 6.2, 12, 0.45),
    ("W02", "Ward 2 (Care of Older People)", "Northfield Hospitals NHS Trust", 28, 7.1, 10, 0.50),
    ("W03", "Ward 3 (Stroke)", "Northfield Hospitals NHS Trust", 26, 5.6, None, 0.0),
    ("W04", "Ward 4 (Orthogeriatrics)", "Northfield Hospitals NHS Trust", 24, 6.6, 14, 0.48),
    ("W05", "Ward 5 (Respiratory)", "Riverside University Hospitals", 28, 5.0, 24, 0.25),
    ("W06", "Ward 6 (Gastroenterology)", "Riverside University Hospitals", 26, 4.6, None, 0.0),
    ("W07", "Ward 7 (Care of Older People)", "Riverside University Hospitals", 30, 7.4, 11, 0.52),
    ("W08", "Ward 8 (Cardiology)", "Riverside University Hospitals", 24, 4.0, None, 0.0),
    ("W09", "Ward 9 (General Surgery)", "Eastgate Community Hospital", 22, 4.4, None, 0.0),
    ("W10", "Ward 10 (Rehabilitation)", "Eastgate Community Hospital", 20, 7.8, 13, 0.47),
    ("W11", "Ward 11 (Trauma and Orthopaedics)", "Eastgate Community Hospital", 28, 5.2, None, 0.0),
    ("W12", "Ward 12 (Acute Medical Unit)", "Eastgate Community Hospital", 32, 5.5, None, 0.0),
)
#: Ward 12 joined the collaborative six months late.
_LATE_START = {"W12": 6}
#: Months a ward sent no data (an audit that did not happen).
_MISSING = {("W06", 9), ("W09", 21)}

_MEASURES = (
    {
        "team": "",
        "code": "FALLS_HARM",
        "name": "Falls with harm per 1,000 occupied bed days",
        "measure_type": "outcome",
        "numerator_definition": "Inpatient falls graded low harm or above on the incident "
        "reporting system, by date of fall",
        "denominator_definition": "Occupied bed days (midnight census) in the month",
        "unit": "per 1,000 bed days",
        "multiplier": "1000",
        "population": "Adult inpatients on the ward",
        "inclusions": "All falls on the ward, witnessed or not",
        "exclusions": "Falls in other departments (e.g. imaging) before arrival on the ward",
        "data_source": "Incident reporting system; bed management system",
        "collector": "Ward falls champion with the patient safety team",
        "frequency": "monthly",
        "sampling": "None: every fall and every bed day",
        "improvement_direction": "decrease",
        "target": "4.0",
        "target_date": "2027-03-31",
        "chart_type": "u",
        "baseline_start": "2023-11-01",
        "baseline_end": "2024-10-01",
    },
    {
        "team": "",
        "code": "RISK_24H",
        "name": "Patients with a falls risk assessment within 24 hours of admission",
        "measure_type": "process",
        "numerator_definition": "Audited patients with a completed multifactorial falls risk "
        "assessment within 24 hours of admission to the ward",
        "denominator_definition": "Patients audited (20 consecutive admissions each month)",
        "unit": "%",
        "multiplier": "100",
        "population": "Adults admitted to the ward",
        "inclusions": "Admissions staying 24 hours or more",
        "exclusions": "Patients at the end of life on a care plan that excludes assessment",
        "data_source": "Monthly notes audit",
        "collector": "Ward sister or charge nurse",
        "frequency": "monthly",
        "sampling": "The first 20 admissions of the month",
        "improvement_direction": "increase",
        "target": "90",
        "target_date": "2025-10-31",
        "chart_type": "p",
        "baseline_start": "2023-11-01",
        "baseline_end": "2024-10-01",
    },
    {
        "team": "",
        "code": "MOBILITY_LOSS",
        "name": "Patients discharged less mobile than on admission",
        "measure_type": "balancing",
        "numerator_definition": "Audited discharges whose mobility score at discharge is lower "
        "than on admission",
        "denominator_definition": "Discharges audited (15 each month)",
        "unit": "%",
        "multiplier": "100",
        "population": "Adults discharged from the ward",
        "inclusions": "Discharges home or to a care home",
        "exclusions": "Deaths; transfers to another hospital",
        "data_source": "Physiotherapy mobility scores in the electronic record",
        "collector": "Ward physiotherapist",
        "frequency": "monthly",
        "sampling": "The first 15 discharges of the month",
        "improvement_direction": "decrease",
        "target": "",
        "target_date": "",
        "chart_type": "p",
        "baseline_start": "2023-11-01",
        "baseline_end": "2024-10-01",
    },
    {
        "team": "W03",
        "code": "CALL_BELL",
        "name": "Median call-bell response time",
        "measure_type": "process",
        "value_definition": "Median minutes from call bell to a member of staff at the bedside, "
        "from 30 timed calls",
        "unit": "minutes",
        "population": "Patients on Ward 3",
        "data_source": "Call-bell system log",
        "collector": "Ward 3 healthcare assistants",
        "frequency": "monthly",
        "sampling": "30 calls at random times across the month",
        "improvement_direction": "decrease",
        "target": "3",
        "target_date": "2025-06-30",
        "chart_type": "i",
        "baseline_start": "2023-11-01",
        "baseline_end": "2024-10-01",
    },
    {
        "team": "W07",
        "code": "LYING_STANDING_BP",
        "name": "High-risk patients with lying and standing blood pressure recorded",
        "measure_type": "process",
        "numerator_definition": "Audited high-risk patients with lying and standing blood "
        "pressure recorded within 48 hours of admission",
        "denominator_definition": "High-risk patients audited (10 each month)",
        "unit": "%",
        "multiplier": "100",
        "population": "Patients over 65 or with a fall in the last year",
        "data_source": "Observation charts",
        "collector": "Ward 7 falls champion",
        "frequency": "monthly",
        "sampling": "10 high-risk patients each month",
        "improvement_direction": "increase",
        "target": "90",
        "target_date": "2025-03-31",
        "chart_type": "p",
        "baseline_start": "2023-11-01",
        "baseline_end": "2024-10-01",
    },
)

# The driver diagram every ward starts from: (ref, parent ref, kind, text).
_DRIVERS = (
    ("P1", "", "primary", "Patients at risk are identified reliably"),
    ("S1", "P1", "secondary", "Multifactorial risk assessment within 24 hours of admission"),
    ("C1", "S1", "change_idea", "Risk assessment prompt in the admission checklist"),
    ("C2", "S1", "change_idea", "Falls champion checks new admissions at the morning huddle"),
    ("P2", "", "primary", "The ward environment is safe"),
    ("S2", "P2", "secondary", "Call bell, drink and belongings within reach"),
    ("C3", "S2", "change_idea", "Intentional rounding every hour for high-risk patients"),
    ("S3", "P2", "secondary", "Safe footwear and clear floors"),
    ("C4", "S3", "change_idea", "Non-slip socks stocked in every bay"),
    ("P3", "", "primary", "Medical causes of falls are found and treated"),
    ("S4", "P3", "secondary", "Postural hypotension is looked for"),
    ("C5", "S4", "change_idea", "Lying and standing blood pressure on admission for over-65s"),
    ("S5", "P3", "secondary", "Medicines that raise the risk are reviewed"),
    ("C6", "S5", "change_idea", "Pharmacist reviews sedatives within 48 hours"),
    ("P4", "", "primary", "Patients and families take part"),
    ("S6", "P4", "secondary", "Patients understand their own risk"),
    ("C7", "S6", "change_idea", "Falls leaflet and conversation on admission"),
    ("C8", "S6", "change_idea", "Families invited to stay with confused patients"),
)
_CHANGE_IDEAS = {ref: text for ref, _, kind, text in _DRIVERS if kind == "change_idea"}

_HEALTH_MONTHS = (2, 8, 14, 20, 26, 32)  # January and July each year


def _month(i: int) -> dt.date:
    y, m = divmod(FIRST_MONTH.month - 1 + i, 12)
    return dt.date(FIRST_MONTH.year + y, m + 1, 1)


def _days_in_month(d: dt.date) -> int:
    following = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return (following - d).days


def _fmt_month(d: dt.date) -> str:
    return d.strftime("%Y-%m")


def _fmt_date(d: dt.date | None) -> str:
    return "" if d is None else d.isoformat()


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    path.write_bytes(buffer.getvalue().encode("utf-8"))


# --- the generator ---------------------------------------------------------------------------------


class _Sample:
    def __init__(self, seed: int = SEED):
        self.rng = np.random.default_rng(seed)

    def ramp(self, month: int, start: int | None, weeks: int = 3) -> float:
        """0 before a change, 1 once it has bedded in (linear over ``weeks`` months)."""
        if start is None or month < start:
            return 0.0
        return min(1.0, (month - start + 1) / weeks)

    def observations(self) -> list[list]:
        rng = self.rng
        rows: list[list] = []
        for code, _, _, beds, rate, change, drop in _WARDS:
            first = _LATE_START.get(code, 0)
            risk_base = rng.uniform(0.52, 0.70)
            mobility_base = rng.uniform(0.09, 0.15)
            for i in range(first, N_MONTHS):
                if (code, i) in _MISSING:
                    continue
                month = _month(i)
                quality = "provisional" if i == N_MONTHS - 1 else "ok"
                occupancy = rng.uniform(0.86, 0.97)
                if month.month in (12, 1, 2):  # winter pressures
                    occupancy = min(0.995, occupancy + 0.04)
                bed_days = round(beds * _days_in_month(month) * occupancy)
                effect = self.ramp(i, change)
                harm_rate = rate * (1 - drop * effect) * (1 + 0.08 * (month.month in (12, 1)))
                falls = int(rng.poisson(harm_rate * bed_days / 1000))
                rows.append([code, "FALLS_HARM", _fmt_month(month), falls, bed_days, "", quality])

                audited = int(rng.integers(18, 23))
                process_effect = self.ramp(i, None if change is None else change - 2)
                p_risk = risk_base + (0.93 - risk_base) * process_effect
                if code == "W05" and i >= 16:  # a partial, late improvement
                    p_risk = min(0.85, p_risk + 0.15)
                assessed = int(rng.binomial(audited, p_risk))
                q = quality
                if (code, i) == ("W08", 15):
                    q = "incomplete"
                rows.append([code, "RISK_24H", _fmt_month(month), assessed, audited, "", q])

                discharges = 15
                p_mob = mobility_base
                if code == "W09" and 18 <= i < 24:  # bed rails and chair alarms overused
                    p_mob += 0.12
                worse = int(rng.binomial(discharges, p_mob))
                rows.append(
                    [code, "MOBILITY_LOSS", _fmt_month(month), worse, discharges, "", quality]
                )

                if code == "W03":
                    minutes = max(0.5, rng.normal(6.2 - 2.4 * self.ramp(i, 15, 4), 0.7))
                    q3 = "estimated" if i == 7 else quality
                    rows.append(
                        [code, "CALL_BELL", _fmt_month(month), "", "", f"{minutes:.1f}", q3]
                    )
                if code == "W07":
                    n_bp = 10
                    p_bp = 0.25 + 0.65 * self.ramp(i, 8, 2)
                    recorded = int(rng.binomial(n_bp, p_bp))
                    rows.append(
                        [code, "LYING_STANDING_BP", _fmt_month(month), recorded, n_bp, "", quality]
                    )
        return rows

    def pdsa(self) -> tuple[list[list], list[list]]:
        """PDSA cycles, and the annotations marking their starts."""
        rng = self.rng
        cycles: list[list] = []
        notes: list[list] = []
        for code, name, _, _, _, change, _ in _WARDS:
            ward = name.split(" (")[0]
            first = _LATE_START.get(code, 0)
            plans = []
            if change is not None:
                plans += [
                    (
                        "C1",
                        change - 4,
                        "adapt",
                        (
                            "One bay first: half the admissions were "
                            "assessed in time; the prompt was missed at night."
                        ),
                    ),
                    (
                        "C1",
                        change - 2,
                        "adopt",
                        (
                            "With the night team's changes 17 of 20 "
                            "admissions were assessed within 24 hours."
                        ),
                    ),
                    (
                        "C3",
                        change - 1,
                        "adopt",
                        (
                            "Rounding sheets were completed for 9 in 10 "
                            "high-risk patients; staff said it saved them time."
                        ),
                    ),
                ]
                if code in ("W02", "W07", "W10"):
                    plans.append(
                        (
                            "C8",
                            change + 3,
                            "adopt",
                            (
                                "Families of confused patients "
                                "stayed on 11 of 14 evenings; no falls in those bays."
                            ),
                        )
                    )
            else:
                plans += [
                    (
                        "C1",
                        first + 6 + int(rng.integers(0, 6)),
                        "adapt",
                        (
                            "The prompt was used "
                            "for some admissions; agency staff did not know about it."
                        ),
                    ),
                    (
                        "C4",
                        first + 14 + int(rng.integers(0, 6)),
                        "abandon",
                        "Socks ran out within a week and restocking could not be arranged.",
                    ),
                ]
                if code == "W09":
                    plans.append(
                        (
                            "C3",
                            17,
                            "abandon",
                            (
                                "Rounding drifted into keeping patients "
                                "in bed; mobility at discharge got worse, so we stopped."
                            ),
                        )
                    )
            if code == "W07":
                plans.append(
                    (
                        "C5",
                        7,
                        "adopt",
                        (
                            "Lying and standing BP recorded for 8 of 10 "
                            "high-risk patients by week four."
                        ),
                    )
                )
            if code == "W03":
                plans.append(
                    (
                        "C3",
                        14,
                        "adopt",
                        (
                            "Call bells answered in a median of 3 minutes "
                            "on the test bay, down from 6."
                        ),
                    )
                )
            plans.sort(key=lambda p: p[1])
            for number, (ref, month_index, act, result) in enumerate(plans, start=1):
                month_index = max(first, min(N_MONTHS - 3, month_index))
                plan_date = _month(month_index) + dt.timedelta(days=int(rng.integers(0, 10)))
                do_start = plan_date + dt.timedelta(days=int(rng.integers(5, 12)))
                study_date = do_start + dt.timedelta(days=int(rng.integers(21, 35)))
                act_date = study_date + dt.timedelta(days=int(rng.integers(1, 6)))
                idea = _CHANGE_IDEAS[ref]
                title = f"{ward} PDSA {number}: {idea}"
                measures = "FALLS_HARM;RISK_24H" if ref in ("C1", "C2") else "FALLS_HARM"
                if ref == "C5" and code == "W07":
                    measures = "FALLS_HARM;LYING_STANDING_BP"
                if ref == "C3" and code == "W03":
                    measures = "FALLS_HARM;CALL_BELL"
                if ref == "C3" and code == "W09":
                    measures = "FALLS_HARM;MOBILITY_LOSS"
                cycles.append(
                    [
                        code,
                        title,
                        idea,
                        measures,
                        f"Will '{idea.lower()}' work on {ward} as we run it now?",
                        "Most eligible patients will get it within the first two weeks.",
                        _fmt_date(plan_date),
                        _fmt_date(do_start),
                        f"Tested for four weeks on {ward}.",
                        _fmt_date(study_date),
                        result,
                        act,
                        _fmt_date(act_date),
                    ]
                )
                notes.append(
                    [
                        code,
                        "",
                        _fmt_date(do_start),
                        "pdsa_start",
                        f"PDSA {number} starts: {idea}",
                        "",
                        title,
                    ]
                )
        return cycles, notes

    def events(self) -> list[list]:
        rows = [
            ["W04", "", "2024-06-17", "event", "Ward moved to the new orthopaedic block", "", ""],
            ["W06", "", "2024-12-02", "event", "Winter escalation: 6 extra beds opened", "", ""],
            ["W11", "", "2025-01-06", "event", "Two senior nurses left; agency cover", "", ""],
            [
                "W08",
                "RISK_24H",
                "2025-02-01",
                "exclude",
                "Audit incomplete this month",
                "Only 9 of 20 notes could be found",
                "",
            ],
        ]
        for code, _, _, _, _, change, _ in _WARDS:
            if change is not None and change + 9 < N_MONTHS:
                rows.append(
                    [
                        code,
                        "FALLS_HARM",
                        _fmt_date(_month(change + 1)),
                        "rebase",
                        "New limits after the change",
                        (
                            "Risk assessment prompt and hourly "
                            "rounding adopted; the shift has held for nine months"
                        ),
                        "",
                    ]
                )
        for code, *_ in _WARDS:
            rows.append(
                [
                    code,
                    "",
                    _fmt_date(_month(_LATE_START.get(code, 0))),
                    "baseline",
                    "Baseline period: the first 12 months",
                    "",
                    "",
                ]
            )
        return rows

    def reflections(self) -> list[list]:
        rng = self.rng
        rows = []
        levels = ("single_loop", "double_loop", "deutero")
        for code, name, _, _, _, change, _ in _WARDS:
            ward = name.split(" (")[0]
            first = _LATE_START.get(code, 0)
            dates = sorted({first + 2, first + 9, 18, 27, 34})
            for k, i in enumerate(dates):
                when = _month(i) + dt.timedelta(days=int(rng.integers(24, 27)))
                improving = change is not None and i > change + 2
                if improving:
                    happened = (
                        f"Falls with harm on {ward} have stayed below the old average "
                        "for several months."
                    )
                    worked = (
                        "Assessing every admission within 24 hours, and hourly rounding "
                        "for the patients it picked out."
                    )
                    not_worked = "Night shifts still miss some assessments at weekends."
                    change_next = "Share the night-shift checklist with the other wards."
                    bright = k >= 2
                    general = k >= 3
                    story = (
                        f"A patient on {ward} told us the hourly visits made her feel "
                        "safe enough to ask for help instead of walking alone."
                        if k == 3
                        else ""
                    )
                    level = levels[min(2, k - 1)] if k else "single_loop"
                else:
                    happened = (
                        f"No change yet in falls with harm on {ward}; the chart shows "
                        "only common-cause variation."
                    )
                    worked = "The huddle keeps falls on the agenda."
                    not_worked = (
                        "Tests stalled when staff changed; agency staff did not know "
                        "the new process."
                    )
                    change_next = "Test smaller changes with the night team before scaling up."
                    bright = False
                    general = False
                    story = ""
                    level = "single_loop" if k < 3 else "double_loop"
                if code == "W09" and i >= 18:
                    happened = (
                        "Mobility at discharge got worse while we kept high-risk patients in bed."
                    )
                    worked = "Watching the balancing measure caught it within months."
                    not_worked = "Our theory that fewer steps means fewer falls was wrong."
                    change_next = "Change the driver diagram: safe mobility, not restriction."
                    level = "double_loop"
                    general = True
                rows.append(
                    [
                        code,
                        _fmt_date(when),
                        f"{ward} improvement team",
                        happened,
                        worked,
                        not_worked,
                        change_next,
                        level,
                        "yes" if bright else "no",
                        story,
                        "yes" if general else "no",
                        # the team shared with the programme what it flagged for others
                        "yes" if bright or general else "no",
                    ]
                )
        return rows

    def progress(self) -> list[list]:
        rng = self.rng
        rows = []
        for code, _, _, _, _, change, _ in _WARDS:
            first = _LATE_START.get(code, 0)
            for i in range(first, N_MONTHS):
                months_in = i - first
                if months_in < 2:
                    score = 1.0 + 0.5 * months_in
                elif change is None:
                    score = 2.0 if months_in < 10 else 2.5
                else:
                    since = i - change
                    score = (
                        2.5
                        if since < 0
                        else 3.0
                        if since < 3
                        else 3.5
                        if since < 7
                        else (4.0 if since < 14 else 4.5)
                    )
                if code == "W05" and i >= 26:
                    score = 3.0
                lead = score - 0.5 if (score >= 3.5 and rng.random() < 0.3) else score
                justification = {
                    1.0: "Charter signed and team formed.",
                    1.5: "Planning the first tests.",
                    2.0: "Activity under way; no changes tested yet.",
                    2.5: "Changes tested; no improvement in the measures yet.",
                    3.0: "Modest improvement in the process measure.",
                    3.5: "Improvement in falls with harm (special cause on the U chart).",
                    4.0: "Significant improvement, sustained for six months.",
                    4.5: "Sustainable improvement, with the changes part of daily work.",
                }[score]
                rows.append(
                    [code, _fmt_month(_month(i)), f"{score:.1f}", f"{lead:.1f}", justification]
                )
        return rows

    def health(self) -> list[list]:
        rng = self.rng
        rows = []
        comments = {
            1: "Not in place yet.",
            2: "Early days; depends on one or two people.",
            3: "In place but patchy.",
            4: "Working well most months.",
            5: "Strong and self-sustaining.",
        }
        for k, i in enumerate(_HEALTH_MONTHS):
            for comp in HEALTH_COMPONENTS:
                rating = int(min(5, 2 + k // 2 + (comp == "shared_purpose")))
                rows.append(["", _fmt_month(_month(i)), comp, rating, comments[rating]])
        for code, _, _, _, _, change, _ in _WARDS:
            for k, i in enumerate(_HEALTH_MONTHS):
                if i < _LATE_START.get(code, 0):
                    continue
                for comp in HEALTH_COMPONENTS:
                    base = 2 + (k // 2 if change is not None else k // 3)
                    rating = int(np.clip(base + rng.integers(-1, 2), 1, 5))
                    rows.append([code, _fmt_month(_month(i)), comp, rating, comments[rating]])
        return rows


def generate(out: str | os.PathLike = DEFAULT_DIR, seed: int = SEED) -> list[Path]:
    """Write the sample programme's files into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sample = _Sample(seed)
    written = []

    def write(name, header, rows):
        path = out / name
        _write_csv(path, header, rows)
        written.append(path)

    write(
        "programme.csv",
        ["code", "name", "shared_aim"],
        [[PROGRAMME_CODE, PROGRAMME_NAME, SHARED_AIM]],
    )
    write(
        "teams.csv",
        ["programme", "programme_name", "code", "name", "organisation"],
        [[PROGRAMME_CODE, PROGRAMME_NAME, c, n, o] for c, n, o, *_ in _WARDS],
    )
    from qiwidgets.store.imports import FORMATS

    measure_columns = [c.name for c in FORMATS["measures"]]
    write(
        "measures.csv",
        measure_columns,
        [
            [PROGRAMME_CODE if c == "programme" else m.get(c, "") for c in measure_columns]
            for m in _MEASURES
        ],
    )
    write(
        "drivers.csv",
        ["team", "ref", "parent", "kind", "text", "order"],
        [
            [code, ref, parent, kind, text, n]
            for code, *_ in _WARDS
            for n, (ref, parent, kind, text) in enumerate(_DRIVERS)
        ],
    )
    aims = []
    for code, name, _, _, rate, _, _ in _WARDS:
        ward = name.split(" (")[0]
        target = rate * 0.7
        aims.append(
            [
                code,
                f"Reduce falls with harm on {ward}",
                "adult inpatients",
                f"from {rate:.1f} to {target:.1f} per 1,000 occupied bed days (30% fewer)",
                "2027-03-31",
                f"{rate:.1f} per 1,000 occupied bed days (first 12 months)",
                "FALLS_HARM",
            ]
        )
    write(
        "aims.csv",
        ["team", "what", "for_whom", "how_much", "by_when", "baseline", "measures"],
        aims,
    )
    cycles, starts = sample.pdsa()
    pdsa_columns = ["team", "title", "change_idea", "measures", *PDSA_FIELDS]
    write("pdsa.csv", pdsa_columns, cycles)
    write(
        "observations.csv",
        ["team", "measure", "period", "numerator", "denominator", "value", "data_quality"],
        sample.observations(),
    )
    write(
        "annotations.csv",
        ["team", "measure", "date", "kind", "text", "reason", "pdsa"],
        starts + sample.events(),
    )
    write(
        "reflections.csv",
        [
            "team",
            "date",
            "authors",
            "what_happened",
            "what_worked",
            "what_did_not",
            "what_should_change",
            "learning_level",
            "bright_spot",
            "story",
            "generalisable",
            "shared",
        ],
        sample.reflections(),
    )
    write(
        "progress_scores.csv",
        ["team", "month", "team_score", "lead_score", "justification"],
        sample.progress(),
    )
    write(
        "health_checks.csv", ["team", "period", "component", "rating", "comment"], sample.health()
    )
    written += practice_sample.generate(out)
    return written


# --- loading ------------------------------------------------------------------------------------


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


def _date(text: str) -> dt.date | None:
    from qiwidgets.store.imports import parse_date

    return parse_date(text) if text else None


def _upsert(session, model, key: dict, values: dict, schema):
    """The record of ``model`` matching ``key``: created, updated, or left as it is; checked
    first by the store's record rules ``schema`` (:mod:`qiwidgets.store.schemas`), as a save
    from the workbook is."""
    from sqlalchemy import select

    from qiwidgets.store.schemas import validate

    checked = validate(schema, {**key, **values}, f"sample's {model.__tablename__} record")
    key = {name: getattr(checked, name) for name in key}
    values = {name: getattr(checked, name) for name in values}

    stmt = select(model)
    for name, value in key.items():
        column = getattr(model, name)
        stmt = stmt.where(column.is_(None) if value is None else column == value)
    found = session.scalars(stmt).first()
    if found is None:
        found = model(**key, **values, version=1)
        session.add(found)
        session.flush()
        return found
    for name, value in values.items():
        if getattr(found, name) != value:
            setattr(found, name, value)
    return found


def check_folder(folder: str | os.PathLike = DEFAULT_DIR) -> Path:
    """``folder`` as a path, checked to hold every sample file (before anything is created)."""
    from qiwidgets.errors import StoreError

    folder = Path(folder)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing and folder == DEFAULT_DIR:
        resources.find("samples", *FILES)  # says how to repair the installation
    if missing:
        raise StoreError(
            f"The sample folder {folder} lacks {', '.join(missing)}: regenerate it with "
            "`python -m qiwidgets.store.sample --out DIR`."
        )
    return folder


def load_sample(db=None, folder: str | os.PathLike = DEFAULT_DIR) -> dict[str, int]:
    """Load the sample programme from ``folder`` into ``db``, in one transaction.

    Safe to run again: records are matched by their natural keys (a team by its code, an
    observation by team x measure x period, a reflection by team, date and text ...), so a second
    run changes nothing. Returns how many records of each kind the sample holds.
    """
    from qiwidgets.store import imports, schemas
    from qiwidgets.store import models as m
    from qiwidgets.store.db import run_in_transaction

    folder = check_folder(folder)
    prepared = {}
    for kind, name in (
        ("teams", "teams.csv"),
        ("measures", "measures.csv"),
        ("pdsa", "pdsa.csv"),
        ("observations", "observations.csv"),
    ):
        table, problems = imports.read_table(folder / name, kind)
        prepared[kind] = (table, problems, name)
    rows = {
        name: _read(folder / name)
        for name in FILES
        if name not in ("teams.csv", "measures.csv", "pdsa.csv", "observations.csv")
    }

    def load(session) -> dict[str, int]:
        from sqlalchemy import select

        def run(kind):
            table, problems, name = prepared[kind]
            result = imports.import_table(session, kind, table, problems.copy(), f"sample/{name}")
            session.flush()
            return result

        (p,) = rows["programme.csv"]
        programme = _upsert(
            session,
            m.Programme,
            {"code": p["code"]},
            {"name": p["name"], "shared_aim": p["shared_aim"] or None},
            schemas.ProgrammeIn,
        )
        run("teams")
        run("measures")
        teams = {
            t.code: t
            for t in session.scalars(select(m.Team).where(m.Team.programme_id == programme.id))
        }
        measures = {
            (x.team_id, x.code): x
            for x in session.scalars(
                select(m.Measure).where(m.Measure.programme_id == programme.id)
            )
        }

        def measure(team, code):
            return measures.get((team.id, code)) or measures[(None, code)]

        nodes: dict[tuple[str, str], m.DriverNode] = {}
        for r in rows["drivers.csv"]:
            team = teams[r["team"]]
            parent = nodes[(r["team"], r["parent"])] if r["parent"] else None
            node = _upsert(
                session,
                m.DriverNode,
                {"team_id": team.id, "kind": r["kind"], "text": r["text"]},
                {"parent_id": parent.id if parent else None, "order": int(r["order"])},
                schemas.DriverNodeIn,
            )
            nodes[(r["team"], r["ref"])] = node
        for r in rows["aims.csv"]:
            team = teams[r["team"]]
            aim = _upsert(
                session,
                m.Aim,
                {"team_id": team.id, "what": r["what"]},
                {
                    "for_whom": r["for_whom"] or None,
                    "how_much": r["how_much"] or None,
                    "by_when": _date(r["by_when"]),
                    "baseline": r["baseline"] or None,
                },
                schemas.AimIn,
            )
            wanted = [measure(team, c) for c in r["measures"].split(";") if c]
            if {x.id for x in aim.outcome_measures} != {x.id for x in wanted}:
                aim.outcome_measures = wanted
        session.flush()
        run("pdsa")
        run("observations")
        cycles = {
            (c.team_id, c.title): c
            for c in session.scalars(
                select(m.PDSACycle).where(m.PDSACycle.team_id.in_([t.id for t in teams.values()]))
            )
        }
        for r in rows["annotations.csv"]:
            team = teams[r["team"]]
            cycle = cycles.get((team.id, r["pdsa"])) if r["pdsa"] else None
            _upsert(
                session,
                m.Annotation,
                {
                    "team_id": team.id,
                    "measure_id": measure(team, r["measure"]).id if r["measure"] else None,
                    "date": _date(r["date"]),
                    "kind": r["kind"],
                    "text": r["text"],
                },
                {"reason": r["reason"] or None, "pdsa_id": cycle.id if cycle else None},
                schemas.AnnotationIn,
            )
        for r in rows["reflections.csv"]:
            team = teams[r["team"]]
            _upsert(
                session,
                m.Reflection,
                {"team_id": team.id, "date": _date(r["date"]), "what_happened": r["what_happened"]},
                {
                    "authors": r["authors"] or None,
                    "what_worked": r["what_worked"] or None,
                    "what_did_not": r["what_did_not"] or None,
                    "what_should_change": r["what_should_change"] or None,
                    "learning_level": r["learning_level"] or None,
                    "bright_spot": r["bright_spot"] == "yes",
                    "story": r["story"] or None,
                    "generalisable": r["generalisable"] == "yes",
                    "shared": r.get("shared") == "yes",
                },
                schemas.ReflectionIn,
            )
        for r in rows["progress_scores.csv"]:
            team = teams[r["team"]]
            _upsert(
                session,
                m.ProgressScore,
                {"team_id": team.id, "month": _date(r["month"])},
                {
                    "team_score": float(r["team_score"]),
                    "lead_score": float(r["lead_score"]),
                    "justification": r["justification"] or None,
                },
                schemas.ProgressScoreIn,
            )
        for r in rows["health_checks.csv"]:
            team = teams[r["team"]] if r["team"] else None
            _upsert(
                session,
                m.HealthCheck,
                {
                    "programme_id": programme.id,
                    "team_id": team.id if team else None,
                    "period": _date(r["period"]),
                    "component": r["component"],
                },
                {"rating": int(r["rating"]), "comment": r["comment"] or None},
                schemas.HealthCheckIn,
            )
        practice_sample.load(session, folder, programme, teams)
        session.flush()
        counts = {name.removesuffix(".csv"): len(v) for name, v in rows.items()}
        counts.update({k: len(v[0]) for k, v in prepared.items()})
        return counts

    return run_in_transaction(load, db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qiwidgets.store.sample",
        description="Regenerate the sample programme's CSV files (seeded: byte-identical).",
    )
    parser.add_argument("--out", default=str(DEFAULT_DIR), help="folder to write into")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    args = parser.parse_args(argv)
    for path in generate(args.out, args.seed):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
