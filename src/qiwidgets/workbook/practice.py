"""Learning practice inside the loop (issue M), worked out once for every channel.

* **The safety pulse** (:data:`PULSE_ITEMS`, :func:`pulse_view`): five statements written for
  qiwidgets from the construct of team psychological safety, read month by month as the share
  of answers that agree and the mean score. What a reader may see was decided by the store
  (:mod:`qiwidgets.store.practice`: a team's months from three answers, the programme's pooled
  months from eleven answers of three teams); a month it withheld stays withheld here.
* **Systems lenses**: the four questions of Engineering Better Care's systems approach asked
  when a PDSA cycle is planned (:data:`EBC_QUESTIONS`), a risk rated on the NHS 5 x 5 matrix
  (:func:`risk_level`), and Senge's five disciplines as reflection prompts
  (:data:`SENGE_PROMPTS`).
* **Prompts that deepen learning** (:func:`deeper_learning_prompts`): when a change idea has
  been adapted or abandoned twice, or a measure shows no signal after several tests, the team
  is asked to question its theory (a double-loop reflection) — until it records one.
* **Learning levels over time** (:func:`learning_levels`): how many reflections were tagged at
  each level, quarter by quarter (counts only, no text).
* **Skills** (:data:`SKILL_ITEMS`, :data:`SKILL_SCALE`): the self-assessment's statements in
  the three groups of "Skilled for improvement?"; the counts and gaps are the store's
  (:mod:`qiwidgets.store.skills`). **The fishbone**'s categories: :data:`FISHBONE_SOURCE`.
* :func:`team_practice` and :func:`programme_practice` gather each page's and report's share of
  it from the store, as whoever reads.

Pure functions over records, except the two ``*_practice`` readers. No HTML here
(:mod:`qiwidgets.practice_views` renders it); no ranking of teams or of people.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qiwidgets import glossary
from qiwidgets.workbook.inputs import _as_date, _get

# =============================================================================================
# Words, stated once (each with its source)
# =============================================================================================

#: Where the pulse comes from. The statements are qiwidgets' own wording, written from the
#: construct, not the items of Edmondson's survey; they are not a validated scale but a
#: prompt for the team's own conversation.
PULSE_SOURCE = (
    'Statements written for qiwidgets from the construct of team psychological safety, "a '
    'shared belief that the team is safe for interpersonal risk taking" (Edmondson A. '
    "Psychological safety and learning behavior in work teams. Administrative Science "
    "Quarterly 1999;44(2):350-383). A prompt for the team's conversation, not a validated scale."
)
#: The pulse's statements (keys: ``store.models.PULSE_ITEMS``), each on a 1-5 agreement scale.
PULSE_ITEMS: dict[str, str] = {
    "speak_up": "I can raise a concern about care or about how we work here, and it is heard.",
    "mistakes": "When something goes wrong here, we look for what to learn, not whom to blame.",
    "ask_for_help": "I find it easy to ask anyone on this team for help.",
    "try_new": "It feels safe here to try something new, even if it might not work.",
    "differences": "People on this team welcome views and ways of working that differ from theirs.",
}
#: The answers (1 to 5).
PULSE_SCALE = {1: "Strongly disagree", 2: "Disagree", 3: "Neither agree nor disagree",
               4: "Agree", 5: "Strongly agree"}  # fmt: skip
#: An answer of this score or more agrees with the statement.
AGREE_FROM = 4

#: Where the four lenses come from.
EBC_SOURCE = (
    "Engineering better care: a systems approach to health and care design and continuous "
    "improvement. Royal Academy of Engineering, Royal College of Physicians and Academy of "
    "Medical Sciences, 2017: four perspectives, people, systems, design and risk."
)
#: The question each perspective asks of a change being planned (qiwidgets' wording).
EBC_QUESTIONS: dict[str, str] = {
    "people": "Who does this change touch (patients, families, staff), and what do they need "
              "from it?",
    "systems": "What else does it connect to (other shifts, teams, processes), and how might "
               "they respond?",
    "design": "How will it be made easy to do right, and how will the people who use it shape "
              "it?",
    "risk": "What could go wrong, for whom, and how would you notice early?",
}  # fmt: skip

#: Where the risk matrix comes from: likelihood x consequence, 1-5 each, and the four bands.
RISK_SOURCE = "NPSA. A risk matrix for risk managers. National Patient Safety Agency, 2008."
#: The NPSA bands of likelihood x consequence: (highest score in the band, its word).
RISK_BANDS = ((3, "low"), (6, "moderate"), (12, "high"), (25, "extreme"))

#: Where the five disciplines come from.
SENGE_SOURCE = ("Senge PM. The Fifth Discipline: the art and practice of the learning "
                "organization. Doubleday, 1990.")  # fmt: skip
#: A prompt for each discipline (qiwidgets' wording), in the glossary's order.
SENGE_PROMPTS: dict[str, str] = {
    "personal_mastery": "What did each of us learn, or want to get better at, from this?",
    "mental_models": "Which of our assumptions did this test, and do we still hold them?",
    "shared_vision": "Does this bring us closer to the aim we share, as each of us sees it?",
    "team_learning": "What did we see by talking it through together that no one saw alone?",
    "systems_thinking": "What else in the system did this touch, and what may follow later or "
                        "elsewhere?",
}  # fmt: skip

#: A change idea adapted or abandoned this many times prompts a double-loop reflection (the
#: issue's rule: "abandoned or adapted twice").
REWORK_PROMPT_AFTER = 2
#: A measure watched by this many decided tests with no signal since the first began prompts
#: a double-loop reflection ("several tests": three PDSA cycles, each studied and decided).
NO_SIGNAL_PROMPT_AFTER = 3
#: The rule, as every channel states it.
DEEPER_LEARNING_RULE = (
    f"A double-loop reflection is suggested when a change idea has been adapted or abandoned "
    f"{REWORK_PROMPT_AFTER} times, or when {NO_SIGNAL_PROMPT_AFTER} tests of change on a "
    "measure have been studied and decided with no signal on its chart since the first began; "
    "the suggestion goes once the team records a double-loop reflection after it."
)


#: Where the skills profile comes from. The statements are qiwidgets' own, written from the
#: report's three groups of skills; they are a prompt for the team's conversation about who
#: can do what, not a validated scale.
SKILLS_SOURCE = (
    "Statements written for qiwidgets from the three groups of skills for improvement in The "
    'Health Foundation, "Skilled for improvement? Learning communities and the skills needed '
    'to improve care" (2014): technical skills, soft skills and learning skills. A prompt for '
    "the team's conversation, not a validated scale."
)
#: The three groups and their items (keys: ``store.models.SKILL_ITEMS``, in this order).
SKILL_GROUPS: dict[str, tuple[str, ...]] = {
    "skills_technical": ("tech_measures", "tech_variation", "tech_pdsa", "tech_mapping"),
    "skills_soft": ("soft_relationships", "soft_engagement", "soft_influence",
                    "soft_drivers_blockers"),
    "skills_learning": ("learn_reflect", "learn_feedback", "learn_share"),
}  # fmt: skip
#: Each item's statement, as the person rates it for themselves.
SKILL_ITEMS: dict[str, str] = {
    "tech_measures": "Defining a measure (numerator, denominator, source) and collecting its data",
    "tech_variation": "Reading a run chart or control chart: a signal or common-cause variation",
    "tech_pdsa": "Planning a PDSA cycle with a prediction, and studying the result against it",
    "tech_mapping": "Mapping a process, or building a driver diagram or fishbone with the team",
    "soft_relationships": "Building working relationships across professions and with patients "
                          "and families",
    "soft_engagement": "Bringing colleagues into a change and keeping them involved",
    "soft_influence": "Making the case for a change to the people who decide (managers, "
                      "sponsors)",
    "soft_drivers_blockers": "Knowing who drives or blocks a change, and working with both",
    "learn_reflect": "Reflecting on what went well and less well, and changing how I work",
    "learn_feedback": "Seeking out feedback and data, even when they are uncomfortable",
    "learn_share": "Sharing what we learn with other teams, and learning from theirs",
}  # fmt: skip
#: The levels a person rates themselves at (``store.models.SKILL_LEVEL_MIN`` to ``_MAX``).
SKILL_SCALE = {0: "not yet", 1: "learning", 2: "confident", 3: "can teach others"}

#: Where the fishbone's categories come from.
FISHBONE_SOURCE = (
    "Cause-and-effect (Ishikawa) diagram, with the categories commonly used in health care: "
    "people, equipment, environment, process and methods, materials, management and policy "
    "(Engineering better care, Royal Academy of Engineering, 2017; NHS England, Online library "
    "of Quality, Service Improvement and Redesign tools: cause and effect)."
)


def skill_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """``(group, [(item, statement), ...])`` in the framework's order."""
    return [(g, [(k, SKILL_ITEMS[k]) for k in keys]) for g, keys in SKILL_GROUPS.items()]


def skill_group_of(item: str) -> str:
    """The group an item belongs to (``skills_technical``, ``skills_soft``, ...)."""
    return next(g for g, keys in SKILL_GROUPS.items() if item in keys)


# =============================================================================================
# The safety pulse
# =============================================================================================


@dataclass(frozen=True)
class PulseRow:
    """A month of the pulse as a reader sees it. ``shown`` False: too few answers (``agree``,
    ``mean`` and ``items`` are then empty). ``items``: item -> share of answers that agree."""

    month: dt.date
    responses: int
    teams: int
    shown: bool
    mean: float | None = None
    agree: float | None = None
    items: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PulseView:
    """The pulse over time, for a team (``scope="team"``) or pooled for the programme."""

    scope: str
    rows: tuple[PulseRow, ...]
    minimum: int
    refused: str | None = None  # why the reader may not see it at all

    @property
    def shown_rows(self) -> list[PulseRow]:
        return [r for r in self.rows if r.shown]

    @property
    def latest(self) -> PulseRow | None:
        shown = self.shown_rows
        return shown[-1] if shown else None

    def change_words(self) -> str:
        """The latest shown month against the one before, in words."""
        shown = self.shown_rows
        if not shown:
            return "No month has enough answers to show yet."
        last = shown[-1]
        text = (f"{last.month:%B %Y}: {round(100 * last.agree)}% of answers agree "
                f"(mean {last.mean:.1f} of 5, {last.responses} people)")  # fmt: skip
        if len(shown) > 1:
            before = shown[-2]
            diff = round(100 * last.agree) - round(100 * before.agree)
            way = "up" if diff > 0 else "down" if diff < 0 else "no change"
            points = f"{abs(diff)} point{'s' if abs(diff) != 1 else ''}"
            text += (f"; {way} {points} from {before.month:%B %Y}" if diff else
                     f"; the same as {before.month:%B %Y}")  # fmt: skip
        return text + "."


def pulse_row(month: Any) -> PulseRow:
    """One month of :class:`~qiwidgets.store.practice.PulseMonth` read: means and shares."""
    counts = month.counts
    if counts is None:
        return PulseRow(_as_date(month.month), month.responses, month.teams, False)
    total = agree = score_sum = 0
    items = {}
    for item in PULSE_ITEMS:
        scores = counts.get(item, {})
        n = sum(scores.values())
        yes = sum(c for s, c in scores.items() if s >= AGREE_FROM)
        items[item] = yes / n if n else 0.0
        total += n
        agree += yes
        score_sum += sum(s * c for s, c in scores.items())
    return PulseRow(_as_date(month.month), month.responses, month.teams, True,
                    score_sum / total if total else None, agree / total if total else None,
                    items)  # fmt: skip


def pulse_view(months: Iterable[Any], scope: str = "team", *, refused: str | None = None
               ) -> PulseView:  # fmt: skip
    """The pulse over time from the store's months (:func:`~qiwidgets.store.practice.team_pulse`
    or :func:`~qiwidgets.store.practice.programme_pulse`)."""
    from qiwidgets.store import practice as sp

    minimum = (sp.MIN_TEAM_PULSE_RESPONSES if scope == "team"
               else sp.MIN_PROGRAMME_PULSE_RESPONSES)  # fmt: skip
    rows = tuple(pulse_row(x) for x in sorted(months, key=lambda x: x.month))
    return PulseView(scope, rows, minimum, refused)


# =============================================================================================
# Systems lenses
# =============================================================================================


def risk_level(likelihood: int | None, consequence: int | None) -> tuple[int, str] | None:
    """``(score, band)`` of a risk on the NHS 5 x 5 matrix, e.g. ``(12, "high")``; None when
    not rated."""
    if likelihood is None or consequence is None:
        return None
    score = int(likelihood) * int(consequence)
    band = next(word for top, word in RISK_BANDS if score <= top)
    return score, band


def risk_words(lens: Any) -> str:
    """A PDSA plan's risk in words: "likelihood 3 x consequence 4 = 12 (high)"."""
    level = risk_level(_get(lens, "risk_likelihood"), _get(lens, "risk_consequence"))
    if level is None:
        return "not rated"
    return (f"likelihood {_get(lens, 'risk_likelihood')} x consequence "
            f"{_get(lens, 'risk_consequence')} = {level[0]} ({level[1]})")  # fmt: skip


# =============================================================================================
# Prompts that deepen learning
# =============================================================================================


@dataclass(frozen=True)
class LearningPrompt:
    """A suggestion to question the team's theory (double-loop). ``kind``: ``rework`` (a change
    idea adapted or abandoned again and again) or ``no_signal`` (tests on a measure, no
    signal); ``since``: the date the rule was met; ``text``: the suggestion in words."""

    kind: str
    subject: str
    since: dt.date
    text: str
    level: str = "double_loop"

    @property
    def starter(self) -> str:
        """What a new reflection opens with when the team takes the prompt up."""
        return self.text.split(": ", 1)[0] + "."


def _decided(cycle: Any) -> bool:
    return bool(_get(cycle, "act")) and _get(cycle, "act_date") is not None


def _watched(cycle: Any) -> set:
    ids = _get(cycle, "measure_ids")
    if ids is None:
        ids = [_get(x, "id") for x in (_get(cycle, "measures") or [])]
    return set(ids)


def deeper_learning_prompts(cycles: Iterable[Any], measures: Iterable[Any] = (),
                            reflections: Iterable[Any] = (), *, until: Any = None
                            ) -> list[LearningPrompt]:  # fmt: skip
    """The double-loop suggestions a team has now (:data:`DEEPER_LEARNING_RULE`).

    ``cycles``: the team's PDSA cycles (with ``change_idea`` or ``change_idea_id``);
    ``measures``: its :class:`~qiwidgets.workbook.status.MeasureStatus` list (for the signals);
    ``reflections``: its reflections (a double-loop one dated on or after a prompt's date
    answers it); ``until``: leave out what happened after this date (a monthly report).
    """
    from qiwidgets.workbook.variation import signal_events

    end = _as_date(until) if until is not None else None
    cycles = [c for c in cycles if end is None or (_get(c, "act_date") is None
              or _as_date(_get(c, "act_date")) <= end)]  # fmt: skip
    double = [_as_date(_get(r, "date")) for r in reflections
              if _get(r, "learning_level") == "double_loop"
              and (end is None or _as_date(_get(r, "date")) <= end)]  # fmt: skip

    def answered(since: dt.date) -> bool:
        return any(d >= since for d in double)

    prompts = []
    by_idea: dict[Any, list] = {}
    for c in cycles:
        idea = _get(c, "change_idea")
        key = _get(idea, "text") if idea is not None else None
        if key and _decided(c) and _get(c, "act") in ("adapt", "abandon"):
            by_idea.setdefault(key, []).append(c)
    for idea, reworked in sorted(by_idea.items()):
        if len(reworked) < REWORK_PROMPT_AFTER:
            continue
        since = max(_as_date(_get(c, "act_date")) for c in reworked)
        if answered(since):
            continue
        words = {"adapt": "adapted", "abandon": "abandoned"}
        acts = sorted({words[_get(c, "act")] for c in reworked})
        prompts.append(LearningPrompt("rework", idea, since, (
            f"'{idea}' has been {' or '.join(acts)} {len(reworked)} times (latest "
            f"{since:%B %Y}): is the theory behind it right? Question the assumption, and "
            "revisit the driver diagram together (double-loop learning).")))  # fmt: skip
    for status in measures:
        mid = getattr(status, "measure_id", None)
        tests = sorted((c for c in cycles if mid in _watched(c) and _decided(c)
                        and _get(c, "do_start") is not None),
                       key=lambda c: _as_date(_get(c, "do_start")))  # fmt: skip
        if len(tests) < NO_SIGNAL_PROMPT_AFTER or status.result is None:
            continue
        first = _as_date(_get(tests[0], "do_start"))
        if any(ev.end >= first for ev in signal_events(status.result)):
            continue
        since = max(_as_date(_get(c, "act_date")) for c in tests)
        if answered(since):
            continue
        prompts.append(LearningPrompt("no_signal", status.measure_name, since, (
            f"{len(tests)} tests of change on '{status.measure_name}' since {first:%B %Y} and no "
            "signal on its chart: are these the changes that drive it? Question the theory "
            "behind them and revisit the driver diagram together (double-loop learning).")))  # fmt: skip
    return prompts


# =============================================================================================
# Learning levels over time
# =============================================================================================


def _quarter(d: dt.date) -> str:
    return f"{d.year} Q{(d.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class LearningLevels:
    """Reflections per quarter by level of learning (``rows``: quarter, then a count per
    level of :data:`~qiwidgets.glossary.LEARNING_LEVELS`, then the untagged)."""

    rows: tuple[tuple, ...]
    levels: tuple[str, ...] = glossary.LEARNING_LEVELS

    def words(self) -> str:
        """How the share of double-loop and deutero-learning moved: the latest four quarters
        against the four before."""
        if not self.rows:
            return "No reflection has been recorded yet."

        def share(rows) -> tuple[int, int]:
            deeper = sum(r[2] + r[3] for r in rows)
            tagged = sum(sum(r[1:4]) for r in rows)
            return deeper, tagged

        now, before = share(self.rows[-4:]), share(self.rows[-8:-4])
        if not now[1]:
            return "No reflection in the last four quarters has a level of learning."
        text = (f"In the last four quarters, {round(100 * now[0] / now[1])}% of the reflections "
                f"with a level were double-loop or deutero-learning")  # fmt: skip
        if before[1]:
            text += f", against {round(100 * before[0] / before[1])}% in the four before"
        return text + "."


def learning_levels(reflections: Iterable[Any], until: Any = None) -> LearningLevels:
    """Counts of reflections by quarter and level (every reflection: counts show no text)."""
    end = _as_date(until) if until is not None else None
    counts: dict[str, list[int]] = {}
    for r in reflections:
        d = _as_date(_get(r, "date"))
        if end is not None and d > end:
            continue
        row = counts.setdefault(_quarter(d), [0] * (len(glossary.LEARNING_LEVELS) + 1))
        level = _get(r, "learning_level")
        i = glossary.LEARNING_LEVELS.index(level) if level in glossary.LEARNING_LEVELS else -1
        row[i] += 1
    return LearningLevels(tuple((q, *counts[q]) for q in sorted(counts)))


# =============================================================================================
# A team's practice and the programme's, as whoever reads
# =============================================================================================


@dataclass
class TeamPractice:
    """What a team's page and report show of its practice. ``pulse`` is None when the reader
    may not see the team's pulse (the team report: the programme lead reads it)."""

    team: Any
    members: list
    help_requests: list
    shared: Any  # store.practice.SharedItems: the team's shared records and their comments
    prompts: list[LearningPrompt]
    lenses: Mapping[int, Any]
    disciplines: Mapping[int, tuple[str, ...]]
    names: Mapping[int, str]  # person id -> name (who asked, answered, commented)
    pulse: PulseView | None = None
    skills: Any = None  # store.skills.SkillCoverage: counts only
    fishbone: Any = None  # store.fishbone.FishboneTree

    @property
    def coaches(self) -> list:
        return [x for x in self.members if x.team_role == "coach"]

    @property
    def open_requests(self) -> list:
        return [r for r in self.help_requests if r.status == "open"]

    @property
    def comments_received(self) -> int:
        return sum(len(i.comments) for i in self.shared.items)


def team_practice(db: Any, team: Any, status: Any = None, *, month: Any = None,
                  pulse: bool = True) -> TeamPractice:  # fmt: skip
    """A team's practice from the store, as the reader of ``db`` may see it. ``status``: the
    team's :class:`~qiwidgets.workbook.status.TeamStatus` (read when not given);
    ``month``: leave out what came after it; ``pulse=False``: not the pulse (a report)."""
    from qiwidgets.errors import AccessDenied
    from qiwidgets.store import fishbone, skills
    from qiwidgets.store import practice as sp
    from qiwidgets.workbook.status import month_end, team_status

    st = status if status is not None else team_status(db, team, month)
    t = st.team
    end = month_end(st.month) if month is not None else None
    requests = [r for r in sp.list_help_requests(db, t.id)
                if end is None or r.raised_on <= end]  # fmt: skip
    shared = sp.shared_items(db, team=t.id)
    names = sp.person_names(db, [*(r.raised_by_id for r in requests),
                                 *(r.responded_by_id for r in requests)])  # fmt: skip
    names = {**names, **shared.people}
    view = None
    if pulse:
        try:
            view = pulse_view(sp.team_pulse(db, t.id), "team")
        except AccessDenied as exc:
            view = pulse_view([], "team", refused=str(exc))
    return TeamPractice(
        team=t, members=sp.team_members(db, t.id), help_requests=requests, shared=shared,
        prompts=deeper_learning_prompts(st.records.cycles, st.measures, st.records.reflections,
                                        until=end),
        lenses=sp.pdsa_lenses(db, t.id), disciplines=sp.reflection_disciplines(db, t.id),
        names=names, pulse=view, skills=skills.team_skills(db, t.id),
        fishbone=fishbone.team_fishbone(db, t.id),
    )  # fmt: skip


@dataclass
class ProgrammePractice:
    """What the programme's page and report show: every team's requests for help (open first),
    who coaches each team, the pulse pooled across teams, learning levels over time."""

    help_requests: list
    names: Mapping[int, str]
    team_names: Mapping[int, str]
    coaches: Mapping[int, list]
    pulse: PulseView
    levels: LearningLevels
    prompts: Mapping[int, list] = field(default_factory=dict)  # team id -> its prompts
    skill_gaps: Any = None  # store.skills.SkillGaps: counts across teams, no names

    @property
    def open_requests(self) -> list:
        return [r for r in self.help_requests if r.status == "open"]

    def prompt_count(self) -> int:
        return sum(len(p) for p in self.prompts.values())


def programme_practice(db: Any, programme: Any = None, month: Any = None, *,
                       programme_status: Any = None) -> ProgrammePractice:  # fmt: skip
    """The programme's practice from the store, for whoever may see the whole programme;
    ``month``: as it stood at the end of that month (a report), else as it stands now."""
    from qiwidgets.store import practice as sp
    from qiwidgets.store import repo, skills
    from qiwidgets.workbook.status import month_end, month_start

    prog = repo.get_programme(db, programme if programme_status is None
                              else programme_status.programme.id)  # fmt: skip
    # a report's month leaves out what came after it; a page shows everything up to now
    end = month_end(month_start(month)) if month is not None else None
    requests = [r for r in sp.list_help_requests(db, programme=prog.id)
                if end is None or r.raised_on <= end]  # fmt: skip
    requests.sort(key=lambda r: (r.status != "open", -r.raised_on.toordinal(), -r.id))
    names = sp.person_names(db, [*(r.raised_by_id for r in requests),
                                 *(r.responded_by_id for r in requests)])  # fmt: skip
    members = sp.programme_members(db, prog.id)
    teams = {t.id: t.name for t in repo.list_teams(db, prog.id)}
    months = [x for x in sp.programme_pulse(db, prog.id) if end is None or x.month <= end]
    # the teams' records as the programme's status read them (a team whose records cannot be
    # read is left out there, and so here), else every reflection of the programme
    reflections = ([r for t in programme_status.teams for r in t.records.reflections]
                   if programme_status is not None
                   else repo.list_reflections(db, programme=prog.id))  # fmt: skip
    prompts: dict[int, list] = {}
    if programme_status is not None:
        for t in programme_status.teams:
            found = deeper_learning_prompts(t.records.cycles, t.measures, t.records.reflections,
                                            until=end)  # fmt: skip
            if found:
                prompts[t.team.id] = found
    return ProgrammePractice(
        help_requests=requests, names=names, team_names=teams,
        coaches={tid: [x for x in ms if x.team_role == "coach"] for tid, ms in members.items()},
        pulse=pulse_view(months, "programme"), levels=learning_levels(reflections, end),
        prompts=prompts, skill_gaps=skills.programme_skill_gaps(db, prog.id),
    )  # fmt: skip


def pulse_statements() -> Sequence[tuple[str, str]]:
    """``(item, statement)`` in the order the pulse asks them."""
    from qiwidgets.store.models import PULSE_ITEMS as KEYS

    return [(k, PULSE_ITEMS[k]) for k in KEYS]


__all__ = [
    "AGREE_FROM", "DEEPER_LEARNING_RULE", "EBC_QUESTIONS", "EBC_SOURCE", "FISHBONE_SOURCE",
    "NO_SIGNAL_PROMPT_AFTER", "PULSE_ITEMS", "PULSE_SCALE", "PULSE_SOURCE", "REWORK_PROMPT_AFTER",
    "RISK_BANDS", "RISK_SOURCE", "SENGE_PROMPTS", "SENGE_SOURCE", "SKILLS_SOURCE", "SKILL_GROUPS",
    "SKILL_ITEMS", "SKILL_SCALE", "LearningLevels", "LearningPrompt", "ProgrammePractice",
    "PulseRow", "PulseView", "TeamPractice", "deeper_learning_prompts", "learning_levels",
    "programme_practice", "pulse_row", "pulse_statements", "pulse_view", "risk_level",
    "risk_words", "skill_group_of", "skill_groups", "team_practice",
]  # fmt: skip
