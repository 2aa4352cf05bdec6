"""The sample programme's learning practice (issue M): its people and their parts on each ward,
requests for help, the PDSA cycles and stories wards shared and the comments on them, six
months of safety pulses, the systems view of recent plans, Senge's disciplines on
reflections, skills profiles and cause-and-effect (fishbone) diagrams.

Written by :func:`qiwidgets.store.sample.generate` and loaded by
:func:`qiwidgets.store.sample.load_sample` (in its one transaction). Its own seeded generator
(:data:`SEED`), so the rest of the sample does not change. Every name is invented; identity keys
use the reserved ``.example`` domain, and no one in the sample has an access link.

What a reader should find: every ward has a team lead, members, a patient or family partner,
a sponsor and one of three coaches; six wards asked for help (two still open); seven PDSA cycles
and the shared stories carry comments from other wards; the pulse runs May to October 2026, with
Ward 12's May (two answers) and Ward 8's June (one answer) too small to show to the ward, and the
programme's pooled months all above its minimum. The leads, members and patient partners of
six wards (W01, W03, W05, W07, W09, W12) rated their skills, with gaps in W03, W05, W09 and W12;
W05, W06 and W09 drew a fishbone, most causes linked to their driver diagram.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

#: The generator of the pulse's counts (apart from the sample's own, which it leaves alone).
SEED = 20261001
#: The files, in the order they are loaded.
FILES = ("members.csv", "help_requests.csv", "shared_pdsa.csv", "comments.csv", "pulse.csv",
         "pdsa_lenses.csv", "reflection_disciplines.csv", "skills.csv", "fishbones.csv",
         "fishbone_causes.csv")  # fmt: skip
#: The generator of the skills profiles (apart from the pulse's, which it leaves alone).
SKILLS_SEED = 20261101
#: The programme lead of the sample.
PROGRAMME_LEAD = ("rosa.mendes@falls-collaborative.example", "Rosa Mendes")
#: The coaches: one per trust (identity key, name, the wards they coach).
COACHES = (
    ("imran.qureshi@northfield.example", "Imran Qureshi", ("W01", "W02", "W03", "W04")),
    ("helen.achebe@riverside.example", "Helen Achebe", ("W05", "W06", "W07", "W08")),
    ("tom.lindqvist@eastgate.example", "Tom Lindqvist", ("W09", "W10", "W11", "W12")),
)
_DOMAINS = {"W01": "northfield", "W02": "northfield", "W03": "northfield", "W04": "northfield",
            "W05": "riverside", "W06": "riverside", "W07": "riverside", "W08": "riverside",
            "W09": "eastgate", "W10": "eastgate", "W11": "eastgate", "W12": "eastgate"}  # fmt: skip
_FIRST = ("Aisha", "Ben", "Chloe", "Dev", "Ella", "Femi", "Grace", "Hari", "Iris", "Jon", "Kemi",
          "Liam", "Maya", "Nia", "Owen", "Priya", "Quinn", "Ravi", "Sara", "Theo", "Una", "Vik",
          "Wen", "Yara", "Zac", "Amal", "Beth", "Cal", "Dina", "Eli", "Fay", "Gus", "Hana", "Ivo",
          "Jade", "Kit", "Lola", "Max", "Noor", "Olu", "Pia", "Rhys", "Sian", "Tara", "Umar",
          "Vera", "Will", "Xena", "Yusuf", "Zara", "Adam", "Bea", "Cole", "Demi", "Evan", "Flo",
          "Gil", "Hope", "Ian", "Joy")  # fmt: skip
_LAST = ("Patel", "Okafor", "Smith", "Nowak", "Hughes", "Khan", "Evans", "Murphy", "Ali",
         "Roberts", "Chen", "Davies", "Ahmed", "Walsh", "Jones")  # fmt: skip
#: Each ward's people beyond its coach: (access role, team role), in this order.
_PARTS = (("lead", "team_lead"), ("member", "team_member"), ("member", "team_member"),
          ("member", "team_member"), ("member", "patient_partner"), ("viewer", "sponsor"))  # fmt: skip
#: Wards with a fifth member (a larger team).
_LARGER = ("W01", "W02", "W07", "W10", "W12")

_HELP = (
    (
        "W03",
        "2026-03-04",
        (
            "Our call-bell data come from a system log we cannot export any more. "
            "Has another ward found a way to time calls by hand that the staff can keep up?"
        ),
        1,
        "answered",
        (
            "Ward 7 times ten calls a day on a paper sheet at the nurses' station: Helen "
            "will put you in touch with their falls champion."
        ),
        "2026-03-09",
        "coach",
    ),
    (
        "W06",
        "2026-05-12",
        (
            "Three tests and our falls with harm have not moved. Could a coach "
            "join our huddle to look at the driver diagram with us?"
        ),
        0,
        "answered",
        "Yes: I will join your huddle on 20 May and we will walk the driver diagram together.",
        "2026-05-14",
        "coach",
    ),
    (
        "W09",
        "2026-06-02",
        (
            "Our mobility-loss measure rose after hourly rounding. How did other "
            "wards keep patients moving while rounding?"
        ),
        0,
        "closed",
        (
            "Ward 2 pairs rounding with a "
            "walk to the day room: see their shared PDSA cycle and its comments."
        ),
        "2026-06-05",
        "lead",
    ),
    (
        "W12",
        "2026-08-18",
        (
            "We joined six months late and our baseline is short. How should we "
            "read our chart until we have 12 points?"
        ),
        2,
        "answered",
        (
            "Read it as a run chart for now; "
            "the limits are provisional until the 12th point. I will go through it with you on Friday."
        ),
        "2026-08-20",
        "coach",
    ),
    (
        "W05",
        "2026-10-06",
        (
            "The night team want to test the risk-assessment prompt on their own "
            "admissions. Can we borrow Ward 1's night-shift version?"
        ),
        1,
        "open",
        "",
        "",
        "",
    ),
    (
        "W11",
        "2026-10-14",
        (
            "We are losing our falls champion in November. Is there training we "
            "can join so that someone else can take over?"
        ),
        0,
        "open",
        "",
        "",
        "",
    ),
)

#: PDSA cycles the wards shared with the programme: (ward, cycle number).
_SHARED = (("W01", 2), ("W02", 3), ("W02", 4), ("W07", 2), ("W07", 5), ("W10", 3), ("W09", 2))
#: Comments: (ward of the record, pdsa number or "story:<date>", commenting ward, words).
_COMMENTS = (
    (
        "W01",
        "pdsa:2",
        "W05",
        (
            "We are about to test this with our night team: did the night "
            "version need a different form, or the same one?"
        ),
    ),
    (
        "W01",
        "pdsa:2",
        "W06",
        (
            "Seventeen of twenty in the first month is impressive. What did "
            "agency staff get told on their first shift?"
        ),
    ),
    (
        "W02",
        "pdsa:3",
        "W09",
        (
            "We abandoned rounding because patients stayed in bed. Your walk to "
            "the day room may be the piece we missed."
        ),
    ),
    (
        "W02",
        "pdsa:4",
        "W07",
        ("We did the same with families at visiting time; sharing our leaflet in case it helps."),
    ),
    (
        "W07",
        "pdsa:2",
        "W03",
        (
            "Which machine do you use for the standing reading? Ours is slow "
            "and the healthcare assistants skip it."
        ),
    ),
    (
        "W07",
        "pdsa:5",
        "W10",
        ("This worked for us too. Families asked for a named nurse to speak to: worth adding?"),
    ),
    (
        "W10",
        "pdsa:3",
        "W12",
        ("As a late starter this is very helpful: could we visit on a Tuesday?"),
    ),
    (
        "W09",
        "pdsa:2",
        "W02",
        ("Thank you for sharing a test that did not work: it stopped us making the same mistake."),
    ),
    ("W01", "story:2026-02-27", "W11", "This story went round our huddle. Thank you."),
    ("W07", "story:2026-02-25", "W08", "Our patient partner read this out at our team meeting."),
)
#: The pulse months (May to October 2026) and each ward's tendency to agree (0-1).
_PULSE_MONTHS = tuple(dt.date(2026, m, 1) for m in range(5, 11))
_PULSE_TONE = {"W01": 0.78, "W02": 0.8, "W03": 0.6, "W04": 0.74, "W05": 0.66, "W06": 0.55,
               "W07": 0.82, "W08": 0.62, "W09": 0.58, "W10": 0.76, "W11": 0.6, "W12": 0.52}  # fmt: skip
#: Months with too few answers to show to the ward: (ward, month) -> answers.
_SMALL = {("W12", dt.date(2026, 5, 1)): 2, ("W08", dt.date(2026, 6, 1)): 1}

#: The systems view of a few recent plans: (ward, pdsa number, people, systems, design, risk,
#: likelihood, consequence, controls).
_LENSES = (
    (
        "W09",
        2,
        "Night HCAs do the rounds; patients who like to walk at night",
        ("Bed flow, the physiotherapy rota, the mobility-loss measure"),
        ("A rounding card at each bed with four questions"),
        "Patients kept in bed to be safe lose mobility",
        4,
        3,
        ("Watch the mobility-loss measure monthly; physiotherapist reviews anyone in bed all day"),
    ),
    (
        "W05",
        3,
        "Day and night nurses, patients with confusion, their families",
        ("Handover and the night skill mix"),
        "Rounding prompts on the electronic board",
        ("Rounds missed at busy times; patients woken at night"),
        3,
        2,
        ("Rounds logged on the board; sleep asked about at the morning huddle"),
    ),
    (
        "W12",
        2,
        "All staff on the unit; patients admitted from the emergency department",
        "Stock ordering by the housekeeper",
        "Socks in a box at each bay entrance",
        ("Socks run out at weekends"),
        2,
        2,
        "Weekend stock check added to the housekeeper's list",
    ),
)
#: Senge tags by learning level (every ward's reflections), and one of W09's.
_DISCIPLINES = {"single_loop": ("personal_mastery",),
                "double_loop": ("mental_models", "systems_thinking"),
                "deutero": ("team_learning", "shared_vision")}  # fmt: skip

#: Wards whose people filled in a skills profile, and each ward's starting level per group of
#: skills (technical, soft, learning; 0-3): the five improving wards know the tools better,
#: and Ward 12 (six months late) is still learning them.
_SKILL_WARDS = {"W01": (2.2, 1.8, 1.9), "W03": (1.2, 1.6, 1.3), "W05": (1.5, 1.4, 1.6),
                "W07": (2.3, 2.0, 2.1), "W09": (1.4, 1.2, 1.5), "W12": (0.8, 1.3, 1.2)}  # fmt: skip
#: Skills nobody on the ward rates above "learning" (the gaps a reader should find).
_SKILL_GAPS = {"W03": ("tech_variation",), "W05": ("soft_drivers_blockers", "soft_influence"),
               "W09": ("soft_influence",), "W12": ("tech_variation", "tech_mapping",
                                                   "soft_influence")}  # fmt: skip
_SKILL_GROUP_ITEMS = (("tech_measures", "tech_variation", "tech_pdsa", "tech_mapping"),
                      ("soft_relationships", "soft_engagement", "soft_influence",
                       "soft_drivers_blockers"),
                      ("learn_reflect", "learn_feedback", "learn_share"))  # fmt: skip
#: How a part on the team shifts the levels (technical, soft, learning).
_SKILL_PART = {"team_lead": (0.6, 0.5, 0.4), "team_member": (0.0, 0.0, 0.0),
               "patient_partner": (-1.2, 0.6, 0.3)}  # fmt: skip

#: The fishbones: ward -> (effect, [(ref, parent ref, category, text, driver text), ...]).
_FISHBONES = {
    "W05": (
        ("Falls at night among patients with confusion, in the bays furthest from the nurses' "
         "station"),
        (
            ("a", "", "people", "Night staffing: two registered nurses for 28 beds", ""),
            ("b", "a", "people", "Agency staff do not know which patients are at high risk",
             "Falls champion checks new admissions at the morning huddle"),
            ("c", "", "environment", "Side bays out of sight of the station", ""),
            ("d", "c", "environment", "Dim night lighting on the way to the toilet", ""),
            ("e", "", "methods", "Rounds are missed when admissions arrive at night",
             "Intentional rounding every hour for high-risk patients"),
            ("f", "", "equipment", "Bed and chair alarms are not working or not switched on",
             ""),
            ("g", "", "materials", "Non-slip socks run out at weekends",
             "Non-slip socks stocked in every bay"),
            ("h", "", "management", "Sedatives are not reviewed after admission",
             "Pharmacist reviews sedatives within 48 hours"),
        ),
    ),
    "W06": (
        "Falls with harm have not come down after three tests of change",
        (
            ("a", "", "methods", "The risk assessment is done, but the plan it asks for is not",
             "Multifactorial risk assessment within 24 hours of admission"),
            ("b", "a", "methods", "No one owns the plan after the first shift", ""),
            ("c", "", "people", "Families are not told how to help",
             "Families invited to stay with confused patients"),
            ("d", "", "environment", "Clutter around beds at visiting time",
             "Safe footwear and clear floors"),
            ("e", "", "management", "Tests chosen by the senior team without the night staff",
             ""),
            ("f", "", "equipment", "Lying and standing blood pressure takes two people",
             "Lying and standing blood pressure on admission for over-65s"),
        ),
    ),
    "W09": (
        "Patients lose mobility during their stay",
        (
            ("a", "", "methods", "Rounding keeps patients in bed to be safe",
             "Intentional rounding every hour for high-risk patients"),
            ("b", "a", "methods", "The rounding card asks about the toilet, not about walking",
             ""),
            ("c", "", "people", "Physiotherapy sees patients only on weekdays", ""),
            ("d", "", "environment", "No safe place to walk on the ward", ""),
            ("e", "", "management", "The falls target is watched, the mobility measure is not",
             ""),
        ),
    ),
}


def _skills() -> list[list]:
    """Each chosen ward's lead, members and patient partner rate themselves on every item."""
    rng = np.random.default_rng(SKILLS_SEED)
    rows = []
    for ward, key, _, access, role in _people():
        if ward not in _SKILL_WARDS or access not in ("lead", "member"):
            continue
        base, shift = _SKILL_WARDS[ward], _SKILL_PART.get(role, (0.0, 0.0, 0.0))
        for g, items in enumerate(_SKILL_GROUP_ITEMS):
            for item in items:
                level = int(np.rint(base[g] + shift[g] + rng.normal(0, 0.6)))
                top = 1 if item in _SKILL_GAPS.get(ward, ()) else 3
                rows.append([ward, key, item, min(top, max(0, level))])
    return rows


def _fishbones() -> tuple[list[list], list[list]]:
    effects = [[ward, effect] for ward, (effect, _) in _FISHBONES.items()]
    causes = [[ward, ref, parent, category, text, driver] for ward, (_, items) in
              _FISHBONES.items() for ref, parent, category, text, driver in items]  # fmt: skip
    return effects, causes


def _key(first: str, last: str, ward: str) -> str:
    return f"{first.lower()}.{last.lower()}@{_DOMAINS[ward]}.example"


def _people() -> list[list]:
    rows = []
    n = 0
    for ward in sorted(_DOMAINS):
        parts = list(_PARTS)
        if ward in _LARGER:
            parts.insert(4, ("member", "team_member"))
        for access, role in parts:
            first, last = _FIRST[n % len(_FIRST)], _LAST[(n * 7) % len(_LAST)]
            n += 1
            rows.append([ward, _key(first, last, ward), f"{first} {last}", access, role])
        for key, name, wards in COACHES:
            if ward in wards:
                rows.append([ward, key, name, "viewer", "coach"])
    rows.append(["", *PROGRAMME_LEAD, "programme_lead", ""])
    return rows


def _pulse() -> list[list]:
    rng = np.random.default_rng(SEED)
    people = _people()
    rows = []
    for ward in sorted(_DOMAINS):
        size = sum(1 for r in people if r[0] == ward and r[3] in ("lead", "member"))
        for i, month in enumerate(_PULSE_MONTHS):
            n = _SMALL.get((ward, month), int(rng.integers(3, size + 1)))
            tone = min(0.95, _PULSE_TONE[ward] + 0.01 * i)
            for item_n, item in enumerate(("speak_up", "mistakes", "ask_for_help", "try_new",
                                           "differences")):  # fmt: skip
                shift = (-0.08, -0.05, 0.04, -0.02, 0.0)[item_n]
                p_agree = min(0.97, max(0.05, tone + shift))
                counts = [0] * 5
                for _ in range(n):
                    if rng.random() < p_agree:
                        score = 5 if rng.random() < 0.35 else 4
                    else:
                        score = int(rng.choice([1, 2, 3], p=[0.1, 0.35, 0.55]))
                    counts[score - 1] += 1
                rows += [[ward, month.isoformat(), item, s + 1, c] for s, c in enumerate(counts)
                         if c]  # fmt: skip
    return rows


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def generate(out: Path) -> list[Path]:
    """Write the practice files into ``out``; returns their paths."""
    people = _people()
    by_ward = {}
    for ward, key, _, access, role in people:
        if access in ("lead", "member") and role != "patient_partner":
            by_ward.setdefault(ward, []).append(key)
    coach = {w: key for key, _, wards in COACHES for w in wards}
    helps = []
    for ward, raised, text, who, status, answer, answered, by in _HELP:
        responder = {"coach": coach[ward], "lead": PROGRAMME_LEAD[0], "": ""}[by]
        helps.append([ward, raised, text, by_ward[ward][who], status, answer, answered, responder])
    comments = []
    for ward, target, from_ward, text in _COMMENTS:
        comments.append([ward, target, from_ward, by_ward[from_ward][1], text])
    disciplines = []
    effects, causes = _fishbones()
    return [
        _write(out / "members.csv", ["team", "key", "name", "access", "team_role"], people),
        _write(out / "help_requests.csv", ["team", "raised_on", "request", "raised_by", "status",
                                            "response", "responded_on", "responded_by"], helps),
        _write(out / "shared_pdsa.csv", ["team", "pdsa"], [list(x) for x in _SHARED]),
        _write(out / "comments.csv", ["team", "on", "author_team", "author", "text"], comments),
        _write(out / "pulse.csv", ["team", "month", "item", "score", "count"], _pulse()),
        _write(out / "pdsa_lenses.csv", ["team", "pdsa", "people", "systems", "design", "risk",
                                          "risk_likelihood", "risk_consequence",
                                          "risk_controls"], [list(x) for x in _LENSES]),
        _write(out / "reflection_disciplines.csv", ["learning_level", "disciplines"],
               [[k, ";".join(v)] for k, v in _DISCIPLINES.items()] + disciplines),
        _write(out / "skills.csv", ["team", "key", "item", "level"], _skills()),
        _write(out / "fishbones.csv", ["team", "effect"], effects),
        _write(out / "fishbone_causes.csv", ["team", "ref", "parent", "category", "text",
                                             "driver"], causes),
    ]  # fmt: skip


# --- loading (inside load_sample's transaction) -----------------------------------------------------


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def load(session: Any, folder: Path, programme: Any, teams: dict[str, Any]) -> dict[str, int]:
    """Load the practice files into the sample programme (safe to run again: records are
    matched by their natural keys, and the pulse's counts are set, not added)."""
    from sqlalchemy import select

    from qiwidgets.store import models as m

    rows = {name: _read(folder / name) for name in FILES}
    ids = [t.id for t in teams.values()]

    def one(model, **key):
        return session.scalars(select(model).filter_by(**key)).first()

    person = {}
    for r in rows["members.csv"]:
        p = one(m.Person, identity_key=r["key"])
        if p is None:
            p = m.Person(identity_key=r["key"], display_name=r["name"])
            session.add(p)
            session.flush()
        person[r["key"]] = p
        if not r["team"]:
            role = one(m.ProgrammeRole, person_id=p.id, programme_id=programme.id)
            if role is None:
                session.add(m.ProgrammeRole(person_id=p.id, programme_id=programme.id,
                                            role=r["access"]))  # fmt: skip
            continue
        team = teams[r["team"]]
        mem = one(m.Membership, person_id=p.id, team_id=team.id)
        if mem is None:
            session.add(m.Membership(person_id=p.id, team_id=team.id, role=r["access"],
                                     team_role=r["team_role"] or None))  # fmt: skip
        elif (mem.role, mem.team_role) != (r["access"], r["team_role"] or None):
            mem.role, mem.team_role = r["access"], r["team_role"] or None
    session.flush()

    def cycle(ward: str, number: str) -> Any:
        prefix = f"{teams[ward].name.split(' (')[0]} PDSA {number}:"
        found = [c for c in session.scalars(select(m.PDSACycle).where(
            m.PDSACycle.team_id == teams[ward].id)) if c.title.startswith(prefix)]  # fmt: skip
        return found[0]

    for r in rows["shared_pdsa.csv"]:
        c = cycle(r["team"], r["pdsa"])
        if not c.shared:
            c.shared = True
    for r in rows["help_requests.csv"]:
        team = teams[r["team"]]
        found = one(m.HelpRequest, team_id=team.id, raised_on=_date(r["raised_on"]))
        values = {"request": r["request"], "raised_by_id": person[r["raised_by"]].id,
                  "status": r["status"], "response": r["response"] or None,
                  "responded_on": _date(r["responded_on"]),
                  "responded_by_id": person[r["responded_by"]].id if r["responded_by"] else None}  # fmt: skip
        if found is None:
            session.add(m.HelpRequest(team_id=team.id, raised_on=_date(r["raised_on"]), **values))
        else:
            for k, v in values.items():
                if getattr(found, k) != v:
                    setattr(found, k, v)
    session.flush()
    for r in rows["comments.csv"]:
        team = teams[r["team"]]
        kind, ref = r["on"].split(":", 1)
        target = {"pdsa_id": cycle(r["team"], ref).id} if kind == "pdsa" else {
            "reflection_id": one(m.Reflection, team_id=team.id, date=_date(ref)).id}  # fmt: skip
        author = person[r["author"]]
        if one(m.Comment, team_id=team.id, author_id=author.id, text=r["text"]) is None:
            session.add(m.Comment(team_id=team.id, author_id=author.id, updated_by_id=author.id,
                                  author_team_id=teams[r["author_team"]].id, text=r["text"],
                                  **target))  # fmt: skip
    for r in rows["pulse.csv"]:
        team = teams[r["team"]]
        key = {"team_id": team.id, "month": _date(r["month"]), "item": r["item"],
               "score": int(r["score"])}  # fmt: skip
        found = one(m.PulseCount, **key)
        if found is None:
            session.add(m.PulseCount(**key, count=int(r["count"])))
        elif found.count != int(r["count"]):
            found.count = int(r["count"])
    for r in rows["pdsa_lenses.csv"]:
        c = cycle(r["team"], r["pdsa"])
        values = {k: r[k] or None for k in ("people", "systems", "design", "risk",
                                            "risk_controls")}  # fmt: skip
        values.update(risk_likelihood=int(r["risk_likelihood"]),
                      risk_consequence=int(r["risk_consequence"]))  # fmt: skip
        found = one(m.PDSALens, pdsa_id=c.id)
        if found is None:
            session.add(m.PDSALens(team_id=c.team_id, pdsa_id=c.id, **values))
        else:
            for k, v in values.items():
                if getattr(found, k) != v:
                    setattr(found, k, v)
    table = m.reflection_disciplines
    tags = {r["learning_level"]: r["disciplines"].split(";") for r in
            rows["reflection_disciplines.csv"]}  # fmt: skip
    have = set(session.execute(select(table.c.reflection_id, table.c.discipline)).all())
    for refl in session.scalars(select(m.Reflection).where(m.Reflection.team_id.in_(ids))):
        for d in tags.get(refl.learning_level or "", []):
            if (refl.id, d) not in have:
                session.execute(table.insert().values(reflection_id=refl.id, discipline=d))
    session.flush()
    _load_skills(session, rows["skills.csv"], person, teams)
    _load_fishbones(session, rows["fishbones.csv"], rows["fishbone_causes.csv"], teams)
    session.flush()
    return {name.removesuffix(".csv"): len(v) for name, v in rows.items()}


def _load_skills(session: Any, rows: list[dict], person: dict, teams: dict[str, Any]) -> None:
    """Each person's profile on their ward (their ratings set, not added)."""
    from sqlalchemy import delete, select

    from qiwidgets.store import models as m

    table = m.skill_ratings
    wanted: dict[tuple[int, int], dict[str, int]] = {}
    for r in rows:
        wanted.setdefault((person[r["key"]].id, teams[r["team"]].id), {})[r["item"]] = int(r["level"])
    for (pid, tid), ratings in wanted.items():
        profile = session.scalars(select(m.SkillProfile).filter_by(person_id=pid,
                                                                   team_id=tid)).first()  # fmt: skip
        if profile is None:
            profile = m.SkillProfile(person_id=pid, team_id=tid, updated_by_id=pid)
            session.add(profile)
            session.flush()
        have = dict(session.execute(select(table.c.item, table.c.level).where(
            table.c.profile_id == profile.id)).all())  # fmt: skip
        if have != ratings:
            session.execute(delete(table).where(table.c.profile_id == profile.id))
            session.execute(table.insert(), [{"profile_id": profile.id, "item": k, "level": v}
                                             for k, v in ratings.items()])  # fmt: skip


def _load_fishbones(session: Any, effects: list[dict], causes: list[dict],
                    teams: dict[str, Any]) -> None:  # fmt: skip
    """Each ward's fishbone, its causes matched by their text (a cause's driver by its text on
    the ward's own diagram)."""
    from sqlalchemy import select

    from qiwidgets.store import models as m

    bones = {}
    for r in effects:
        team = teams[r["team"]]
        found = session.scalars(select(m.Fishbone).filter_by(team_id=team.id)).first()
        if found is None:
            found = m.Fishbone(team_id=team.id, effect=r["effect"])
            session.add(found)
            session.flush()
        elif found.effect != r["effect"]:
            found.effect = r["effect"]
        bones[r["team"]] = found
    by_ref: dict[tuple[str, str], Any] = {}
    order: dict[tuple[str, str, str], int] = {}
    for r in causes:
        team, bone = teams[r["team"]], bones[r["team"]]
        parent = by_ref[(r["team"], r["parent"])] if r["parent"] else None
        node = (session.scalars(select(m.DriverNode).filter_by(team_id=team.id, text=r["driver"]))
                .first() if r["driver"] else None)  # fmt: skip
        slot = (r["team"], r["category"], r["parent"])
        order[slot] = order.get(slot, 0) + 1
        values = {"category": r["category"], "parent_id": parent.id if parent else None,
                  "driver_node_id": node.id if node else None, "order": order[slot]}  # fmt: skip
        found = session.scalars(select(m.FishboneCause).filter_by(team_id=team.id,
                                                                  text=r["text"])).first()  # fmt: skip
        if found is None:
            found = m.FishboneCause(team_id=team.id, fishbone_id=bone.id, text=r["text"], **values)
            session.add(found)
            session.flush()
        else:
            for k, v in values.items():
                if getattr(found, k) != v:
                    setattr(found, k, v)
        by_ref[(r["team"], r["ref"])] = found


__all__ = ["COACHES", "FILES", "PROGRAMME_LEAD", "SEED", "generate", "load"]
