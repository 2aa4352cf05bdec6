"""The programme's learning system: what spreads, where, and how healthy the system is.

Worked out once here, from the core's statuses and the store's records, and rendered by every
channel (the programme and team dashboards, the programme and team reports, the analyst API):

* **Change ideas across teams** (:func:`change_idea_library`): a change idea is matched across
  teams by its shared name when the team gave it one (the driver diagram's "Shared name",
  ``idea_tag``), else by its text, compared without case, spaces or punctuation
  (:func:`idea_key`). For each idea: the teams that tested it, their PDSA cycles with prediction, result and decision, and for
  each measure a cycle watches, what followed the test on the team's chart: a signal attributed
  to it by the same rule as the team's page (:func:`~qiwidgets.workbook.pdsa.pdsa_signal_prompts`
  on :func:`~qiwidgets.workbook.variation.signal_events`, :data:`~qiwidgets.workbook.pdsa.PDSA_PROMPT_WITHIN`
  periods), judged by the engine's point types, or a change that held (a new phase the team
  recorded), judged against the measure's better direction.
* **Bright spots with their story** (:func:`bright_spot_stories`): each bright spot (the one
  rule, :data:`~qiwidgets.workbook.status.BRIGHT_SPOT_RULE`) with its evidence, the reflections the
  team shared (marked as a bright spot or as may-generalise) and the change ideas behind it.
* **Learning-system health** (:func:`health_view`, :func:`programme_health`): the seven
  components over time, programme-level and per team, the latest rating of each, what changed
  since the check before and the component that most needs attention
  (:data:`HEALTH_ATTENTION_RULE`).
* **A month in one paragraph** (:func:`team_month_summary`, :func:`programme_month_summary`).

Pure functions over records and statuses: no HTML, nothing drawn. No ranking: ideas are listed
by name and teams by name.

>>> idea_key("  Non-slip socks: stocked in EVERY bay! ")
'non slip socks stocked in every bay'
"""

from __future__ import annotations

import collections
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from qiwidgets import glossary
from qiwidgets.workbook.inputs import _as_date, _get, clean_choice, clean_text
from qiwidgets.workbook.pdsa import PDSA_PROMPT_WITHIN, cycles_for_measure, pdsa_signal_prompts
from qiwidgets.workbook.variation import SignalEvent, signal_events

# =============================================================================================
# Words and rules, stated once
# =============================================================================================

#: The Act decisions a library can be filtered by; ``undecided``: no decision yet.
DECISIONS = ("adopt", "adapt", "abandon", "undecided")
#: How a decision reads in a count ("8 adopted").
DECISION_WORDS = {"adopt": "adopted", "adapt": "adapted", "abandon": "abandoned",
                  "undecided": "no decision yet"}  # fmt: skip
#: What followed a test on a measure, in the improvement direction or not (the evidence's
#: ``verdict``).
FOLLOW_VERDICTS = ("improvement", "concern", "neutral")
FOLLOW_WORDS = {
    "improvement": "in the better direction",
    "concern": "in the worse direction",
    "neutral": "no better direction to judge it by",
}
#: The rule that links a change on a chart to a test of change, as every channel states it.
FOLLOW_RULE = (
    "A signal follows a test of change when it begins within "
    f"{PDSA_PROMPT_WITHIN} periods after the test's Do started, on a measure the test watches; it "
    "is linked to the latest test that started before it (the same rule as the prompt on the "
    "team's page). A change that held (new limits the team recorded) is linked the same way. "
    "Its direction is judged against the measure's better direction."
)
#: Which learning-system component most needs attention.
HEALTH_ATTENTION_RULE = (
    "The component that most needs attention is the one rated lowest at the latest check; "
    "between equal ratings, the one that fell most since the check before, then the first in "
    "the list of seven components."
)
#: Reflections shown with a bright spot's story (the newest first).
STORY_REFLECTIONS = 3

_UNITS = {"daily": "day", "weekly": "week", "fortnightly": "fortnight", "monthly": "month",
          "quarterly": "quarter"}  # fmt: skip


def _natural(text: str) -> tuple:
    """Sort 'Ward 2' before 'Ward 10'."""
    return tuple(int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", text or ""))


def _month_start(value: Any) -> dt.date:
    from qiwidgets.workbook.status import month_start

    return month_start(value)


def _month_end(month: dt.date) -> dt.date:
    from qiwidgets.workbook.status import month_end

    return month_end(month)


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _join(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# =============================================================================================
# Change ideas across teams
# =============================================================================================


def idea_key(text: Any) -> str:
    """The name a change idea is matched by across teams: letters and digits only, case-folded,
    single spaces (``"Non-slip socks"`` and ``"non slip  socks."`` match)."""
    value = unicodedata.normalize("NFKC", "" if text is None else str(text)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", value).split())


@dataclass(frozen=True)
class FollowedBy:
    """What followed a test of change on one of its measures: a ``signal`` (attributed by the
    team page's rule) or a ``phase`` (a change that held, new limits the team recorded).

    ``verdict`` is one of :data:`FOLLOW_VERDICTS`, from the engine's point types (a signal) or
    the measure's better direction (a phase).
    """

    team_code: str
    measure_code: str
    measure_name: str
    measure_type: str
    kind: str
    verdict: str
    start: dt.date
    periods_after: int
    text: str

    @property
    def improved(self) -> bool:
        """In the measure's better direction."""
        return self.verdict == "improvement"

    def sentence(self) -> str:
        """The evidence with its measure: ``"Falls with harm ...: a shift from ..."``."""
        return f"{self.measure_name}: {self.text}"

    @property
    def concern(self) -> bool:
        return self.verdict == "concern"


@dataclass(frozen=True)
class TestOfChange:
    """One team's PDSA cycle of a change idea, as of the library's month."""

    team_code: str
    team_name: str
    cycle_id: Any
    title: str
    idea_text: str
    prediction: str | None
    result: str | None
    decision: str | None
    do_start: dt.date | None
    act_date: dt.date | None
    measures: tuple[tuple[str, str], ...]  # (code, name) of the measures it watches
    followed: tuple[FollowedBy, ...] = ()

    __test__ = False  # not a pytest test class

    @property
    def decision_key(self) -> str:
        """The decision, or ``undecided``."""
        return self.decision or "undecided"

    @property
    def decision_words(self) -> str:
        return DECISION_WORDS[self.decision_key]

    @property
    def improved_on(self) -> tuple[str, ...]:
        """Codes of the measures on which an improvement followed the test."""
        return tuple(dict.fromkeys(f.measure_code for f in self.followed if f.improved))

    def followed_words(self, measure_code: str) -> str:
        """What followed the test on one measure, in words."""
        found = [f.text for f in self.followed if f.measure_code == measure_code]
        return "; ".join(found) if found else "no signal followed"

    def text(self) -> str:
        """Every text of the test, for a search."""
        return " ".join(str(x) for x in (self.team_code, self.team_name, self.title,
                                         self.idea_text, self.prediction, self.result) if x)  # fmt: skip


@dataclass(frozen=True)
class ChangeIdea:
    """A change idea across teams: its ``name`` (the shared name teams gave it, else the wording
    most teams use), every wording, and each team's tests (teams by name, each team's tests by
    start)."""

    key: str
    name: str
    wordings: tuple[str, ...]
    tests: tuple[TestOfChange, ...]

    @property
    def teams(self) -> tuple[str, ...]:
        """Codes of the teams that tested it, by team name."""
        return tuple(dict.fromkeys(t.team_code for t in self.tests))

    @property
    def team_names(self) -> dict[str, str]:
        return {t.team_code: t.team_name for t in self.tests}

    def decision_counts(self) -> dict[str, int]:
        """How many cycles ended in each decision (every key of :data:`DECISIONS`)."""
        counts = collections.Counter(t.decision_key for t in self.tests)
        return {d: counts.get(d, 0) for d in DECISIONS}

    @property
    def measures(self) -> tuple[tuple[str, str], ...]:
        """(code, name) of every measure a test of it watches."""
        return tuple(dict.fromkeys(m for t in self.tests for m in t.measures))

    def teams_improved(self, measure_code: str | None = None) -> tuple[str, ...]:
        """Teams where an improvement followed a test (on ``measure_code``, or any measure)."""
        return tuple(dict.fromkeys(
            t.team_code for t in self.tests for f in t.followed
            if f.improved and (measure_code is None or f.measure_code == measure_code)
        ))  # fmt: skip

    def last_start(self) -> dt.date | None:
        starts = [t.do_start for t in self.tests if t.do_start is not None]
        return max(starts) if starts else None

    def summary(self) -> str:
        """One sentence: who tested it, the decisions, where an improvement followed."""
        counts = self.decision_counts()
        decided = [f"{n} {DECISION_WORDS[d]}" for d, n in counts.items() if n]
        out = (f"Tested by {_plural(len(self.teams), 'team')} in "
               f"{_plural(len(self.tests), 'PDSA cycle')}: {_join(decided)}.")  # fmt: skip
        names = self.team_names
        for code, name in self.measures:
            better = self.teams_improved(code)
            if better:
                out += (f" An improvement in {name} followed the test at "
                        f"{_join([names[c] for c in better])}.")  # fmt: skip
        return out


@dataclass(frozen=True)
class SpreadItem:
    """What happened to a change idea in the library's month."""

    idea: ChangeIdea
    new_teams: tuple[str, ...]  # names of teams whose first test of it started this month
    started: tuple[TestOfChange, ...]
    decided: tuple[TestOfChange, ...]
    followed: tuple[tuple[TestOfChange, FollowedBy], ...]

    def sentences(self) -> list[str]:
        out = []
        if self.new_teams:
            out.append(f"spread to {_join(list(self.new_teams))}")
        if self.started:
            out.append(_plural(len(self.started), "test") + " started ("
                       + _join([t.team_name for t in self.started]) + ")")  # fmt: skip
        for t in self.decided:
            out.append(f"{t.team_name} {t.decision_words} it")
        for t, f in self.followed:
            out.append(f"{t.team_name}, {f.sentence()}")
        return out


@dataclass(frozen=True)
class ChangeIdeaLibrary:
    """Every change idea tested in a programme, as of ``month`` (ideas by name, never ranked).

    :meth:`filter` narrows it (search, measure, decision) and returns a new library;
    :meth:`to_frame` gives analysts one row per test and measure.
    """

    month: dt.date
    ideas: tuple[ChangeIdea, ...]
    #: Every measure a test watches: (code, name), for the measure filter.
    measure_options: tuple[tuple[str, str], ...] = ()
    #: Tests with no change idea linked (they cannot be matched across teams).
    unlinked: tuple[TestOfChange, ...] = ()
    #: What the library was narrowed by (``search``, ``measure``, ``decision``).
    filters: Mapping[str, str | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ideas)

    def idea(self, name: str) -> ChangeIdea | None:
        """The idea whose name matches ``name`` (by :func:`idea_key`)."""
        key = idea_key(name)
        return next((i for i in self.ideas if i.key == key), None)

    def shared(self, min_teams: int = 2) -> tuple[ChangeIdea, ...]:
        """Ideas tested by at least ``min_teams`` teams."""
        return tuple(i for i in self.ideas if len(i.teams) >= min_teams)

    def filter(self, search: Any = "", measure: Any = None, decision: Any = None
               ) -> ChangeIdeaLibrary:  # fmt: skip
        """The ideas (and of each, the tests) that match every filter given.

        ``search``: words found in the idea's name or wordings (every test kept) or in a test's
        team, title, prediction or result (those tests kept); ``measure``: a measure code the
        test watches; ``decision``: one of :data:`DECISIONS`. Values are checked (they may come
        from a browser): an unknown measure or decision raises
        :class:`~qiwidgets.workbook.inputs.WorkbookInputError`.
        """
        search = clean_text(search, "search", max_length=200) or ""
        codes = [c for c, _ in self.measure_options]
        measure = clean_choice(measure, "measure", codes) if measure not in (None, "") else None
        decision = (clean_choice(decision, "decision", DECISIONS)
                    if decision not in (None, "") else None)  # fmt: skip
        words = idea_key(search).split()
        out = []
        for idea in self.ideas:
            head = idea_key(" ".join((idea.name, *idea.wordings)))
            tests = [
                t for t in idea.tests
                if (measure is None or measure in {c for c, _ in t.measures})
                and (decision is None or t.decision_key == decision)
                and (not words or all(w in head for w in words)
                     or all(w in idea_key(t.text()) for w in words))
            ]  # fmt: skip
            if tests:
                out.append(replace(idea, tests=tuple(tests)))
        return replace(self, ideas=tuple(out),
                       filters={"search": search or None, "measure": measure, "decision": decision})  # fmt: skip

    def spread(self) -> list[SpreadItem]:
        """What spread in the library's month: ideas a team tested for the first time, tests
        started or decided, and signals or changes that held beginning this month."""
        start, end = self.month, _month_end(self.month)

        def within(d: dt.date | None) -> bool:
            return d is not None and start <= d <= end

        out = []
        for idea in self.ideas:
            first: dict[str, dt.date] = {}
            for t in idea.tests:
                if t.do_start is not None:
                    first[t.team_code] = min(first.get(t.team_code, t.do_start), t.do_start)
            names = idea.team_names
            new = tuple(names[c] for c, d in first.items() if within(d))
            started = tuple(t for t in idea.tests if within(t.do_start))
            decided = tuple(t for t in idea.tests if t.decision and within(t.act_date))
            followed = tuple((t, f) for t in idea.tests for f in t.followed if within(f.start))
            if new or started or decided or followed:
                out.append(SpreadItem(idea, new, started, decided, followed))
        return out

    def to_frame(self):
        """One row per test and measure it watches (a test watching none: one row).

        Columns: ``idea``, ``idea_key``, ``team``, ``team_name``, ``cycle_id``, ``cycle``,
        ``do_start``, ``prediction``, ``result``, ``decision`` (:data:`DECISIONS`),
        ``act_date``, ``measure``, ``measure_name``, ``followed_by`` (``signal``, ``phase`` or
        None), ``direction`` (:data:`FOLLOW_VERDICTS` or None), ``evidence`` (words).
        """
        import pandas as pd

        rows = []
        for idea in self.ideas:
            for t in idea.tests:
                base = {"idea": idea.name, "idea_key": idea.key, "team": t.team_code,
                        "team_name": t.team_name, "cycle_id": t.cycle_id, "cycle": t.title,
                        "do_start": t.do_start, "prediction": t.prediction, "result": t.result,
                        "decision": t.decision_key, "act_date": t.act_date}  # fmt: skip
                for code, name in t.measures or ((None, None),):
                    found = [f for f in t.followed if f.measure_code == code]
                    for f in found or [None]:
                        rows.append({**base, "measure": code, "measure_name": name,
                                     "followed_by": f.kind if f else None,
                                     "direction": f.verdict if f else None,
                                     "evidence": f.text if f else None})  # fmt: skip
        columns = ["idea", "idea_key", "team", "team_name", "cycle_id", "cycle", "do_start",
                   "prediction", "result", "decision", "act_date", "measure", "measure_name",
                   "followed_by", "direction", "evidence"]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)


def signal_verdict(result: Any, event: SignalEvent) -> str:
    """Whether a signal is in the measure's better direction, read from the engine's point types
    over the signal's points: ``improvement``, ``concern`` or ``neutral``."""
    pts = result.points
    if "point_type" not in pts:
        return "neutral"
    types = {
        t for x, t in zip(pts["x"], pts["point_type"], strict=True)
        if event.start <= _as_date(x) <= event.end
    }  # fmt: skip
    if "special_cause_improvement" in types:
        return "improvement"
    if "special_cause_concern" in types:
        return "concern"
    return "neutral"


def _phase_event(change: Any) -> SignalEvent:
    way = "up" if change.after > change.before else "down" if change.after < change.before else None
    return SignalEvent("phase", change.since, change.since, way)


def _after_words(k: int, frequency: str | None) -> str:
    unit = _UNITS.get(frequency or "", "period")
    return f"in the same {unit} as the test started" if k == 0 else (
        f"{k} {unit}{'s' if k != 1 else ''} after the test started")  # fmt: skip


def _level_words(change: Any, unit: str) -> str:
    from qiwidgets.spc.reading import format_number

    verb = "rose" if change.after > change.before else "fell" if change.after < change.before \
        else "stayed"  # fmt: skip
    shown = f" {unit}" if unit and unit != "%" else unit
    judged = {True: " (better)", False: " (worse)"}.get(change.better, "")
    return f"{verb} from {format_number(change.before)} to {format_number(change.after)}{shown}{judged}"


def measure_followups(status: Any, cycles: Iterable[Any], periods: Iterable[Any],
                      frequency: str | None = "monthly") -> list[tuple[Any, FollowedBy]]:  # fmt: skip
    """``(cycle id, what followed)`` for one team's measure at its status's month.

    The signals on the measure's chart as every screen charts it (``status.view``) are linked to
    the cycles that watch the measure by :func:`~qiwidgets.workbook.pdsa.pdsa_signal_prompts`,
    the rule of the prompt on the team's page; so are the changes that held (the phases the team
    recorded, ``status.changes``).
    """
    if status.view is None:
        return []
    watching = cycles_for_measure(cycles, status.measure_id)
    periods = list(periods)
    result = status.view.result
    out = []
    for prompt in pdsa_signal_prompts(signal_events(result), watching, periods,
                                      frequency=frequency):  # fmt: skip
        ev = prompt.signal
        verdict = signal_verdict(result, ev)
        text = (f"{ev.label} from {ev.start:%b %Y}, {FOLLOW_WORDS[verdict]}, "
                f"{_after_words(prompt.periods_after, frequency)}")  # fmt: skip
        out.append((prompt.pdsa_id, FollowedBy(
            status.team_code, status.measure_code, status.measure_name, status.measure_type,
            "signal", verdict, ev.start, prompt.periods_after, text)))  # fmt: skip
    phases = [c for c in status.changes if c.phase]
    events = [_phase_event(c) for c in phases]
    by_start = {c.since: c for c in phases}
    for prompt in pdsa_signal_prompts(events, watching, periods, frequency=frequency):
        change = by_start[prompt.signal.start]
        verdict = {True: "improvement", False: "concern"}.get(change.better, "neutral")
        text = (f"a change that held from {change.since:%b %Y}: "
                f"{_level_words(change, status.unit)}, "
                f"{_after_words(prompt.periods_after, frequency)}")  # fmt: skip
        out.append((prompt.pdsa_id, FollowedBy(
            status.team_code, status.measure_code, status.measure_name, status.measure_type,
            "phase", verdict, change.since, prompt.periods_after, text)))  # fmt: skip
    return out


def _cycle_as_of(cycle: Any, end: dt.date) -> bool:
    start = _get(cycle, "do_start")
    if start is not None:
        return _as_date(start) <= end
    plan = _get(cycle, "plan_date")
    return plan is None or _as_date(plan) <= end


def team_tests(team_status: Any) -> list[tuple[str | None, TestOfChange]]:
    """A team's tests of change as of its status's month: ``(the change idea's shared name, or
    its text when it has none, test)``."""
    import pandas as pd

    records = team_status.records
    end = _month_end(team_status.month)
    cycles = [c for c in records.cycles if _cycle_as_of(c, end)]
    obs = records.observations
    followed: dict[Any, list[FollowedBy]] = collections.defaultdict(list)
    by_id = {m.id: m for m in records.measures}
    for status in team_status.measures:
        measure = by_id.get(status.measure_id)
        if len(obs):
            mine = obs[(obs["measure_id"] == status.measure_id)
                       & (pd.to_datetime(obs["period"]) <= pd.Timestamp(end))]  # fmt: skip
            periods = list(mine["period"])
        else:
            periods = []
        frequency = _get(measure, "frequency") or "monthly"
        for cid, f in measure_followups(status, cycles, periods, frequency):
            followed[cid].append(f)
    names = {s.measure_id: (s.measure_code, s.measure_name) for s in team_status.measures}
    out = []
    for c in cycles:
        cid = _get(c, "id")
        watched = [names[s.measure_id] for s in team_status.measures
                   if c in cycles_for_measure([c], s.measure_id)]  # fmt: skip
        idea = _get(c, "change_idea")
        idea_text = _get(idea, "text") if idea is not None else None
        shared_name = _get(idea, "idea_tag") if idea is not None else None
        act_date = _get(c, "act_date")
        decided = _get(c, "act") if act_date is None or _as_date(act_date) <= end else None
        study = _get(c, "study_date")
        result = _get(c, "study_result") if study is None or _as_date(study) <= end else None
        start = _get(c, "do_start")
        out.append((shared_name or idea_text, TestOfChange(
            team_status.code, team_status.name, cid, _get(c, "title") or "untitled",
            idea_text or "", _get(c, "prediction"), result, decided,
            None if start is None else _as_date(start),
            None if act_date is None or decided is None else _as_date(act_date),
            tuple(watched), tuple(followed.get(cid, ())),
        )))  # fmt: skip
    return out


def library_from(programme_status: Any) -> ChangeIdeaLibrary:
    """The change-idea library of a :class:`~qiwidgets.workbook.status.ProgrammeStatus`."""
    groups: dict[str, list[TestOfChange]] = collections.defaultdict(list)
    names: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    wordings: dict[str, set] = collections.defaultdict(set)
    unlinked = []
    measures: dict[str, str] = {}
    teams = sorted(programme_status.teams, key=lambda t: (_natural(t.name), t.code))
    for t in teams:
        for text, test in team_tests(t):
            measures.update(dict(test.measures))
            key = idea_key(text)
            if not key:
                unlinked.append(test)
                continue
            groups[key].append(test)
            names[key][str(text).strip()] += 1  # a shared name, else the idea's own words
            wordings[key].add((test.idea_text or str(text)).strip())
    ideas = []
    for key, tests in groups.items():
        counts = names[key]
        name = min(counts, key=lambda w: (-counts[w], w))
        tests.sort(key=lambda x: (_natural(x.team_name), x.team_code,
                                  x.do_start or dt.date.max, str(x.cycle_id)))  # fmt: skip
        ideas.append(ChangeIdea(key, name, tuple(sorted(wordings[key])), tuple(tests)))
    ideas.sort(key=lambda i: (_natural(i.name), i.key))
    options = tuple(sorted(measures.items(), key=lambda kv: (_natural(kv[1]), kv[0])))
    return ChangeIdeaLibrary(programme_status.month, tuple(ideas), options, tuple(unlinked))


def change_idea_library(db: Any, programme: Any = None, month: Any = None, *,
                        teams: Sequence[str] | None = None) -> ChangeIdeaLibrary:  # fmt: skip
    """The change-idea library of a programme, read from the store (the analyst API).

    >>> lib = change_idea_library("qiwidgets.db", month="2026-10")   # doctest: +SKIP
    >>> lib.to_frame().groupby(["idea", "decision"]).size()         # doctest: +SKIP
    """
    from qiwidgets.workbook.status import programme_status

    return library_from(programme_status(db, programme, month, teams=teams))


# =============================================================================================
# Bright spots with their story
# =============================================================================================


@dataclass(frozen=True)
class IdeaBehind:
    """A change idea behind a bright spot: the team's tests of it, and whether an improvement on
    the bright spot's measures followed a test (``attributed``) or the test was adopted and
    watches the measure."""

    name: str
    key: str
    tests: tuple[TestOfChange, ...]
    evidence: tuple[FollowedBy, ...]
    #: Improvements that followed its tests on the team's other measures (a process measure:
    #: the change taking hold).
    elsewhere: tuple[FollowedBy, ...] = ()

    @property
    def attributed(self) -> bool:
        return bool(self.evidence)


@dataclass(frozen=True)
class BrightSpotStory:
    """A bright spot (:data:`~qiwidgets.workbook.status.BRIGHT_SPOT_RULE`), its evidence (the
    measures' statuses: a channel draws their charts), the reflections the team shared with the
    programme (:func:`shared_learning`), and the change ideas behind it."""

    spot: Any
    reflections: tuple[Any, ...]
    ideas: tuple[IdeaBehind, ...]

    @property
    def team_code(self) -> str:
        return self.spot.team_code

    @property
    def team_name(self) -> str:
        return self.spot.team_name

    @property
    def evidence(self) -> tuple[Any, ...]:
        """The :class:`~qiwidgets.workbook.status.MeasureStatus` of each measure that makes
        the team a bright spot."""
        return self.spot.measures


def shared_learning(reflections: Iterable[Any], end: Any = None, *,
                    flags: Sequence[str] = ("bright_spot", "generalisable")) -> list[Any]:  # fmt: skip
    """The reflections a programme may show: those the team shared with the programme (the
    store's ``shared``; a reflection belongs to its team until then) and marked with one of
    ``flags`` (a bright spot, may generalise), up to ``end``, newest first."""
    last = None if end is None else _as_date(end)
    out = [r for r in reflections
           if _get(r, "shared", False) and any(_get(r, f) for f in flags)
           and (last is None or _as_date(_get(r, "date")) <= last)]  # fmt: skip
    out.sort(key=lambda r: (_as_date(_get(r, "date")), str(_get(r, "id"))), reverse=True)
    return out


def _shared_reflections(team_status: Any) -> list[Any]:
    reflections = team_status.records.reflections
    return shared_learning(reflections, _month_end(team_status.month))[:STORY_REFLECTIONS]


def bright_spot_stories(programme_status: Any, library: ChangeIdeaLibrary | None = None
                        ) -> list[BrightSpotStory]:  # fmt: skip
    """Each bright spot of the month with its story (teams by name)."""
    library = library if library is not None else library_from(programme_status)
    out = []
    for spot in programme_status.bright_spots():
        team = programme_status.team(spot.team_code)
        codes = {m.measure_code for m in spot.measures}
        ideas = []
        for idea in library.ideas:
            tests = [t for t in idea.tests if t.team_code == spot.team_code]
            evidence = tuple(f for t in tests for f in t.followed
                             if f.improved and f.measure_code in codes)  # fmt: skip
            adopted = [t for t in tests if t.decision == "adopt"
                       and codes & {c for c, _ in t.measures}]  # fmt: skip
            if evidence or adopted:
                elsewhere = tuple(f for t in tests for f in t.followed
                                  if f.improved and f.measure_code not in codes)  # fmt: skip
                ideas.append(IdeaBehind(idea.name, idea.key, tuple(tests), evidence, elsewhere))
        ideas.sort(key=lambda i: (not i.attributed, _natural(i.name)))
        out.append(BrightSpotStory(spot, tuple(_shared_reflections(team)), tuple(ideas)))
    return out


# =============================================================================================
# Learning-system health
# =============================================================================================


@dataclass(frozen=True)
class ComponentRating:
    """One component's latest rating in a check (``None`` when never rated), the rating at the
    check before, and the comment."""

    component: str
    rating: int | None
    period: dt.date | None
    comment: str | None
    previous: int | None = None
    previous_period: dt.date | None = None
    rated_by: str | None = None  # the person who saved the rating (None: nobody in particular)

    @property
    def label(self) -> str:
        return glossary.label(self.component)

    @property
    def change(self) -> int | None:
        """The rating minus the previous one (None without both)."""
        if self.rating is None or self.previous is None:
            return None
        return self.rating - self.previous

    def change_words(self) -> str:
        if self.rating is None:
            return "not rated yet"
        if self.previous is None:
            return "first check"
        if self.change == 0:
            return f"the same as in {self.previous_period:%b %Y}"
        way = "up" if self.change > 0 else "down"
        return f"{way} from {self.previous} in {self.previous_period:%b %Y}"


@dataclass(frozen=True)
class HealthView:
    """A learning-system check over time for the programme (``scope`` ``"programme"``) or a
    team (``scope`` its code): each component's latest rating, what changed since the check
    before, the component that most needs attention (:data:`HEALTH_ATTENTION_RULE`) and the
    history (one row per check, one column per component)."""

    scope: str
    name: str
    rated_by: str
    components: tuple[ComponentRating, ...]
    history: Any = field(compare=False, repr=False)
    latest_period: dt.date | None = None
    previous_period: dt.date | None = None

    @property
    def has_data(self) -> bool:
        return self.latest_period is not None

    @property
    def attention(self) -> ComponentRating | None:
        """The component that most needs attention (:data:`HEALTH_ATTENTION_RULE`)."""
        rated = [c for c in self.components if c.rating is not None]
        if not rated:
            return None
        order = {c: i for i, c in enumerate(glossary.HEALTH_COMPONENTS)}
        return min(rated, key=lambda c: (c.rating, c.change or 0, order.get(c.component, 99)))

    def changes(self) -> tuple[ComponentRating, ...]:
        """Components whose latest rating differs from the check before."""
        return tuple(c for c in self.components if c.change)

    def change_sentence(self) -> str:
        """What changed since the check before, in words."""
        if not self.has_data:
            return "No learning-system check yet."
        if self.previous_period is None:
            return f"The first check was in {self.latest_period:%B %Y}."
        moved = self.changes()
        if not moved:
            return (f"No rating changed between {self.previous_period:%b %Y} and "
                    f"{self.latest_period:%b %Y}.")  # fmt: skip
        parts = [f"{c.label} {'up' if c.change > 0 else 'down'} from {c.previous} to {c.rating}"
                 for c in moved]  # fmt: skip
        return (f"Since {self.previous_period:%b %Y}: " + "; ".join(parts) + ".")

    def attention_words(self) -> str:
        """The component that most needs attention and why: ``"Shared language (rated 2 of 5
        in Jul 2026, down from 3 in Jan 2026)"``."""
        a = self.attention
        if a is None:
            return "no component has been rated yet"
        why = f"rated {a.rating} of 5 in {a.period:%b %Y}"
        if a.change:
            why += f", {a.change_words()}"
        return f"{a.label} ({why})"

    def attention_sentence(self) -> str:
        if self.attention is None:
            return "No component has been rated yet."
        return f"{self.attention_words()} most needs attention."


def _health_rows(frame: Any, scope: str | None, end: dt.date | None):
    import pandas as pd

    if frame is None or not len(frame):
        return pd.DataFrame(columns=["team", "period", "component", "rating", "comment"])
    rows = frame[frame["team"].isna()] if scope is None else frame[frame["team"] == scope]
    if end is not None:
        rows = rows[pd.to_datetime(rows["period"]) <= pd.Timestamp(end)]
    return rows.sort_values(["period", "component"])


def _history(rows: Any):
    """One row per check (``period``), one column per component (the rating; the last one
    given for a period), as :func:`qiwidgets.workbook.health_history` lays it out (built
    without a pivot: a dashboard page opens without importing pandas' reshaping code)."""
    import pandas as pd

    by_period: dict[Any, dict[str, Any]] = {}
    for period, comp, rating in zip(rows["period"], rows["component"], rows["rating"], strict=True):
        by_period.setdefault(pd.Timestamp(period), {})[comp] = rating
    cols = list(glossary.HEALTH_COMPONENTS)
    return pd.DataFrame([{"period": p, **{c: v.get(c) for c in cols}}
                         for p, v in sorted(by_period.items())], columns=["period", *cols])  # fmt: skip


def health_view(frame: Any, team: str | None = None, name: str = "", month: Any = None
                ) -> HealthView:  # fmt: skip
    """The learning-system check of the programme (``team`` None) or of one team (its code), as
    of ``month`` (default: every check), from :func:`qiwidgets.store.repo.list_health_checks`'s
    table (``team``, ``period``, ``component``, ``rating``, ``comment``).

    ``rated_by`` says whose check it is (a team's own, or the programme's); each component's
    ``rated_by`` names the person who saved its latest rating, when someone in particular did.
    """
    import pandas as pd

    end = None if month is None else _month_end(_month_start(month))
    rows = _health_rows(frame, team, end)
    comps = []
    for comp in glossary.HEALTH_COMPONENTS:
        mine = rows[rows["component"] == comp]
        if not len(mine):
            comps.append(ComponentRating(comp, None, None, None))
            continue
        last = mine.iloc[-1]
        prev = mine.iloc[-2] if len(mine) > 1 else None
        comment = last["comment"] if isinstance(last["comment"], str) and last["comment"] else None
        person = last.get("rated_by")
        comps.append(ComponentRating(
            comp, int(last["rating"]), _as_date(pd.Timestamp(last["period"])), comment,
            None if prev is None else int(prev["rating"]),
            None if prev is None else _as_date(pd.Timestamp(prev["period"])),
            person if isinstance(person, str) and person else None,
        ))  # fmt: skip
    periods = sorted({_as_date(pd.Timestamp(p)) for p in rows["period"]})
    who = "the programme team (a programme-level check)" if team is None else (
        f"{name or team}'s team (the team's own check)")  # fmt: skip
    history = _history(rows)
    return HealthView(
        "programme" if team is None else str(team), name or ("The programme" if team is None
                                                            else str(team)), who,
        tuple(comps), history, periods[-1] if periods else None,
        periods[-2] if len(periods) > 1 else None,
    )  # fmt: skip


@dataclass(frozen=True)
class ProgrammeHealth:
    """The programme's learning-system check and each team's, as of ``month``."""

    month: dt.date | None
    programme: HealthView
    teams: tuple[HealthView, ...]

    def team(self, code: str) -> HealthView | None:
        return next((t for t in self.teams if t.scope == code), None)

    def views(self) -> tuple[HealthView, ...]:
        return (self.programme, *self.teams)

    def latest_frame(self):
        """One row per check (programme, then teams by name) and component: the latest
        rating. Columns: ``scope`` (``programme`` or the team's code), ``name``, ``component``,
        ``label``, ``rating``, ``period``, ``comment``, ``previous``, ``change``."""
        import pandas as pd

        rows = [
            {"scope": v.scope, "name": v.name, "component": c.component, "label": c.label,
             "rating": c.rating, "period": c.period, "comment": c.comment,
             "previous": c.previous, "change": c.change}
            for v in self.views() for c in v.components if c.rating is not None
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=["scope", "name", "component", "label", "rating",
                                           "period", "comment", "previous", "change"])  # fmt: skip

    def distribution(self) -> dict[str, dict[int, list[str]]]:
        """For each component, the teams (names) at each rating 1-5 at their latest check."""
        out: dict[str, dict[int, list[str]]] = {}
        for comp in glossary.HEALTH_COMPONENTS:
            levels: dict[int, list[str]] = {r: [] for r in range(5, 0, -1)}
            for v in self.teams:
                c = next((x for x in v.components if x.component == comp), None)
                if c is not None and c.rating in levels:
                    levels[c.rating].append(v.name)
            out[comp] = levels
        return out


def programme_health(frame: Any, teams: Iterable[Any], month: Any = None) -> ProgrammeHealth:
    """The programme's check and each team's (``teams``: records with ``code`` and ``name``;
    listed by name), as of ``month``."""
    chosen = sorted(teams, key=lambda t: (_natural(_get(t, "name") or ""), _get(t, "code")))
    m = None if month is None else _month_start(month)
    return ProgrammeHealth(
        m, health_view(frame, None, "The programme", m),
        tuple(health_view(frame, _get(t, "code"), _get(t, "name"), m) for t in chosen),
    )  # fmt: skip


def learning_system_health(db: Any, programme: Any = None, month: Any = None) -> ProgrammeHealth:
    """The programme's learning-system checks read from the store (the analyst API)."""
    from qiwidgets.store import repo

    prog = repo.get_programme(db, programme)
    frame = repo.list_health_checks(db, prog.id)
    return programme_health(frame, repo.list_teams(db, prog.id), month)


def team_health(db: Any, team: Any, month: Any = None, *, programme: Any = None) -> HealthView:
    """One team's learning-system check read from the store."""
    from qiwidgets.store import repo

    t = team if hasattr(team, "programme_id") else repo.get_team(db, team, programme)
    frame = repo.list_health_checks(db, t.programme_id, team=t.id)
    return health_view(frame, t.code, t.name, month)


# =============================================================================================
# A month in one paragraph
# =============================================================================================


@dataclass(frozen=True)
class MonthSummary:
    """A month in one paragraph: what changed, what is new, what needs attention, what was
    learned (each one or two sentences)."""

    month: dt.date
    changed: str
    new: str
    attention: str
    learned: str

    @property
    def parts(self) -> tuple[tuple[str, str], ...]:
        return (("What changed", self.changed), ("What is new", self.new),
                ("What needs attention", self.attention), ("What was learned", self.learned))  # fmt: skip

    @property
    def text(self) -> str:
        return " ".join(f"{label}: {text}" for label, text in self.parts)


def _first_sentence(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return text


def _quoted(text: str | None) -> str:
    text = _first_sentence(text).rstrip(".")
    return f"“{text}”" if text else ""


def team_month_summary(team_status: Any) -> MonthSummary:
    """A team's month in one paragraph, from its :class:`~qiwidgets.workbook.status.TeamStatus`."""
    from qiwidgets.workbook.status import support_reasons

    t = team_status
    month = f"{t.month:%B %Y}"
    signals = [f"{m.measure_name}: {_join(list(m.new_signals))}" for m in t.measures
               if m.new_signals]  # fmt: skip
    improving = [m.measure_name for m in t.measures if m.improving]
    if signals:
        changed = f"New signals in {month} — " + "; ".join(signals) + "."
    else:
        changed = f"No chart shows a new signal in {month}."
    if improving:
        changed += f" Improving (a signal or a change that held): {_join(improving)}."
    new = []
    if t.pdsa_started:
        new.append(_plural(len(t.pdsa_started), "PDSA cycle") + " started ("
                   + _join([_get(c, "title") for c in t.pdsa_started]) + ")")  # fmt: skip
    decided = [c for c in t.pdsa_finished if _get(c, "act")]
    for c in decided:
        new.append(f"“{_get(c, 'title')}” {DECISION_WORDS[_get(c, 'act')]}")
    if t.month_reflections:
        new.append(_plural(len(t.month_reflections), "reflection") + " recorded")
    new_text = (_join(new)[:1].upper() + _join(new)[1:] + ".") if new else (
        "No PDSA cycle started or decided and no reflection recorded this month.")  # fmt: skip
    reasons = support_reasons(t)
    rebases = [m.measure_name for m in t.measures if m.rebase is not None]
    attention = []
    if reasons:
        attention.append(_join(reasons))
    if rebases:
        attention.append("the limits of " + _join(rebases) + " are from before a change that "
                         "held: consider recalculating them")  # fmt: skip
    attention_text = (attention[0][:1].upper() + "; ".join(attention)[1:] + ".") if attention \
        else "Nothing by the programme's rules."  # fmt: skip
    refl = t.month_reflections
    if refl:
        r = refl[-1]
        said = _quoted(_get(r, "what_worked") or _get(r, "what_happened"))
        learned = f"{said}." if said else "A reflection was recorded."
        change = _quoted(_get(r, "what_should_change"))
        if change:
            learned += f" Next: {change}."
        level = _get(r, "learning_level")
        if level:
            learned += f" ({glossary.label(level)}.)"
        if _get(r, "bright_spot") and _get(r, "story"):
            learned += f" Bright spot: {_quoted(_get(r, 'story'))}."
    else:
        earlier = [r for r in t.records.reflections
                   if _as_date(_get(r, "date")) < t.month]  # fmt: skip
        learned = ("No reflection this month" + (
            f"; the latest is from {_as_date(_get(earlier[-1], 'date')):%d %b %Y}." if earlier
            else "; none recorded yet."))  # fmt: skip
    return MonthSummary(t.month, changed, new_text, attention_text, learned)


def programme_month_summary(programme_status: Any, library: ChangeIdeaLibrary | None = None,
                            health: ProgrammeHealth | None = None) -> MonthSummary:  # fmt: skip
    """The programme's month in one paragraph: signals and bright spots, what spread, teams that
    may need support and the learning-system component that most needs attention, the
    learning teams shared."""
    ps = programme_status
    month = f"{ps.month:%B %Y}"
    library = library if library is not None else library_from(ps)
    with_signals = [t for t in ps.teams if any(m.new_signals for m in t.measures)]
    n_signals = sum(len(m.new_signals) for t in ps.teams for m in t.measures)
    spots = ps.bright_spots()
    changed = (f"{_plural(n_signals, 'new signal')}, on the charts of "
               f"{_join([t.name for t in with_signals])}." if n_signals
               else f"No team's chart shows a new signal in {month}.")  # fmt: skip
    changed += (f" {_plural(len(spots), 'team is a bright spot', 'teams are bright spots')}: "
                f"{_join([s.team_name for s in spots])}." if spots
                else " No team is a bright spot.")  # fmt: skip
    spread = library.spread()
    started = sum(len(t.pdsa_started) for t in ps.teams)
    decided = sum(1 for t in ps.teams for c in t.pdsa_finished if _get(c, "act"))
    if started or decided:
        new = [f"{_plural(started, 'PDSA cycle')} started and {decided} decided across teams."]
    else:
        new = ["No PDSA cycle started or was decided this month."]
    reached = [f"{s.idea.name} reached {_join(list(s.new_teams))}." for s in spread if s.new_teams]
    if reached:
        new += reached
    elif spread:
        new.append(_plural(len(spread), "change idea") + " saw tests, decisions or signals.")
    else:
        new.append("No change idea spread to a new team.")
    support = ps.support()
    attention = [f"{_plural(len(support), 'team')} may need support: "
                 f"{_join([t.name for t, _ in support])}." if support
                 else "No team shows a reason for extra support."]  # fmt: skip
    if health is not None and health.programme.attention is not None:
        a = health.programme.attention
        attention.append(f"In the programme's learning-system check of {a.period:%B %Y}, "
                         f"{a.label.lower()} most needs attention ({a.rating} of 5).")  # fmt: skip
    end = _month_end(ps.month)
    shared = [r for t in ps.teams for r in shared_learning(t.month_reflections)]
    ever = [r for t in ps.teams
            for r in shared_learning(t.records.reflections, end, flags=("generalisable",))]
    if shared:
        learned = (f"{_plural(len(shared), 'reflection')} shared with the programme this month "
                   f"(bright spots or may generalise).")  # fmt: skip
    else:
        learned = f"No reflection was shared with the programme in {month}."
    learned += (f" Teams have shared {_plural(len(ever), 'reflection')} that may generalise so far,"
                f" and {_plural(len(library.shared()), 'change idea')} in the library were "
                "tested by two or more teams.")  # fmt: skip
    return MonthSummary(ps.month, changed, " ".join(new), " ".join(attention), learned)


__all__ = [
    "DECISIONS",
    "DECISION_WORDS",
    "FOLLOW_RULE",
    "FOLLOW_VERDICTS",
    "FOLLOW_WORDS",
    "HEALTH_ATTENTION_RULE",
    "BrightSpotStory",
    "ChangeIdea",
    "ChangeIdeaLibrary",
    "ComponentRating",
    "FollowedBy",
    "HealthView",
    "IdeaBehind",
    "MonthSummary",
    "ProgrammeHealth",
    "SpreadItem",
    "TestOfChange",
    "bright_spot_stories",
    "change_idea_library",
    "health_view",
    "idea_key",
    "learning_system_health",
    "library_from",
    "measure_followups",
    "programme_health",
    "programme_month_summary",
    "shared_learning",
    "signal_verdict",
    "team_health",
    "team_month_summary",
    "team_tests",
]
