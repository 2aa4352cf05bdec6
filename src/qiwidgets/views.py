"""The small HTML kit every channel shows a verdict with: the dashboards, the reports and the
notebook views render the core's statuses (:mod:`qiwidgets.workbook.status`) through these
functions and work nothing out themselves.

Every element that shows a verdict for a team's measure carries the status's ``data-qi-*``
attributes (:meth:`~qiwidgets.workbook.status.MeasureStatus.data_attributes`); every bright-spot
entry carries ``data-qi-bright-spot="<team code>"``. Text that came from a user is escaped;
icons are generated SVG with a text title; a chart's HTML is given by the channel (a drawn SVG
in a report, a chart the browser draws on a dashboard) and placed as it is.

One number formatter (:func:`value_text`), used for every value shown.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable
from typing import Any

from qiwidgets import glossary
from qiwidgets.spc.reading import format_number

#: Size of the Making Data Count icons on a measure's card, and in a table of teams.
CARD_ICON_SIZE = 44
TABLE_ICON_SIZE = 32
#: Colour of secondary text: NHS dark grey (#425563) on white has a contrast of 7.6:1 (WCAG AA
#: asks 4.5:1).
MUTED = "#425563"
#: Colour of a data note: a dark brown (#6b3a00) on white, 9.3:1.
NOTE = "#6b3a00"

#: How a variation and an assurance read on a card (the verdict in words; the glossary's).
VARIATION_WORDS = {
    "common_cause": "Common cause variation",
    "special_cause_improvement": "Special cause improvement",
    "special_cause_concern": "Special cause concern",
    "special_cause_neutral": "Special cause variation",
    "none": "No chart yet",
}
ASSURANCE_WORDS = {
    "pass": "Target: consistently passed",
    "fail": "Target: consistently failed",
    "hit_and_miss": "Target: hit and miss",
}


def esc(value: Any) -> str:
    """Text as HTML (quotes too, so it is safe inside an attribute)."""
    return html.escape("" if value is None else str(value), quote=True)


def attrs(pairs: dict[str, str]) -> str:
    """``' name="value" ...'`` with every value escaped."""
    return "".join(f' {name}="{esc(value)}"' for name, value in pairs.items())


def value_text(value: float | None, unit: str = "") -> str:
    """A value as every screen shows it: ``3.93 per 1,000 bed days``, ``91.6%``, ``n/a``."""
    if value is None:
        return "n/a"
    text = format_number(float(value))
    if not unit:
        return text
    return f"{text}{'' if unit == '%' else ' '}{unit}"


def icons(status: Any, size: int = CARD_ICON_SIZE) -> str:
    """The status's variation and assurance icons (generated SVG with text titles)."""
    from qiwidgets import charts

    if status.variation_icon is None:
        return ""
    return charts.icons_html(status.variation_icon, status.assurance_icon, size=size)


def verdict_words(status: Any) -> list[str]:
    """The verdict in words, as a card shows it beside the icons."""
    words = [VARIATION_WORDS.get(status.variation, status.variation)]
    if status.variation not in ("none",):
        explain = glossary.explain(status.variation)
        if explain:
            words[0] += f" — {explain}"
    if status.assurance in ASSURANCE_WORDS:
        text = ASSURANCE_WORDS[status.assurance]
        if status.assurance_caveat:
            text += f" ({status.assurance_caveat})"
        words.append(text)
    return words


def verdict_html(status: Any, size: int = CARD_ICON_SIZE) -> str:
    """Icons and the verdict in words, in an element that carries the verdict's attributes."""
    words = "<br>".join(esc(w) for w in verdict_words(status))
    return (
        f'<div class="qi-verdict"{attrs(status.data_attributes())} '
        'style="display:flex;gap:10px;align-items:center">'
        f'{icons(status, size)}<div style="font-size:90%;color:{MUTED}">{words}</div></div>'
    )


def facts(status: Any) -> list[str]:
    """Latest value, target, which way is better, the rule set: plain text pieces."""
    out = []
    if status.latest_value is not None:
        out.append(f"Latest: {value_text(status.latest_value, status.unit)} "
                   f"({status.latest_period:%b %Y})")  # fmt: skip
    if status.target is not None:
        out.append(f"target {value_text(status.target, status.unit)}")
    better = {"increase": "higher is better", "decrease": "lower is better"}.get(
        status.direction or "")  # fmt: skip
    if better:
        out.append(better)
    out.append(f"Rule set: {status.rule_set_name}")
    return out


def measure_card(status: Any, chart_html: str = "", *, heading: str = "h3",
                 extra: str = "", css_class: str = "qi-card") -> str:  # fmt: skip
    """A measure's card: name and kind, the verdict (icons and words), the facts, the chart,
    the reading, signals new this month, a suggestion to recalculate limits, the notes."""
    kind = glossary.label(status.measure_type) if status.measure_type else ""
    shared = ", shared by the programme" if status.shared else ""
    head = (
        f'<{heading} style="margin:0.6em 0 0.2em 0">{esc(status.measure_name)} '
        f'<span style="font-weight:normal;font-size:80%;color:{MUTED}">({esc(kind)}{shared})'
        f"</span></{heading}>"
    )
    parts = [head, verdict_html(status)]
    parts.append(f'<div class="qi-facts" style="margin:4px 0">{esc(" · ".join(facts(status)))}'
                 "</div>")  # fmt: skip
    parts.append(chart_html)
    parts.append(
        f'<p class="qi-reading"{attrs(status.data_attributes())}><strong>Reading '
        f"({esc(status.rule_set_name)}):</strong> {esc(status.reading)}</p>"
    )
    if status.sustained:
        parts.append(f'<p class="qi-sustained">{esc(status.sustained[:1].upper())}'
                     f"{esc(status.sustained[1:])}.</p>")  # fmt: skip
    if status.new_signals:
        items = "".join(f"<li>{esc(s)}</li>" for s in status.new_signals)
        parts.append(f'<div class="qi-new-signals"><p>Signals new in {status.month:%B %Y}:</p>'
                     f"<ul>{items}</ul></div>")  # fmt: skip
    elif status.view is not None:
        parts.append(f'<p class="qi-new-signals">No new signal in {status.month:%B %Y}.</p>')
    if status.rebase is not None:
        parts.append(f'<p class="qi-rebase" role="note" style="border-left:4px solid #005eb8;'
                     f'padding:4px 8px">{esc(status.rebase.text)}</p>')  # fmt: skip
    notes = [n for n in status.notes if status.rebase is None or n != status.rebase.text]
    if notes:
        parts.append(f'<ul class="qi-notes" style="color:{NOTE}">'
                     + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")  # fmt: skip
    parts.append(extra)
    return (f'<section class="{esc(css_class)}" data-measure="{esc(status.measure_code)}"'
            f'{attrs(status.data_attributes())}>{"".join(parts)}</section>')  # fmt: skip


def verdict_text(status: Any) -> str:
    """The verdict's name in a few words, as a table of teams shows it under the icons
    (``Special cause improvement; target: hit and miss``)."""
    words = VARIATION_WORDS.get(status.variation, status.variation)
    if status.assurance in ASSURANCE_WORDS:
        words += "; " + ASSURANCE_WORDS[status.assurance].lower()
    return words


def verdict_cell(status: Any | None) -> str:
    """A table cell's content: the icons and the verdict's name (or why there is none)."""
    if status is None:
        return "<em>not in this team's family</em>"
    if status.variation == "none":
        return f'<span class="qi-verdict"{attrs(status.data_attributes())}><em>no chart yet</em></span>'
    words = verdict_text(status)
    return (f'<span class="qi-verdict"{attrs(status.data_attributes())}>'
            f"{icons(status, TABLE_ICON_SIZE)}"
            f'<span style="display:block;font-size:80%;color:{MUTED}">{esc(words)}</span></span>')  # fmt: skip


def table(head: Iterable[str], rows: Iterable[Iterable[str]], *, css_class: str = "qi-table",
          row_attrs: Iterable[str] | None = None) -> str:  # fmt: skip
    """A table of cells that are already HTML (escape text with :func:`esc` first)."""
    th = "".join(f'<th scope="col" style="text-align:left;padding:4px 8px">{esc(h)}</th>'
                 for h in head)  # fmt: skip
    extra = list(row_attrs) if row_attrs is not None else None
    body = []
    for i, row in enumerate(rows):
        tds = "".join(f'<td style="padding:4px 8px;vertical-align:top">{c}</td>' for c in row)
        body.append(f"<tr{extra[i] if extra else ''}>{tds}</tr>")
    return (f'<table class="{esc(css_class)}" style="border-collapse:collapse">'
            f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>")  # fmt: skip


def overview_table(team_status: Any) -> str:
    """A team's family of measures, a row each: kind, latest, target, verdict, reading."""
    rows = []
    for s in team_status.measures:
        rows.append([
            esc(s.measure_name), esc(glossary.label(s.measure_type)),
            esc(value_text(s.latest_value, s.unit) if s.latest_value is not None else ""),
            esc(value_text(s.target, s.unit) if s.target is not None else "none set"),
            verdict_cell(s), f'<span{attrs(s.data_attributes())}>{esc(s.reading)}</span>',
        ])  # fmt: skip
    if not rows:
        return "<p><em>This team has no measures yet.</em></p>"
    return table(["Measure", "Kind", "Latest", "Target", "Verdict", "What the chart says"], rows,
                 css_class="qi-overview-table")  # fmt: skip


def glance_table(programme_status: Any, team_cell: Callable[[Any], str]) -> str:
    """Every team (by name, never ranked) and the verdict of each shared measure."""
    shared = programme_status.shared
    rows, row_attrs = [], []
    for t in programme_status.teams:
        score = t.score
        scored = (f"{_score(score.team_score)} / {_score(score.lead_score)}" if score is not None
                  else "not scored this month")  # fmt: skip
        cells = [team_cell(t), esc(scored)]
        cells += [verdict_cell(t.measure(m.code)) for m in shared]
        rows.append(cells)
        row_attrs.append(f' data-team="{esc(t.code)}"')
    return table(["Team", "Progress score (team / lead)", *[m.name for m in shared]], rows,
                 css_class="qi-glance", row_attrs=row_attrs)  # fmt: skip


def _score(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def bright_spots(programme_status: Any, team_cell: Callable[[Any], str]) -> str:
    """The bright spots, each with why (the rule is :data:`BRIGHT_SPOT_RULE`), and the
    changes taking hold on process measures, under their own name."""
    from qiwidgets.workbook.status import BRIGHT_SPOT_RULE, TAKING_HOLD_RULE

    spots = programme_status.bright_spots()
    by_code = {t.code: t for t in programme_status.teams}
    out = [f'<p class="qi-rule" style="font-size:90%;color:{MUTED}">{esc(BRIGHT_SPOT_RULE)}</p>']
    if spots:
        items = "".join(
            f'<li data-qi-bright-spot="{esc(b.team_code)}">{team_cell(by_code[b.team_code])}: '
            f"{esc(b.why())}</li>" for b in spots
        )  # fmt: skip
        out.append(f'<ul class="qi-bright">{items}</ul>')
    else:
        out.append(f"<p>No team is a bright spot in {programme_status.month:%B %Y}.</p>")
    hold = programme_status.changes_taking_hold()
    if hold:
        items = "".join(
            f"<li>{team_cell(t)}: " + esc("; ".join(m.measure_name for m in ms)) + "</li>"
            for t, ms in hold
        )  # fmt: skip
        out.append("<p>Changes taking hold on process measures:</p>"
                   f'<ul class="qi-taking-hold">{items}</ul>'
                   f'<p class="qi-rule" style="font-size:90%;color:{MUTED}">'
                   f"{esc(TAKING_HOLD_RULE)}</p>")  # fmt: skip
    return "".join(out)


def support(programme_status: Any, team_cell: Callable[[Any], str]) -> str:
    """Teams that may need support, with the reasons (the rule is :data:`SUPPORT_RULE`)."""
    from qiwidgets.workbook.status import SUPPORT_RULE

    rows = [[team_cell(t), esc("; ".join(r))] for t, r in programme_status.support()]
    rows += [[esc(name), esc(f"its records could not be read: {why}")]
             for name, why in programme_status.unreadable.values()]  # fmt: skip
    out = [f'<p class="qi-rule" style="font-size:90%;color:{MUTED}">{esc(SUPPORT_RULE)}</p>']
    if rows:
        out.append(table(["Team", "Why a conversation may help"], rows, css_class="qi-support"))
    else:
        out.append(f"<p>No team shows a reason for extra support in "
                   f"{programme_status.month:%B %Y}.</p>")  # fmt: skip
    return "".join(out)


# --- shared language: a term's glossary line as a tooltip, and as a footnote ----------------


def term(key: str, text: str | None = None) -> str:
    """A term shown with its glossary line as a tooltip (``<abbr title=...>``); ``text`` is
    what is shown (default: the term's label). An unknown term is plain text."""
    shown = glossary.label(key) if text is None else text
    explain = glossary.explain(key)
    if not explain:
        return esc(shown)
    return (f'<abbr class="qi-term" data-qi-term="{esc(key)}" title="{esc(explain)}" '
            f'style="text-decoration:underline dotted;cursor:help">{esc(shown)}</abbr>')  # fmt: skip


def terms_note(keys: Iterable[str], heading: str = "Words used here") -> str:
    """A footnote explaining each term (what a printed report shows instead of a tooltip)."""
    items = [(k, glossary.label(k), glossary.explain(k)) for k in dict.fromkeys(keys)]
    rows = "".join(f'<div><dt data-qi-term="{esc(k)}" style="font-weight:bold;display:inline">'
                   f'{esc(label)}:</dt> <dd style="display:inline;margin:0">{esc(text)}</dd></div>'
                   for k, label, text in items if text)  # fmt: skip
    if not rows:
        return ""
    title = f"<p style='margin:0'><strong>{esc(heading)}</strong></p>" if heading else ""
    return (f'<div class="qi-terms" style="font-size:85%;color:{MUTED};margin:6px 0">'
            f"{title}<dl style='margin:2px 0'>{rows}</dl></div>")  # fmt: skip


# --- a month in one paragraph ------------------------------------------------------------------


def month_summary(summary: Any) -> str:
    """A :class:`~qiwidgets.workbook.learning.MonthSummary` as the paragraph a report or a
    dashboard opens with."""
    parts = " ".join(f"<strong>{esc(label)}:</strong> {esc(text)}"
                     for label, text in summary.parts)  # fmt: skip
    return (f'<p class="qi-month-summary" data-qi-month="{summary.month:%Y-%m}" '
            'style="background:#f0f4f5;border-left:4px solid #005eb8;padding:8px 12px">'
            f"<strong>{esc(f'{summary.month:%B %Y}')} in one paragraph.</strong> {parts}</p>")


# --- learning-system health --------------------------------------------------------------------


def _rating(value: int | None) -> str:
    return "not rated" if value is None else f"{value} of 5"


def health_view(view: Any, *, history: bool = True) -> str:
    """A learning-system check (:class:`~qiwidgets.workbook.learning.HealthView`): who rated
    and when, the component that most needs attention, what changed since the check before,
    each component's latest rating with its comment, and (``history``) every check over time.
    No colours: the ratings are numbers and words."""
    from qiwidgets.workbook.learning import HEALTH_ATTENTION_RULE

    head = (f'<div class="qi-health" data-qi-health-scope="{esc(view.scope)}" '
            f'data-qi-health-period="{"" if view.latest_period is None else f"{view.latest_period:%Y-%m}"}">')  # fmt: skip
    if not view.has_data:
        return (head + f"<p><em>{esc(view.name)}: no learning-system check yet. Rate the seven "
                "components in the workbook (notebook 04, “Learning-system check”).</em></p>"
                "</div>")  # fmt: skip
    out = [head]
    out.append(f'<p class="qi-health-who">Rated by {esc(view.rated_by)}; latest check '
               f"{esc(f'{view.latest_period:%B %Y}')}"
               + (f", the one before {esc(f'{view.previous_period:%B %Y}')}"
                  if view.previous_period else "") + ".</p>")  # fmt: skip
    out.append(f'<p class="qi-health-attention"><strong>{term("needs_attention")}:</strong> '
               f"{esc(view.attention_words())}. {esc(view.change_sentence())}</p>")
    out.append(f'<p class="qi-rule" style="font-size:90%;color:{MUTED}">'
               f"{esc(HEALTH_ATTENTION_RULE)}</p>")  # fmt: skip
    rows, row_attrs = [], []
    for c in view.components:
        when = "" if c.period is None else f"{c.period:%b %Y}"
        rows.append([term(c.component), esc(_rating(c.rating)), esc(c.change_words()),
                     esc(f"{when}, by {c.rated_by}" if c.rated_by and when else when),
                     esc(c.comment or "")])  # fmt: skip
        row_attrs.append(f' data-qi-component="{esc(c.component)}" '
                         f'data-qi-rating="{"" if c.rating is None else c.rating}"')  # fmt: skip
    out.append(table(["Component", "Latest rating", "Since the check before", "Rated in",
                      "Comment"], rows, css_class="qi-health-latest", row_attrs=row_attrs))  # fmt: skip
    if history and view.history is not None and len(view.history):
        comps = [c for c in view.history.columns if c != "period"]
        hist = [[esc(f"{p:%b %Y}")] + ["" if r is None or math.isnan(r) else esc(int(r))
                                       for r in vals]
                for p, *vals in view.history[["period", *comps]].itertuples(index=False)]  # fmt: skip
        out.append("<p>Every check so far (ratings 1 to 5):</p>")
        out.append(table(["Check", *[glossary.label(c) for c in comps]], hist,
                         css_class="qi-health-history"))  # fmt: skip
    out.append("</div>")
    return "".join(out)


def health_overview(health: Any, team_cell: Callable[[str, str], str] | None = None) -> str:
    """Every team's latest check at a glance (by name, never ranked): when, and the component
    that most needs attention; and for each component how many teams rated it 1 to 5."""
    cell = team_cell or (lambda code, name: esc(name))
    rows = []
    for v in health.teams:
        a = v.attention
        rows.append([cell(v.scope, v.name),
                     esc("no check yet" if not v.has_data else f"{v.latest_period:%b %Y}"),
                     esc("" if a is None else f"{a.label} ({a.rating} of 5)"),
                     esc(v.change_sentence() if v.has_data else "")])  # fmt: skip
    out = [table(["Team", "Latest check", "Most needs attention", "What changed"], rows,
                 css_class="qi-health-teams")]  # fmt: skip
    dist = health.distribution()
    drows = []
    for comp, levels in dist.items():
        drows.append([term(comp)] + [esc(str(len(levels[r]))) if levels[r] else ""
                                     for r in range(5, 0, -1)])  # fmt: skip
    out.append("<p>How many teams gave each rating at their latest check:</p>")
    out.append(table(["Component", "5", "4", "3", "2", "1"], drows, css_class="qi-health-dist"))
    return "".join(out)


# --- the change-idea library -------------------------------------------------------------------


def _join_words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _plain_team(code: str, name: str) -> str:
    return esc(name)


def _counts_text(idea: Any) -> str:
    from qiwidgets.workbook.learning import DECISION_WORDS

    counts = idea.decision_counts()
    return ", ".join(f"{n} {DECISION_WORDS[d]}" for d, n in counts.items() if n)


def change_idea(idea: Any, *, heading: str = "h4",
                team_cell: Callable[[str, str], str] | None = None) -> str:  # fmt: skip
    """One change idea across teams: who tested it, each test's prediction, result and
    decision, and what followed on each measure it watches."""
    cell = team_cell or _plain_team
    counts = idea.decision_counts()
    data = "".join(f' data-qi-{d}="{n}"' for d, n in counts.items())
    out = [(f'<section class="qi-idea" data-qi-idea="{esc(idea.key)}" '
            f'data-qi-teams="{len(idea.teams)}"{data}>'),
           f'<{heading} style="margin:0.8em 0 0.2em 0">{esc(idea.name)}</{heading}>',
           f'<p class="qi-idea-summary">{esc(idea.summary())}</p>']  # fmt: skip
    others = [w for w in idea.wordings if w != idea.name]
    if others:
        out.append(f'<p style="font-size:90%;color:{MUTED}">Also written as: '
                   + "; ".join(f"“{esc(w)}”" for w in others) + "</p>")  # fmt: skip
    rows, row_attrs = [], []
    for t in idea.tests:
        followed = "<br>".join(
            f"<strong>{esc(name)}:</strong> {esc(t.followed_words(code))}"
            for code, name in t.measures
        ) or "<em>watches no measure</em>"  # fmt: skip
        rows.append([cell(t.team_code, t.team_name), esc(t.title),
                     esc("not started" if t.do_start is None else f"{t.do_start:%d %b %Y}"),
                     esc(t.prediction or "—"), esc(t.result or "not studied yet"),
                     esc(t.decision_words), followed])  # fmt: skip
        row_attrs.append(f' data-qi-team="{esc(t.team_code)}" '
                         f'data-qi-decision="{esc(t.decision_key)}"')  # fmt: skip
    out.append(table(["Team", "PDSA cycle", "Started", "Prediction", "Result", "Decision",
                      "What followed on its measures"], rows, css_class="qi-idea-tests",
                     row_attrs=row_attrs))  # fmt: skip
    out.append("</section>")
    return "".join(out)


def change_idea_library(library: Any, *, heading: str = "h4",
                        team_cell: Callable[[str, str], str] | None = None) -> str:  # fmt: skip
    """The library (:class:`~qiwidgets.workbook.learning.ChangeIdeaLibrary`): the rule that
    links a signal to a test, then each idea by name (never ranked)."""
    from qiwidgets.workbook.learning import FOLLOW_RULE

    shown = ", ".join(f"{k}: {v}" for k, v in library.filters.items() if v)
    out = [f'<div class="qi-library" data-qi-ideas="{len(library.ideas)}">',
           f'<p class="qi-rule" style="font-size:90%;color:{MUTED}">{esc(FOLLOW_RULE)}</p>']  # fmt: skip
    if not library.ideas:
        out.append("<p><em>No change idea matches"
                   + (f" ({esc(shown)})" if shown else ": no PDSA cycle is linked to a change "
                      "idea yet") + ".</em></p>")  # fmt: skip
    else:
        n_tests = sum(len(i.tests) for i in library.ideas)
        out.append(f'<p class="qi-library-count">{len(library.ideas)} change idea'
                   f"{'s' if len(library.ideas) != 1 else ''}, {n_tests} PDSA cycle"
                   f"{'s' if n_tests != 1 else ''}" + (f" ({esc(shown)})" if shown else "")
                   + ". Ideas are listed by name.</p>")  # fmt: skip
    out += [change_idea(i, heading=heading, team_cell=team_cell) for i in library.ideas]
    if library.unlinked and not library.filters:
        out.append(f'<p style="font-size:90%;color:{MUTED}">{len(library.unlinked)} PDSA cycle(s) '
                   "are linked to no change idea, so they cannot be matched across teams.</p>")  # fmt: skip
    out.append("</div>")
    return "".join(out)


def spread(library: Any) -> str:
    """What spread in the library's month: each idea a team tested for the first time, tests
    started or decided, signals or changes that held beginning this month."""
    items = library.spread()
    if not items:
        last = [(i.last_start(), i.name) for i in library.ideas if i.last_start() is not None]
        latest = max(last) if last else None
        extra = (f" The latest test began on {latest[0]:%d %b %Y} ({esc(latest[1])})."
                 if latest else "")  # fmt: skip
        return (f'<p class="qi-spread">No change idea was tested, decided or followed by a '
                f"signal in {library.month:%B %Y}.{extra}</p>")
    lis = "".join(f'<li data-qi-idea="{esc(s.idea.key)}"><strong>{esc(s.idea.name)}</strong>: '
                  + esc("; ".join(s.sentences())) + "</li>" for s in items)  # fmt: skip
    return f'<ul class="qi-spread">{lis}</ul>'


# --- bright spots with their story -------------------------------------------------------------


def bright_spot_stories(stories: Iterable[Any], team_cell: Callable[[str, str], str] | None = None,
                        chart: Callable[[Any], str] | None = None, *,
                        heading: str = "h4") -> str:  # fmt: skip
    """Each bright spot with its story: why (the one rule), the evidence (each measure's chart,
    drawn by the channel's ``chart``), the reflections the team shared and the change ideas
    behind it."""
    cell = team_cell or _plain_team
    out = []
    for s in stories:
        parts = [f'<section class="qi-story" data-qi-bright-spot="{esc(s.team_code)}">',
                 (f'<{heading} style="margin:0.8em 0 0.2em 0">{cell(s.team_code, s.team_name)}'
                  f"</{heading}>"), f"<p>{esc(s.spot.why())}.</p>"]  # fmt: skip
        if chart is not None:
            parts += [chart(m) for m in s.evidence]
        if s.ideas:
            items = []
            for i in s.ideas:
                tests = "; ".join(f"{t.title} ({t.decision_words})" for t in i.tests)
                names = _join_words([m.measure_name for m in s.evidence])
                how = ("; ".join(f.sentence() for f in i.evidence) if i.attributed else
                       f"adopted; on {names} no signal or change that held is linked to a test "
                       "of it")  # fmt: skip
                if i.elsewhere:
                    how += "; also " + "; ".join(f.sentence() for f in i.elsewhere)
                items.append(f'<li data-qi-idea="{esc(i.key)}"><strong>{esc(i.name)}</strong>: '
                             f"{esc(how)}. <span style='color:{MUTED}'>Tests: {esc(tests)}"
                             "</span></li>")  # fmt: skip
            parts.append(f"<p>The change ideas behind it:</p><ul>{''.join(items)}</ul>")
        else:
            parts.append("<p>No tested change idea is linked to these measures yet.</p>")
        if s.reflections:
            items = []
            for r in s.reflections:
                flags = [w for w, on in (("bright spot", r.bright_spot),
                                         ("may generalise", r.generalisable)) if on]  # fmt: skip
                texts = " ".join(esc(x) for x in (r.what_happened, r.what_worked, r.story) if x)
                items.append(f"<li><strong>{r.date:%d %b %Y}</strong> "
                             f"[{esc(', '.join(flags))}]: {texts}</li>")  # fmt: skip
            parts.append(f"<p>What the team shared:</p><ul>{''.join(items)}</ul>")
        else:
            parts.append("<p>The team has not shared with the programme a reflection marked "
                         "as a bright spot or as may-generalise yet.</p>")  # fmt: skip
        parts.append("</section>")
        out.append("".join(parts))
    return "".join(out) or "<p>No bright spot this month, so no story to tell yet.</p>"


__all__ = [
    "ASSURANCE_WORDS",
    "VARIATION_WORDS",
    "attrs",
    "bright_spot_stories",
    "bright_spots",
    "change_idea",
    "change_idea_library",
    "esc",
    "facts",
    "glance_table",
    "health_overview",
    "health_view",
    "icons",
    "measure_card",
    "month_summary",
    "overview_table",
    "spread",
    "support",
    "table",
    "term",
    "terms_note",
    "value_text",
    "verdict_cell",
    "verdict_html",
    "verdict_text",
    "verdict_words",
]
