"""Shared language: one plain-language line for every improvement term, defined once.

The workbook shows the line beside the control that uses the term; reports and dashboards show
the same words, so that a new team member and a programme lead read a chart the same way
(*shared language* is one of the seven components of a learning system, ``docs/domain.md``).

>>> label("balancing")
'Balancing measure'
>>> explain("balancing").startswith("Watches for something")
True

Importing this module is cheap: it imports nothing beyond the standard library.
"""

from __future__ import annotations

import math

__all__ = [
    "HEALTH_COMPONENTS",
    "LEARNING_LEVELS",
    "PROGRESS_SCALE",
    "RULE_SETS",
    "TERMS",
    "explain",
    "label",
    "progress_description",
]

#: term key -> (label, one-line explanation). Keys follow the store's vocabulary where one exists.
TERMS: dict[str, tuple[str, str]] = {
    # --- purpose ---------------------------------------------------------------------------------
    "aim": (
        "Aim statement",
        "Says what will improve, for whom, by how much and by when.",
    ),
    "programme_aim": (
        "Programme aim",
        "The shared aim every team in the programme works towards.",
    ),
    "specific": (
        "Specific",
        "Names what will improve and for whom, so everyone pictures the same thing.",
    ),
    "measurable": (
        "Measurable",
        "Has a number to reach (from how much to how much), so you can tell when you get there.",
    ),
    "time_bound": (
        "Time-bound",
        "Has a date, so the team knows when to look back and judge.",
    ),
    "idea_tag": (
        "Shared name",
        "The name the programme's library groups this change idea by, however teams word it.",
    ),
    "driver_diagram": (
        "Driver diagram",
        "Links the aim to what drives it and to the changes the team will test.",
    ),
    "primary": (
        "Primary driver",
        "A main thing that has to change for the aim to be reached.",
    ),
    "secondary": (
        "Secondary driver",
        "A part of a primary driver that the team can act on.",
    ),
    "change_idea": (
        "Change idea",
        "A concrete change the team will test with PDSA cycles.",
    ),
    # --- measures ---------------------------------------------------------------------------------
    "family_of_measures": (
        "Family of measures",
        "The 4 to 10 measures a team watches: outcome, process and balancing.",
    ),
    "outcome": (
        "Outcome measure",
        "Shows whether the aim is being reached; the same for every team so teams can compare.",
    ),
    "process": (
        "Process measure",
        "Shows whether the change is being done as planned.",
    ),
    "balancing": (
        "Balancing measure",
        "Watches for something getting worse elsewhere because of the change.",
    ),
    "operational_definition": (
        "Operational definition",
        "Says exactly what is counted, how and by whom, so everyone collects it the same way.",
    ),
    "improvement_direction": (
        "Improvement direction",
        "Whether higher or lower values are better (or neither).",
    ),
    "target": ("Target", "The value the team is aiming for, by the target date."),
    # --- variation --------------------------------------------------------------------------------
    "run": ("Run chart", "Data over time around the median, read with run rules."),
    "i": ("I chart", "A control chart for single measurements (individual values)."),
    "xmr": (
        "XmR chart",
        "A control chart for single values with limits from the moving ranges (Making Data Count).",
    ),
    "p": ("P chart", "A control chart for proportions (how many out of how many)."),
    "pp": ("P′ chart", "A P chart adjusted for very large denominators (Laney)."),
    "u": ("U chart", "A control chart for rates (events per bed day, per 1,000 contacts ...)."),
    "up": ("U′ chart", "A U chart adjusted for very large denominators (Laney)."),
    "c": ("C chart", "A control chart for counts of events in equal periods."),
    "g": ("G chart", "A control chart for rare events: the number of cases between events."),
    "t": ("T chart", "A control chart for rare events: the time (days) between events."),
    "mr": ("MR chart", "The moving ranges between consecutive values."),
    "xbar": ("Xbar chart", "A control chart for the means of subgroups."),
    "s": ("S chart", "A control chart for the spread of subgroups."),
    "signal": (
        "Signal",
        "A pattern unlikely by chance (special cause): something has changed.",
    ),
    "common_cause": (
        "Common cause variation",
        "The ups and downs every process has; chasing single points here is tampering.",
    ),
    "special_cause": (
        "Special cause variation",
        "Variation from something that changed; worth understanding (good or bad).",
    ),
    "special_cause_improvement": (
        "Special cause improvement",
        "A signal in the better direction: something changed for the better.",
    ),
    "special_cause_concern": (
        "Special cause concern",
        "A signal in the worse direction: something changed, worth a look soon.",
    ),
    "special_cause_neutral": (
        "Special cause variation",
        "A signal; the measure has no better direction to judge it by.",
    ),
    "sustained_improvement": (
        "Sustained improvement",
        "A change that held: new limits from a later phase, better than the first.",
    ),
    "consistent_pass": (
        "Consistently passing the target",
        "The limits lie on the better side of the target: it is met nearly every time.",
    ),
    "consistent_fail": (
        "Consistently failing the target",
        "The limits lie on the worse side of the target: the process must change to meet it.",
    ),
    "inconsistent": (
        "Hit and miss",
        "The target lies between the limits: it will be met only some of the time.",
    ),
    "centre_line": ("Centre line", "The median (run chart) or mean (control chart) of the data."),
    "control_limits": (
        "Control limits",
        "How far values usually wander by chance; a point beyond them is a signal.",
    ),
    "baseline": (
        "Baseline",
        "The first points, whose limits are kept (frozen) to judge what comes after.",
    ),
    "phase": (
        "New phase",
        "Limits recalculated from here, after a change that has held.",
    ),
    "exclude": (
        "Excluded point",
        "Left out of the centre line and limits (still shown), for a known, recorded reason.",
    ),
    "event": ("Note", "Something that happened, shown on the chart."),
    "annotation": (
        "Annotation",
        "A note on the chart: a PDSA start, an event, a change of limits.",
    ),
    "pdsa_start": ("PDSA start", "When a test of change began."),
    "rebase": ("Rebase", "Limits recalculated from here (with the reason)."),
    "rule_set": (
        "Rule set",
        (
            "The rules that find signals; each measure has one, used by its icons and reading "
            "everywhere."
        ),
    ),
    "bright_spot_team": (
        "Bright spot (a team)",
        (
            "A team whose shared outcome measure improved (a signal, or a change that held): "
            "its learning may help others."
        ),
    ),
    "change_taking_hold": (
        "Change taking hold",
        "Special cause improvement on a process measure: the change is being done as planned.",
    ),
    "may_need_support": (
        "May need support",
        (
            "A prompt for a conversation, not a rating: a concern, a request for help, missing "
            "data, no tests of change."
        ),
    ),
    "recalculate_limits": (
        "Recalculating limits",
        (
            "New limits from the start of a change that held, with its reason, once it has 12 "
            "points."
        ),
    ),
    "anhoej": (
        "Anhøj rules",
        (
            "Jacob Anhøj's run rules (used by qicharts2): an unusually long run on one side of "
            "the centre line, or unusually few crossings of it."
        ),
    ),
    "ihi": (
        "IHI rules",
        "Run-chart rules: a shift of 6 points on one side of the median, a trend of 5 points.",
    ),
    "mdc": (
        "Making Data Count",
        (
            "NHS rules on an XmR chart: a point outside the limits, 7 in a row on one side or going "
            "one way, 2 of 3 near a limit."
        ),
    ),
    "rebase_group": (
        "Rebase group",
        (
            "A stretch of a chart between two recalculations of its limits (Making Data Count); "
            "group 0 is the stretch before the first recalculation."
        ),
    ),
    # --- across teams -----------------------------------------------------------------------------
    "funnel_plot": (
        "Funnel plot",
        (
            "Each team is a dot placed by its size; the funnel shows how far from the programme "
            "average a team of that size can be by chance alone."
        ),
    ),
    "programme_average": (
        "Programme average",
        (
            "The funnel plot's centre line: every team's events pooled (a ratio of 1: as many "
            "events as expected at the programme's rate)."
        ),
    ),
    "observed_expected": (
        "Observed / expected",
        (
            "A team's events divided by the number expected at the programme's overall rate: "
            "1 is as expected, below 1 fewer events, above 1 more."
        ),
    ),
    "funnel_limits": (
        "Limits of 95 % and 99.8 %",
        (
            "By chance alone a team falls outside the 95 % limits about 1 time in 20, outside "
            "the 99.8 % limits about 1 time in 500."
        ),
    ),
    "overdispersion": (
        "Overdispersion (phi, φ)",
        (
            "Teams differ more than chance alone gives; phi says how many times more (1: as "
            "chance gives), and the funnel is widened for it."
        ),
    ),
    "small_multiples": (
        "Small multiples",
        "The same chart for every team, side by side, read the same way.",
    ),
    "outlier": (
        "Outside the limits (funnel plot)",
        (
            "A team further from the programme average than chance alone would give: a "
            "question to ask, not a grade."
        ),
    ),
    # --- the programme's learning system ----------------------------------------------------------
    "change_idea_library": (
        "Change-idea library",
        (
            "Every change idea tested in the programme: who tested it, predictions, results, "
            "decisions, and what followed on the charts."
        ),
    ),
    "signal_after_test": (
        "Signal after a test",
        (
            "A signal that began within 3 periods after a PDSA test started, on a measure the "
            "test watches: worth asking whether the test caused it."
        ),
    ),
    "change_that_held": (
        "Change that held",
        (
            "A shift the team recorded as a new phase (limits recalculated, with the reason): "
            "the process changed and stayed changed."
        ),
    ),
    "undecided": ("No decision yet", "The test has not reached Act: adopt, adapt or abandon."),
    "spread": (
        "Spread",
        "A change idea one team tested being tested by another team.",
    ),
    "health_rating": (
        "Rating (1 to 5)",
        (
            "1 not in place yet, 2 early days, 3 in place but patchy, 4 working well most "
            "months, 5 strong and self-sustaining."
        ),
    ),
    "needs_attention": (
        "Most needs attention",
        (
            "The component rated lowest at the latest check (between equal ratings, the one "
            "that fell most): where a conversation may help first."
        ),
    ),
    "month_summary": (
        "The month in one paragraph",
        (
            "What changed, what is new, what needs attention and what was learned, from the "
            "charts and the team's records."
        ),
    ),
    # --- PDSA -----------------------------------------------------------------------------------
    "pdsa": (
        "PDSA cycle",
        "A small test of change: Plan (with a prediction), Do, Study, Act.",
    ),
    "plan": ("Plan", "What you will test, the question it answers and what you predict."),
    "prediction": ("Prediction", "What you expect to happen, written before you start."),
    "do": ("Do", "Run the test and note what happened."),
    "study_result": ("Result", "What the test found, compared with the prediction (Study)."),
    "study": ("Study", "Compare what happened with your prediction."),
    "act": ("Act", "Decide: adopt, adapt or abandon the change."),
    "adopt": ("Adopt", "It worked: make it part of how we work."),
    "adapt": ("Adapt", "Promising: change it and test again."),
    "abandon": ("Abandon", "It did not help: stop, and record what was learned."),
    # --- reflection -----------------------------------------------------------------------------
    "reflection": ("Reflection", "What happened, what worked, what did not, what to change."),
    "single_loop": (
        "Single-loop learning",
        "We corrected how we do the work (fixed the action).",
    ),
    "double_loop": (
        "Double-loop learning",
        "We questioned an assumption and changed our theory (e.g. the driver diagram).",
    ),
    "deutero": (
        "Deutero-learning",
        "We learned about how we learn, and shared it across teams.",
    ),
    "bright_spot": (
        "Bright spot",
        "Something going well that others could learn from.",
    ),
    "story": ("Story", "A short account of what happened for a patient or the team."),
    "generalisable": (
        "May generalise",
        "This learning may help other teams (share it with the programme for them to see it).",
    ),
    "shared_reflection": (
        "Share with the programme",
        "The programme lead sees it and may pass it on to other teams; unticked, only you see it.",
    ),
    # --- progress and the learning system ---------------------------------------------------------
    "progress_score": (
        "Progress score",
        (
            "The IHI 0.5 to 5.0 scale of how far a team has come; scored monthly by the team and "
            "its lead."
        ),
    ),
    "learning_system_check": (
        "Learning-system check",
        "How healthy the way we learn together is, on seven components rated 1 to 5.",
    ),
    "shared_purpose": (
        "Shared purpose",
        "Everyone knows and owns the aim.",
    ),
    "shared_language": (
        "Shared language",
        "Everyone uses and understands improvement terms the same way.",
    ),
    "autonomy": (
        "Autonomy",
        "Teams can decide and test changes themselves.",
    ),
    "collective_leadership": (
        "Collective leadership",
        "Leadership is shared across roles, not held by one person.",
    ),
    "connections_and_relationships": (
        "Connections and relationships",
        "People know each other and share what they learn, within and across teams.",
    ),
    "data_and_measures": (
        "Data and measures to understand variation",
        "Teams have timely data and read it over time with SPC.",
    ),
    "infrastructure": (
        "Infrastructure to support the learning system",
        "Time, tools, support and meetings that keep learning going.",
    ),
    # --- learning practice (issue M) ---------------------------------------------------------------
    "team_role": ("Role on the team", "The part someone plays in the team's improvement work."),
    "team_lead": ("Team lead", "Leads the team's improvement work from day to day."),
    "team_member": ("Team member", "Takes part in the team's tests of change and reflections."),
    "patient_partner": (
        "Patient or family partner",
        "Brings the experience of patients and families into the team's work, as a full member.",
    ),
    "sponsor": ("Sponsor", "A senior leader who clears the way and takes the team's asks upward."),
    "coach": ("Coach", "Supports the team with improvement methods and answers its calls for help."),
    "help_request": (
        "Help needed",
        "A team's request for help: it reaches the programme lead and the team's coach.",
    ),
    "shared_pdsa": (
        "Shared PDSA cycle",
        "A test of change the team shared with the programme: other teams may read it and comment.",
    ),
    "comment": ("Comment", "A note from another team of the programme on what a team shared."),
    "safety_pulse": (
        "Safety pulse",
        "Five anonymous statements on how safe it feels to speak up; the team sees only its totals.",
    ),
    "pulse_agree": ("Agree", "The share of answers that agree or strongly agree (4 or 5 of 5)."),
    "ebc_people": ("People", "Who the change touches (patients, families, staff) and what they need."),
    "ebc_systems": ("Systems", "What else the change connects to, and how it may respond."),
    "ebc_design": ("Design", "How the change is made easy to do right, shaped by those who use it."),
    "ebc_risk": ("Risk", "What could go wrong, for whom, and how it would be noticed early."),
    "risk_rating": (
        "Risk rating",
        "Likelihood x consequence, 1 to 5 each (NHS 5 x 5 matrix): low, moderate, high or extreme.",
    ),
    "personal_mastery": ("Personal mastery", "Each of us keeps learning and growing in our work."),
    "mental_models": ("Mental models", "The assumptions we hold, brought into the open and tested."),
    "shared_vision": ("Shared vision", "A picture of the future we build and hold together."),
    "team_learning": ("Team learning", "Thinking together in dialogue, beyond what one sees alone."),
    "systems_thinking": (
        "Systems thinking",
        "Seeing the whole: how parts connect, and effects that come later or elsewhere.",
    ),
    "deeper_learning_prompt": (
        "Time to question the theory",
        "Repeated adapting or abandoning, or tests with no signal: a prompt for double-loop learning.",
    ),
    "skills_profile": (
        "Skills profile",
        "Each person's own rating of their skills for improvement, 0 not yet to 3 can teach others.",
    ),
    "skills_technical": ("Technical skills", "Measurement, reading variation, PDSA and mapping tools."),
    "skills_soft": (
        "Soft skills",
        "Relationships, engagement, influence, and knowing who drives or blocks a change.",
    ),
    "skills_learning": ("Learning skills", "Reflecting, seeking feedback, and sharing what is learned."),
    "skill_gap": (
        "Gap",
        "A skill no one who rated themselves is confident in (2 or more): the team may seek it.",
    ),
    "fishbone": (
        "Cause-and-effect diagram",
        "A fishbone: a problem (the effect) and its possible causes, grouped by category.",
    ),
    "fishbone_effect": ("Effect", "The problem the cause-and-effect diagram sets out to explain."),
    "cause_people": ("People", "Staff, patients and families: skills, numbers, fatigue, habits."),
    "cause_equipment": ("Equipment", "Devices, beds, alarms and IT: what is there and how it works."),
    "cause_environment": ("Environment", "The place: layout, light, noise, flooring, time of day."),
    "cause_methods": ("Process and methods", "How the work is done: steps, handovers, checks."),
    "cause_materials": ("Materials", "Supplies and information: forms, footwear, leaflets."),
    "cause_management": (
        "Management and policy",
        "Rules, staffing decisions, priorities and how the work is organised from above.",
    ),
}

#: Learning levels a reflection can be tagged with, in order.
LEARNING_LEVELS = ("single_loop", "double_loop", "deutero")

#: The seven learning-system components, in the order of ``docs/domain.md``.
HEALTH_COMPONENTS = (
    "shared_purpose",
    "shared_language",
    "autonomy",
    "collective_leadership",
    "connections_and_relationships",
    "data_and_measures",
    "infrastructure",
)

#: The rule sets a team can switch between in the variation explorer.
RULE_SETS = ("anhoej", "ihi", "mdc")

#: The IHI progress scale, 0.5 to 5.0 (the wording of ``docs/domain.md``).
PROGRESS_SCALE: dict[float, str] = {
    0.5: "intent to participate",
    1.0: "charter and team formed",
    1.5: "planning begun",
    2.0: "activity, no changes yet",
    2.5: "changes tested, no improvement",
    3.0: "modest improvement",
    3.5: "improvement",
    4.0: "significant improvement",
    4.5: "sustainable improvement",
    5.0: "outstanding sustainable results",
}


def label(key: str) -> str:
    """The display name of a term (``"single_loop"`` -> ``"Single-loop learning"``).

    An unknown key comes back with underscores as spaces and a capital letter.
    """
    entry = TERMS.get(key)
    if entry is None:
        text = str(key).replace("_", " ")
        return text[:1].upper() + text[1:]
    return entry[0]


def explain(key: str) -> str:
    """The one-line explanation of a term, or ``""`` for an unknown term."""
    entry = TERMS.get(key)
    return entry[1] if entry else ""


def progress_description(score: float | None) -> str:
    """``"3.0 modest improvement"`` for a score on the IHI scale; ``"not scored"`` for None."""
    if score is None:
        return "not scored"
    try:
        value = float(score)
    except (TypeError, ValueError):
        return "not scored"
    if math.isnan(value):
        return "not scored"
    text = PROGRESS_SCALE.get(value)
    return f"{value:.1f} {text}" if text else f"{value:g}"
