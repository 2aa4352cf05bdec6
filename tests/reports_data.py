"""A small falls collaborative for the report tests, built through the store's own API.

``build_programme(db, teams=4)`` writes a programme with shared measures (a U chart, a P chart,
a C chart), one team-specific Making Data Count measure per team, aims, driver diagrams, PDSA
cycles, annotations, reflections and progress scores for ``months`` months ending at ``end``.
Team ``i`` improves from month 18 on when ``i`` is even (a bright spot), so the programme report
has bright spots and teams without signals. Deterministic (seeded).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from qiwidgets.store import repo
from qiwidgets.store.db import init_db, session_scope


def month_list(end: str, months: int) -> list[dt.date]:
    y, m = (int(p) for p in end.split("-"))
    out = []
    for _ in range(months):
        out.append(dt.date(y, m, 1))
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return out[::-1]


def build_programme(
    db: str,
    teams: int = 4,
    months: int = 30,
    end: str = "2026-10",
    names: dict[int, str] | None = None,
    reflection_texts: dict[int, str] | None = None,
    seed: int = 7,
) -> dict:
    """Write the programme; return ``{"programme": code, "teams": [codes], "month": end}``."""
    init_db(db)
    rng = np.random.default_rng(seed)
    names = names or {}
    reflection_texts = reflection_texts or {}
    prog = repo.save_programme(
        db,
        {
            "code": "FALLS",
            "name": "Safer Wards falls collaborative",
            "shared_aim": "Reduce falls with harm by 30% across the region by March 2027",
        },
    )
    shared = {
        "falls_harm": repo.save_measure(db, {
            "programme_id": prog.id, "code": "falls_harm", "name": "Falls with harm",
            "measure_type": "outcome", "numerator_definition": "Falls with harm",
            "denominator_definition": "Occupied bed days", "unit": "per 1,000 bed days",
            "multiplier": 1000, "improvement_direction": "decrease", "target": 2.0,
            "chart_type": "u", "frequency": "monthly",
        }),
        "risk_assessed": repo.save_measure(db, {
            "programme_id": prog.id, "code": "risk_assessed",
            "name": "Patients with a falls risk assessment in 24 h", "measure_type": "process",
            "numerator_definition": "Assessed within 24 h", "denominator_definition": "Admissions",
            "unit": "%", "multiplier": 100, "improvement_direction": "increase", "target": 90,
            "chart_type": "p", "frequency": "monthly",
        }),
        "restraint": repo.save_measure(db, {
            "programme_id": prog.id, "code": "restraint", "name": "Use of bed rails",
            "measure_type": "balancing", "numerator_definition": "Patients with bed rails",
            "improvement_direction": "neutral", "chart_type": "c", "frequency": "monthly",
        }),
    }
    periods = month_list(end, months)
    codes = []
    obs_rows = []
    for i in range(teams):
        code = f"T{i + 1:02d}"
        codes.append(code)
        team = repo.save_team(db, {
            "programme_id": prog.id, "code": code, "name": names.get(i, f"Ward {i + 1}"),
            "organisation": "North Trust" if i % 2 else "South Trust",
        })  # fmt: skip
        own = repo.save_measure(db, {
            "programme_id": prog.id, "team_id": team.id, "code": "huddle_minutes",
            "name": "Safety huddle length", "measure_type": "process",
            "value_definition": "Minutes per huddle (mean)", "unit": "minutes",
            "improvement_direction": "decrease", "target": 10, "chart_type": "xmr",
            "frequency": "monthly",
        })  # fmt: skip
        repo.save_aim(db, {
            "team_id": team.id, "what": f"Reduce falls with harm on {names.get(i, f'Ward {i + 1}')}",
            "for_whom": "inpatients over 65", "how_much": "from 4 to 2 per 1,000 bed days",
            "by_when": "2027-03-31", "outcome_measure_ids": [shared["falls_harm"].id],
        })  # fmt: skip
        primary = repo.save_driver_node(
            db, {"team_id": team.id, "kind": "primary", "text": "Reliable risk assessment"}
        )
        idea = repo.save_driver_node(db, {
            "team_id": team.id, "kind": "change_idea", "parent_id": primary.id,
            "text": "Risk assessment at the bedside on admission",
        })  # fmt: skip
        improves = i % 2 == 0
        for k, p in enumerate(periods):
            later = improves and k >= months - 12
            bed_days = int(rng.integers(700, 900))
            rate = 2.0 if later else 4.5
            obs_rows.append((team.id, shared["falls_harm"].id, p,
                             float(rng.poisson(rate * bed_days / 1000)), float(bed_days), None))
            adm = int(rng.integers(80, 120))
            share = 0.93 if later else 0.7
            obs_rows.append((team.id, shared["risk_assessed"].id, p,
                             float(rng.binomial(adm, share)), float(adm), None))
            obs_rows.append((team.id, shared["restraint"].id, p,
                             float(rng.poisson(5)), None, None))
            obs_rows.append((team.id, own.id, p, None, None,
                             float(round(rng.normal(12 if not later else 8, 1.0), 1))))
        last = periods[-1]
        prev = periods[-2]
        cycle = repo.save_pdsa(db, {
            "team_id": team.id, "change_idea_id": idea.id, "measure_ids": [shared["risk_assessed"].id],
            "title": "Bedside risk assessment on one bay", "plan_question": "Can nurses do it?",
            "prediction": "8 of 10 admissions assessed within 24 h", "plan_date": prev,
            "do_start": prev + dt.timedelta(days=3), "study_date": last + dt.timedelta(days=5),
            "study_result": "9 of 10 assessed", "act": "adopt", "act_date": last + dt.timedelta(days=6),
        })  # fmt: skip
        repo.save_pdsa(db, {
            "team_id": team.id, "change_idea_id": idea.id, "title": "Extend to night shift",
            "prediction": "Most night admissions assessed", "plan_date": last + dt.timedelta(days=8),
            "do_start": last + dt.timedelta(days=10),
        })  # fmt: skip
        repo.save_annotation(db, {
            "team_id": team.id, "measure_id": shared["risk_assessed"].id, "pdsa_id": cycle.id,
            "date": prev + dt.timedelta(days=3), "text": "PDSA: bedside assessment", "kind": "pdsa_start",
        })  # fmt: skip
        repo.save_annotation(db, {
            "team_id": team.id, "date": periods[-6], "text": "New ward manager", "kind": "event",
        })  # fmt: skip
        for j, p in enumerate(periods[-3:]):
            repo.save_progress_score(db, {
                "team_id": team.id, "month": p, "team_score": 2.5 + 0.5 * j + (0.5 if improves else 0),
                "lead_score": 2.5 + 0.5 * j, "justification": f"Month {j + 1} of testing",
            })  # fmt: skip
        repo.save_reflection(db, {
            "team_id": team.id, "date": prev + dt.timedelta(days=20),
            "what_happened": "We started bedside assessments.", "learning_level": "single_loop",
        })  # fmt: skip
        repo.save_reflection(db, {
            "team_id": team.id, "date": last + dt.timedelta(days=25), "authors": "Ward team",
            "what_happened": reflection_texts.get(i, f"Latest reflection of {code}: huddles moved to 09:00."),
            "what_worked": "Short huddles", "what_did_not": "Night shift cover; we need help from the matron",
            "what_should_change": "Test the checklist on nights next month",
            "learning_level": "double_loop" if improves else "single_loop",
            "bright_spot": improves, "generalisable": improves,
            "story": "A patient's daughter thanked the team." if improves else None,
        })  # fmt: skip
    with session_scope(db) as session:
        repo.upsert_observations(session, [
            {"team_id": t, "measure_id": mid, "period": p, "numerator": n, "denominator": d,
             "value": v}
            for t, mid, p, n, d, v in obs_rows
        ], source="test")  # fmt: skip
    return {"programme": "FALLS", "teams": codes, "month": end}
